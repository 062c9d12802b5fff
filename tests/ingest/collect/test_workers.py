"""`optiview serve --workers 2`: two processes, each with its own writer and caches, on one file.

Neither may make the other fail, a revocation made through either must reach both within the
promised 5 s, and /metrics must count the service rather than whichever worker answers it.

SQLite only: workers sharing one file (its locks, its TTL-bound caches) are the embedded case.
Several processes on one PostgreSQL database are nodes: test_invalidation.py (revocation
within 1 s across nodes) and tests/cluster/ cover them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN_TOKEN, Server, start_server
from tests.ingest.collect.conftest import CHROME, Site, provision_on

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SENDERS = 8
LOAD_S = 3.0
MAX_REQUESTS_PER_SENDER = 2000  # a bound on each loop, far above what LOAD_S allows
RECONNECT_EVERY = 10  # new connections now and then, so that both workers get some
NO_RATE_LIMIT = {"OPTIVIEW_RATE_LIMIT_PER_KEY": "0"}
HEADERS = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": CHROME}


def serve_two_workers(db: Path, server_kind: str, **env: str) -> Server:
    return start_server(db, "--workers", "2", "--server", server_kind, **env)


def serve_observed(factory: pytest.TempPathFactory, server_kind: str) -> Server:
    folder = factory.mktemp(f"workers-{server_kind}")
    # Our own metrics folder (serve keeps one it is given), so we can see which pid answered.
    (folder / "metrics").mkdir()
    return serve_two_workers(
        folder / "optiview.db",
        server_kind,
        **{MULTIPROC_ENV: str(folder / "metrics")},
        **NO_RATE_LIMIT,
    )


@pytest.fixture(scope="module")
def uvicorn_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = serve_observed(tmp_path_factory, "uvicorn")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hypercorn_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = serve_observed(tmp_path_factory, "hypercorn")
    yield running
    running.stop()


class FreshConnections:
    """One client per thread that keeps no connection alive: every request opens a new TCP
    connection, which the kernel may hand to either worker (like httpx.post, without building
    an SSL context per request)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[httpx.Client] = []

    def client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            limits = httpx.Limits(max_keepalive_connections=0)
            client = self._local.client = httpx.Client(timeout=10, limits=limits)
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def fresh() -> Iterator[FreshConnections]:
    connections = FreshConnections()
    yield connections
    connections.close()


def post(site: Site, body: dict[str, object], client: httpx.Client) -> httpx.Response:
    headers = {**HEADERS, "Origin": site.origin}
    return client.post(site.server.url + "/v1/events", content=orjson.dumps(body), headers=headers)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def metrics_folder(server: Server) -> Path | None:
    """The workers' prometheus folder: ours if we gave one, else read from a worker's env."""
    if MULTIPROC_ENV in server.env:
        return Path(server.env[MULTIPROC_ENV])
    for child in children(server.process.pid):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            name, _, value = entry.decode(errors="replace").partition("=")
            if name == MULTIPROC_ENV:
                return Path(value)
    return None


def answers_by_pid(server: Server, status: str | None = None) -> dict[int, float]:
    """Collector answers (of one status, or all) counted by each worker process, from its own
    metrics file."""
    folder = metrics_folder(server)
    counts: dict[int, float] = {}
    if folder is None:  # not observable here: the callers that need it gave their own folder
        return counts
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_", 1)[1])
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "optiview_collector_requests_total" and status in (None, labels["status"]):
                counts[pid] = counts.get(pid, 0) + value
    return counts


def grown(before: dict[int, float], after: dict[int, float]) -> set[int]:
    """The workers whose count went up."""
    return {pid for pid, count in after.items() if count > before.get(pid, 0)}


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(server.url + "/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize("server_kind", ["uvicorn", "hypercorn"])
def test_two_workers_share_the_file_without_5xx(server_kind: str, request: pytest.FixtureRequest):
    two_workers: Server = request.getfixturevalue(f"{server_kind}_workers")
    site = provision_on(two_workers)
    before = answers_by_pid(two_workers)
    stop = threading.Event()
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    accepted: list[str] = []
    failures: list[str] = []

    def sender(n: int) -> None:
        rng = random.Random(n)
        client = httpx.Client(timeout=10)
        try:
            for i in range(MAX_REQUESTS_PER_SENDER):
                if stop.is_set():
                    return
                if i % RECONNECT_EVERY == 0:
                    client.close()
                    client = httpx.Client(timeout=10)
                markers = [f"/w/{n}-{i}-{j}" for j in range(rng.randint(1, 20))]
                body = site.payload(*(site.pageview(m) for m in markers))
                try:
                    answer = post(site, body, client)
                except httpx.TransportError as exc:
                    with lock:
                        failures.append(repr(exc))
                    continue
                with lock:
                    statuses[answer.status_code] += 1
                    if answer.status_code == 202 and answer.json() == {"accepted": len(markers)}:
                        accepted.extend(markers)
                    else:
                        failures.append(f"{answer.status_code} {answer.text}")
        finally:
            client.close()

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_S)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    assert not any(t.is_alive() for t in threads), "a sender did not stop"

    stored = [
        row[0]
        for row in site.rows("SELECT path FROM events WHERE property_id = ?", site.property_id)
    ]
    after = answers_by_pid(two_workers)
    by_pid = {pid: after[pid] - before.get(pid, 0) for pid in after}
    print(
        f"\n{server_kind}: {sum(statuses.values())} requests {dict(statuses)},"
        f" {len(accepted)} events accepted, {len(stored)} stored; answers by worker {by_pid}"
    )
    assert sum(statuses.values()) >= 100, "too little load for the test to mean anything"
    assert not [s for s in statuses if s >= 500], failures[:3]
    assert not failures, failures[:3]
    assert sorted(stored) == sorted(accepted)
    assert len(grown({}, by_pid)) == 2, by_pid


