"""/metrics totals are exact across two workers whose increments are batched in memory: every
answer counted once, by status and reason, every stored event by type and user-agent class,
and still so in the workers' files once the server is stopped (SIGTERM).

The counts are first read from the workers' files directly, not through /metrics (whose
rendering flushes the answering worker): what shows there was applied by each worker's
periodic flush on its own."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import Server, start_server
from tests.ingest.collect.conftest import CHROME, GPTBOT, Site, provision_on

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NO_RATE_LIMIT = {"OPTIVIEW_RATE_LIMIT_PER_KEY": "0"}
POLL_S = 5.0  # counts land at once (at worst within the 0.1 s timer): room for a busy box
BOTH_SERVE_S = 30.0  # on a loaded box the second worker may be late to take connections

Totals = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# the series this test knows the exact value of (the others, like the write histograms,
# depend on how the requests were grouped into commits)
CHECKED = (
    "optiview_collector_requests_total",
    "optiview_collector_rejections_total",
    "optiview_events_total",
    "optiview_enrich_steps_total",
    "optiview_collector_request_seconds_count",
    "optiview_cache_lookups_total",
)


def totals(samples: list[Sample]) -> Totals:
    """The checked series; the enrichment steps and cache lookups summed per step and cache
    (their results depend on the classifiers, their sum on the events and requests only)."""
    found: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for sample in samples:
        if sample.name not in CHECKED:
            continue
        if sample.name == "optiview_cache_lookups_total" and sample.labels["cache"] != "key":
            continue  # how often a domain or source is read depends on the route's order
        labels = dict(sample.labels)
        labels.pop("result", None)
        found[(sample.name, tuple(sorted(labels.items())))] += sample.value
    return {key: value for key, value in found.items() if value}


def from_files(folder: Path) -> Totals:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(folder))  # type: ignore[no-untyped-call]
    return totals([sample for family in registry.collect() for sample in family.samples])


def fresh_connections() -> httpx.Client:
    """A new connection for every request, so that either worker may answer it."""
    return httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def from_endpoint(server: Server) -> Totals:
    with fresh_connections() as client:
        text = client.get(server.url + "/metrics").text
    return totals([s for family in text_string_to_metric_families(text) for s in family.samples])


def settled(read: Callable[[], Totals], expected: Totals) -> Totals:
    deadline = time.monotonic() + POLL_S
    found = read()
    while found != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        found = read()
    return found


class Sender:
    """Sends requests of known outcomes and keeps what the metrics must then show."""

    def __init__(self, site: Site, client: httpx.Client) -> None:
        self.site = site
        self.client = client
        self.statuses: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.key_lookups = 0  # requests that got as far as looking their key up

    def post(self, body: bytes, user_agent: str, *, looks_key_up: bool) -> int:
        response = self.client.post(
            self.site.server.url + "/v1/events",
            content=body,
            headers={
                "Content-Type": "text/plain;charset=UTF-8",
                "User-Agent": user_agent,
                "Origin": self.site.origin,
            },
        )
        self.statuses[str(response.status_code)] += 1
        if response.status_code != 202:
            self.refusals[response.json()["error"]] += 1
        self.key_lookups += looks_key_up
        return response.status_code

    def events(self, *events: dict[str, Any], user_agent: str = CHROME, **overrides: Any) -> int:
        body = orjson.dumps(self.site.payload(*events, **overrides))
        return self.post(body, user_agent, looks_key_up=True)

    def preflight(self, origin: str) -> int:
        response = self.client.options(
            self.site.server.url + "/v1/events",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        if response.status_code != 204:
            self.refusals[response.json()["error"]] += 1
        return response.status_code

    def expected(self, steps: set[str]) -> Totals:
        stored = self.site.rows("SELECT type, ua_class, count(*) FROM events GROUP BY 1, 2")
        events = sum(count for _, _, count in stored)
        expected: Totals = {
            **{
                ("optiview_collector_requests_total", (("status", status),)): count
                for status, count in self.statuses.items()
            },
            **{
                ("optiview_collector_rejections_total", (("reason", reason),)): count
                for reason, count in self.refusals.items()
            },
            **{
                ("optiview_events_total", (("type", kind), ("ua_class", ua))): count
                for kind, ua, count in stored
            },
            # every stored event went through every step once; refused ones through none
            **{("optiview_enrich_steps_total", (("step", step),)): events for step in steps},
            ("optiview_collector_request_seconds_count", ()): sum(self.statuses.values()),
            ("optiview_cache_lookups_total", (("cache", "key"),)): self.key_lookups,
        }
        return expected


def send_known_mix(sender: Sender) -> None:
    site = sender.site
    page = site.pageview
    for i in range(12):
        assert sender.events(page(f"/a/{i}")) == 202
    for i in range(6):  # three events each, a crawler's
        events = (page(f"/b/{i}"), {"type": "click", "url": f"{site.origin}/b/{i}"}, page("/c"))
        assert sender.events(*events, user_agent=GPTBOT) == 202
    for _ in range(3):
        custom = {"type": "custom", "name": "signup", "url": f"{site.origin}/join"}
        assert sender.events(custom) == 202
    for _ in range(3):  # not JSON: refused before any key is looked up
        assert sender.post(b"{not json", CHROME, looks_key_up=False) == 400
    for _ in range(3):  # a key nobody issued
        assert sender.events(page(), key_id=f"k_{uuid.uuid4().hex}") == 401
    for _ in range(3):  # an event type that does not exist: refused before the key too
        body = orjson.dumps(site.payload({"type": "teleport", "url": site.origin}))
        assert sender.post(body, CHROME, looks_key_up=False) == 400
    for _ in range(3):  # a preflight from a site nobody registered: no request counted
        assert sender.preflight(f"https://nobody-{uuid.uuid4().hex[:8]}.example") != 204


def enrich_steps(folder: Path) -> set[str]:
    """The step names the workers counted (each event goes through all of them)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(folder))  # type: ignore[no-untyped-call]
    return {
        sample.labels["step"]
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "optiview_enrich_steps_total"
    }


