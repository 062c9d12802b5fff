"""The collector's latency while the console is read in a loop (`bench_stats --console-load`).

`optiview serve` (one uvicorn worker) on a copy of bench_stats's generated database, one site
provisioned for the collector. Phase A: the collector alone under a fixed, paced wrk load.
Phase B: the same load while `--readers` clients, each signed in to the console with the admin
token, loop over the console's data pages and the read API's stats endpoints for a 30-day
range. It reports the collector's p95 in B over A (target at most 1.5x), each page's latency,
and that no event acknowledged with 202 is missing from the database.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from loadtests.bench_ratelimit import Load, finish_wrk, start_wrk
from loadtests.service import (
    ADMIN_TOKEN,
    machine,
    provision,
    running,
    service_env,
    write_wrk_sites,
)

DAY_MS = 86_400_000
CONSOLE_PAGES = ("events", "content", "journeys", "referrals", "conversions")
API_CALLS = (
    ("timeseries", "metric=events&interval=day"),
    ("breakdown", "dimension=path&metric=pageviews"),
    ("breakdown", "dimension=country&metric=events"),
    ("content", ""),
    ("journeys", ""),
    ("ai", ""),
)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Page:
    name: str
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass
class Result:
    events_in_db: int
    phase_seconds: int
    connections: int
    delay_ms: int
    readers: int
    reader_process: bool
    reader_pause_ms: int
    cache: bool
    alone: Load
    read: Load
    ratio_p95: float
    acknowledged: int
    committed: int
    reader_loops: int
    pages: list[Page] = field(default_factory=list)


def urls(project_id: str, end_ms: int) -> list[tuple[str, str]]:
    """(label, path) of every page one reader loop fetches: the 30 days before `end_ms`."""
    last = datetime.fromtimestamp((end_ms - DAY_MS) / 1000, UTC).date().isoformat()
    first = datetime.fromtimestamp((end_ms - 30 * DAY_MS) / 1000, UTC).date().isoformat()
    span = f"from={first}&to={last}"
    found = [
        (f"console {page}", f"/console/projects/{project_id}/{page}?{span}")
        for page in CONSOLE_PAGES
    ]
    for endpoint, extra in API_CALLS:
        label = f"api {endpoint}" + (f" {extra.split('&')[0].split('=')[1]}" if extra else "")
        path = f"/api/v1/projects/{project_id}/stats/{endpoint}?{span}"
        found.append((label, path + (f"&{extra}" if extra else "")))
    return found


def sign_in(client: httpx.Client) -> None:
    """The console's own form: its CSRF token and pre-session cookie, then the admin token."""
    form = client.get("/console/signin")
    form.raise_for_status()
    match = _CSRF.search(form.text)
    if match is None:
        raise SystemExit("bench: no CSRF token on the sign-in page")
    answer = client.post("/console/signin", data={"csrf_token": match[1], "token": ADMIN_TOKEN})
    if answer.status_code != 303 or "ov_session" not in client.cookies:
        raise SystemExit(f"bench: console sign-in failed: {answer.status_code}")


class Reader(threading.Thread):
    """Fetches every page in turn until stopped; records each answer's latency."""

    def __init__(
        self, url: str, pages: list[tuple[str, str]], stop: threading.Event, pause_s: float = 0.0
    ) -> None:
        super().__init__(daemon=True)
        self.pause_s = pause_s
        self.client = httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        sign_in(self.client)
        self.pages, self.stop = pages, stop
        self.times: dict[str, list[float]] = {label: [] for label, _ in pages}
        self.loops = 0
        self.failures: list[str] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for label, path in self.pages:
                    started = time.perf_counter()
                    answer = self.client.get(path)
                    self.times[label].append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        self.failures.append(f"{path}: {answer.status_code}")
                    if self.stop.wait(self.pause_s) if self.pause_s else self.stop.is_set():
                        return
                self.loops += 1
        finally:
            self.client.close()


def page_stats(readers: list[Reader]) -> list[Page]:
    pages = []
    for label in readers[0].times:
        times = sorted(t for r in readers for t in r.times[label])
        if not times:
            continue
        pages.append(
            Page(
                label,
                len(times),
                round(statistics.median(times), 1),
                round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                round(times[-1], 1),
            )
        )
    return pages