def test_a_revocation_is_honoured_by_every_worker_within_5_s(
    uvicorn_workers: Server, fresh: FreshConnections
):
    site = provision_on(uvicorn_workers)
    # Warm both workers' caches: every new connection may land on either, so send rounds of
    # requests until both have answered some (the kernel's choice can be lopsided).
    before = answers_by_pid(uvicorn_workers)
    warm: list[int] = []
    warm_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(10):
            sent = pool.map(lambda _: post(site, site.payload(), fresh.client()), range(20))
            warm += [answer.status_code for answer in sent]
            if len(grown(before, answers_by_pid(uvicorn_workers))) == 2:
                break
    warm_s = time.monotonic() - warm_started
    assert set(warm) == {202}
    assert len(grown(before, answers_by_pid(uvicorn_workers))) == 2, "one worker served all"

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    revoked = httpx.post(
        f"{uvicorn_workers.url}/api/admin/keys/{site.key_id}/revoke", headers=headers, timeout=10
    )
    revoked_at = time.monotonic()
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"

    refused_before = answers_by_pid(uvicorn_workers, "401")
    polls: list[tuple[float, int, str]] = []
    late = 0  # polls from 5 s after the revocation on
    for _ in range(150):  # bound: about 5 s + 20 polls at 0.2 s, then a few quicker ones
        answer = post(site, site.payload(), fresh.client())
        since = time.monotonic() - revoked_at
        error = answer.json().get("error", "") if answer.status_code != 202 else ""
        polls.append((since, answer.status_code, error))
        if since >= 5.0:
            late += 1
            # 20 at least, and on until both workers have been seen refusing the key
            refusing = grown(refused_before, answers_by_pid(uvicorn_workers, "401"))
            if late >= 20 and len(refusing) == 2:
                break
        time.sleep(0.2 if late < 20 else 0.02)
    assert late >= 20, f"only {late} polls after 5 s"

    refused = [(s, e) == (401, "key_revoked") for _, s, e in polls]
    first_run_at = next(
        (polls[i][0] for i in range(len(polls) - 19) if all(refused[i : i + 20])), None
    )
    served_after = [round(t, 2) for t, s, _ in polls if s == 202]
    print(
        f"\nrevocation: first of 20 consecutive 401s {first_run_at} s after the revoke;"
        f" 202s still answered at {served_after}; {len(polls)} polls, {late} after 5 s;"
        f" warm-up {len(warm)} requests in {warm_s:.2f} s"
    )
    assert all(refused[-late:]), [p for p in polls if p[0] >= 5.0 and p[1] != 401]
    assert first_run_at is not None
    assert first_run_at <= 5.0
    # and both workers did the refusing, not just the one that handled the revocation
    refused_by = answers_by_pid(uvicorn_workers, "401")
    assert len(grown(refused_before, refused_by)) == 2, (refused_before, refused_by)
    stored = site.rows("SELECT count(*) FROM events WHERE property_id = ?", site.property_id)
    assert stored == [(len(warm) + len(served_after),)]


def test_metrics_sum_every_worker(tmp_path: Path, fresh: FreshConnections):
    server = serve_two_workers(tmp_path / "optiview.db", "uvicorn", **NO_RATE_LIMIT)
    try:
        site = provision_on(server)
        observable = metrics_folder(server) is not None  # read from a worker's /proc environ
        sizes: list[int] = []  # events per request: 1, 2 or 3

        def one(size: int) -> int:
            body = site.payload(*(site.pageview(f"/p/{j}") for j in range(size)))
            # a new connection each, so that both workers serve
            return post(site, body, fresh.client()).status_code

        # 200 requests, or more in rounds of 50 until both workers have served (at most 400)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for round_ in range(8):
                batch = [1 + i % 3 for i in range(50)]
                assert list(pool.map(one, batch)) == [202] * len(batch)
                sizes += batch
                both = len(grown({}, answers_by_pid(server))) == 2
                if round_ >= 3 and (both or not observable):
                    break
        by_pid = answers_by_pid(server)

        for _ in range(4):  # several scrapes, each answered by either worker
            samples = scrape(server)
            requests = {
                labels: value
                for (name, labels), value in samples.items()
                if name == "optiview_collector_requests_total"
            }
            events = sum(
                value for (name, _), value in samples.items() if name == "optiview_events_total"
            )
            assert requests == {(("status", "202"),): len(sizes)}, requests
            assert events == sum(sizes)
        print(f"\nmetrics: {len(sizes)} requests answered by worker {by_pid}")
        if observable:  # optional: which worker answered is only seen through /proc
            assert sum(by_pid.values()) == len(sizes)
            assert len(grown({}, by_pid)) == 2, by_pid
    finally:
        server.stop()