def workers_with_answers(folder: Path) -> set[str]:
    """The workers whose own counter file counts collector answers."""
    found = set()
    for path in folder.glob("counter_*.db"):
        if not path.stat().st_size:  # a worker is creating it this instant
            continue
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == "optiview_collector_requests_total" and value:
                found.add(path.stem)
    return found


def test_totals_exact_across_two_workers_and_their_shutdown(tmp_path: Path):
    folder = tmp_path / "metrics"  # our own (serve keeps one it is given), to read it directly
    folder.mkdir()
    env = {MULTIPROC_ENV: str(folder), **NO_RATE_LIMIT}
    server = start_server(tmp_path / "optiview.db", "--workers", "2", **env)
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)  # SIGTERM
        sender = Sender(provision_on(server), stack.enter_context(fresh_connections()))
        send_known_mix(sender)
        deadline = time.monotonic() + BOTH_SERVE_S
        while len(workers_with_answers(folder)) < 2 and time.monotonic() < deadline:
            # more until both workers have served (almost always at once)
            assert sender.events(sender.site.pageview("/more")) == 202
            time.sleep(0.05)
        assert len(workers_with_answers(folder)) == 2, "one worker served everything"
        steps = enrich_steps(folder)
        assert steps, "no enrichment step counted"
        expected = sender.expected(steps)

        # applied by the workers' periodic flushes, without any /metrics request
        assert settled(lambda: from_files(folder), expected) == expected
        time.sleep(0.3)  # a few more flushes: nothing applied twice
        assert from_files(folder) == expected
        for _ in range(4):  # each scrape answered by either worker, each flushing first
            assert from_endpoint(server) == expected

        # answered just before the SIGTERM: counted by the workers' last flush if not before
        for i in range(4):
            assert sender.events(sender.site.pageview(f"/last/{i}")) == 202
    # (the stack's exit stopped the server: each worker drained, flushed, marked itself done)
    assert server.process.returncode is not None
    # the finished workers' counts stay in the folder, once: the next server to use it (its
    # /metrics sums every file there) shows them
    assert from_files(folder) == sender.expected(steps)