def lowest_priority(pid: int) -> None:
    """nice 19 for every thread of `pid` (Linux's priority is per thread, the readers exist)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), 19)


def count_rows(db: Path, property_id: int) -> int:
    with sqlite3.connect(db) as conn:
        sql = "SELECT count(*) FROM events WHERE property_id = ?"
        return int(conn.execute(sql, (property_id,)).fetchone()[0])


def measure(
    source: Path,
    project_id: str,
    end_ms: int,
    *,
    phase_seconds: int = 20,
    warmup: int = 3,
    connections: int = 4,
    delay_ms: int = 20,
    readers: int = 2,
    reader_process: bool = False,
    reader_pause_ms: int = 0,
    cache: bool = True,
) -> Result:
    with tempfile.TemporaryDirectory(prefix="optiview-bench-console-") as tmp:
        work = Path(tmp)
        db, sites = work / "console.db", work / "sites.txt"
        shutil.copyfile(source, db)  # the cached database stays as generated
        (events_in_db,) = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()
        # No scheduler: the generated events are months old and a retention purge would run.
        env = service_env(
            db, ["OPTIVIEW_SCHEDULER=off", *([] if cache else ["OPTIVIEW_STATS_CACHE_MS=0"])]
        )
        serve = ["--workers", "1", "--server", "uvicorn"]
        with contextlib.ExitStack() as servers:
            url, _ = servers.enter_context(running(db, env, serve, work / "serve.log"))
            read_url = url
            if reader_process:  # the same file served by a second process, for the readers only
                read_url, reading = servers.enter_context(
                    running(db, env, serve, work / "read.log")
                )
                lowest_priority(reading.pid)
            site = provision(url, 1)
            write_wrk_sites(site, sites)
            loads = [finish_wrk(start_wrk(url, sites, warmup, connections, delay_ms))]
            alone = finish_wrk(start_wrk(url, sites, phase_seconds, connections, delay_ms))
            stop = threading.Event()
            pool = [
                Reader(read_url, urls(project_id, end_ms), stop, reader_pause_ms / 1000)
                for _ in range(readers)
            ]
            for reader in pool:
                reader.start()
            time.sleep(1)  # every reader is mid-loop when the measured load starts
            read = finish_wrk(start_wrk(url, sites, phase_seconds, connections, delay_ms))
            stop.set()
            for reader in pool:
                reader.join(timeout=120)
            loads += [alone, read]
        failures = [f for r in pool for f in r.failures]
        if failures:
            raise SystemExit(f"bench: reader pages failed: {failures[:5]}")
        acknowledged = sum(load.requests - load.non_2xx for load in loads)
        committed = count_rows(db, int(site[0]["property_id"]))
    if committed < acknowledged:
        raise SystemExit(f"bench: LOSS: {acknowledged} acknowledged, {committed} stored")
    return Result(
        events_in_db=int(events_in_db),
        phase_seconds=phase_seconds,
        connections=connections,
        delay_ms=delay_ms,
        readers=readers,
        reader_process=reader_process,
        reader_pause_ms=reader_pause_ms,
        cache=cache,
        alone=alone,
        read=read,
        ratio_p95=round(read.p95_ms / alone.p95_ms, 2) if alone.p95_ms else 0.0,
        acknowledged=acknowledged,
        committed=committed,
        reader_loops=sum(r.loops for r in pool),
        pages=page_stats(pool),
    )


def markdown(result: Result) -> str:
    facts = machine()
    r = result
    where = " served by a second process (nice 19) on the same file" if r.reader_process else ""
    pace = (
        f"pausing {r.reader_pause_ms} ms after each page" if r.reader_pause_ms else "back to back"
    )
    lines = [
        f"Collector under the console's reads, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f": {r.events_in_db:,} events in the database, one uvicorn worker, wrk with"
        f" {r.connections} connections each pausing {r.delay_ms} ms after an answer,"
        f" {r.phase_seconds} s per phase; {r.readers} reader(s) looping over the console's data"
        f" pages and the read API for 30 days"
        f" ({pace},"
        f" answer cache {'on (5 s)' if r.cache else 'off: every answer computed'})"
        f"{where}. Machine: {facts['cpus']} CPUs, Python"
        f" {facts['python']}.",
        "",
        "| phase | collector req/s | p50 / p95 / p99 ms | non-2xx |",
        "|---|---|---|---|",
    ]
    for name, load in (("A: collector alone", r.alone), ("B: console read in a loop", r.read)):
        lines.append(
            f"| {name} | {load.requests_per_s:,.0f} | {load.p50_ms:.1f} / {load.p95_ms:.1f} /"
            f" {load.p99_ms:.1f} | {load.non_2xx} |"
        )
    verdict = "within" if r.ratio_p95 <= 1.5 else "OVER"
    lines += [
        "",
        f"Collector p95 B / A: **{r.ratio_p95:.2f}x** ({verdict} the 1.5x target)."
        f" Acknowledged {r.acknowledged:,}, stored {r.committed:,}."
        f" Readers completed {r.reader_loops} loops.",
        "",
        "| page (30 days) | answers | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *(f"| {p.name} | {p.count} | {p.p50_ms} | {p.p95_ms} | {p.max_ms} |" for p in r.pages),
    ]
    return "\n".join(lines) + "\n"


def as_json(result: Result) -> dict[str, Any]:
    return asdict(result)
