"""The storage backends side by side, in one run: what issue 13's closing note must give.

(a) one node on SQLite against one node on PostgreSQL: the collector (`optiview serve`,
    uvicorn, one worker) loaded by wrk with single-event pageviews over `--sites` sites, as
    `loadtests/bench_collector.py` does (same script, same settings); committed events/s
    counted in the database afterwards, and p95. The target: PostgreSQL at least 80% of SQLite.
(b) three PostgreSQL nodes against one: three `optiview serve` processes on one database, one
    wrk per node with a third of the connections each, the committed events summed. On a
    2-core machine the nodes, PostgreSQL and wrk share the cores: the CPU each used during
    the run is reported (from /proc), which says what limits the ratio.
(c) the PostgreSQL commit path with 3 and 6 concurrent writers (`loadtests/bench_pg_writer`):
    committed events/s with sessions and content kept; with `--read-rollups`, each commit also
    appends its counts to the read API's rollups' pending deltas and each writer folds them
    every FOLD_EVERY_S on a connection of its own, as a node does (ingest/collect/writer.py);
    the rollups (with what is still pending) must then count every committed event.

Every acknowledged event is counted in the database afterwards; fewer stored than acknowledged
stops the run (LOSS). Each PostgreSQL run gets a fresh, migrated database, dropped afterwards.

    python -m loadtests.bench_backends [--duration 10] [--warmup 3] [--connections 32]
        [--sites 20] [--writers 3 6] [--writer-seconds 10] [--server postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.stats import batch_rollups
from ingest.stats import rollups as stats_rollups
from ingest.storage import postgres_rows
from ingest.storage.postgres_database import PostgresDatabase
from ingest.storage.sql import Conn, Location, PgConn, connect, is_postgres_url, redacted
from loadtests import bench_pg_writer
from loadtests.bench_collector import ensure_wrk, wrk
from loadtests.bench_pg_writer import Committed, Traffic, renamed, stored
from loadtests.service import (
    HERE,
    free_port,
    machine,
    provision,
    service_env,
    stop,
    wait_healthy,
    write_wrk_sites,
)

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Setup:
    label: str
    backend: str
    nodes: int
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    non_2xx: int = 0
    socket_errors: int = 0
    acknowledged: int = 0
    committed: int = 0
    committed_per_s: float = 0.0
    # core-seconds used during the measured run: the nodes, PostgreSQL's processes, wrk
    cpu_s: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    load_average: float = 0.0  # 1-minute, as the measured run started: the machine is shared


def count_events(location: Location) -> int:
    conn = connect(location, create=False)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, core-seconds) of a live process: its own and its reaped children's, so
    that PostgreSQL backends that exited count in their postmaster. None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / TICKS


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, core-seconds) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                name = (entry / "comm").read_text().strip()
                stat = _stat(int(entry.name))
                if stat is not None:
                    found[int(entry.name)] = (name, *stat)
    return found


def cpu_snapshot(node_pids: list[int]) -> dict[str, float]:
    """Core-seconds so far of the nodes (with their children) and of all postgres processes
    (other databases' work included: the machine is shared)."""
    processes = _processes()
    tree = set(node_pids)
    grew = True
    while grew:
        children = {pid for pid, (_, parent, _) in processes.items() if parent in tree}
        grew = not children <= tree
        tree |= children
    return {
        "nodes": sum(processes[p][2] for p in tree if p in processes),
        "postgresql": sum(cpu for name, _, cpu in processes.values() if name == "postgres"),
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def nodes_on(
    location: Location, count: int, work: Path, extra: list[str]
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """`count` `optiview serve` processes (uvicorn, one worker each) on one database."""
    env = service_env(Path(), extra)
    env["OPTIVIEW_DB"] = str(location)  # a path or a postgresql:// URL
    env["OPTIVIEW_SCHEDULER"] = "off"  # the load is the collector's; no purge mid-run
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for n in range(count):
            port = free_port()
            with open(work / f"node-{port}.log", "wb") as log:  # the child keeps its own copy
                process = subprocess.Popen(
                    [sys.executable, "-m", "ingest", "serve", "--port", str(port),
                     "--workers", "1", "--server", "uvicorn"],
                    cwd=HERE.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", process))
            if n == 0 and not is_postgres_url(location):
                # The first node migrates a new SQLite file; the others find it done. (A
                # PostgreSQL database is migrated once beforehand, as docs/deployment.md says.)
                wait_healthy(started[0][0], process)
        for url, process in started:
            wait_healthy(url, process)
        yield started
    finally:
        for _, process in started:
            stop(process)


def load(urls: list[str], seconds: int, connections: int, sites: Path) -> list[dict[str, Any]]:
    """One wrk per node at once, the connections shared out."""
    shares = [connections // len(urls) + (i < connections % len(urls)) for i in range(len(urls))]
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda u, c: wrk(u, seconds, c, sites), urls, shares))


def measure_setup(setup: Setup, location: Location, args: argparse.Namespace, work: Path) -> Setup:
    sites_file = work / f"sites-{setup.backend}-{setup.nodes}-{time.monotonic_ns()}.txt"
    with nodes_on(location, setup.nodes, work, args.env) as running:
        urls = [url for url, _ in running]
        write_wrk_sites(provision(urls[0], args.sites), sites_file)
        if args.warmup:
            load(urls, args.warmup, args.connections, sites_file)
        time.sleep(0.5)
        before = count_events(location)
        pids = [process.pid for _, process in running]
        cpu_before, wrk_before = cpu_snapshot(pids), children_cpu()
        setup.load_average = round(os.getloadavg()[0], 1)
        summaries = load(urls, args.duration, args.connections, sites_file)
        cpu_after, wrk_after = cpu_snapshot(pids), children_cpu()
    setup.cpu_s = {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_before}
    setup.cpu_s["wrk"] = round(wrk_after - wrk_before, 1)
    setup.seconds = max(s["duration_us"] for s in summaries) / 1e6
    requests = sum(s["requests"] for s in summaries)
    setup.requests_per_s = requests / setup.seconds
    # the slowest node's percentiles: a client behind the balancer may meet any node
    setup.p50_ms = max(s["p50_us"] for s in summaries) / 1000
    setup.p95_ms = max(s["p95_us"] for s in summaries) / 1000
    setup.p99_ms = max(s["p99_us"] for s in summaries) / 1000
    setup.non_2xx = sum(s["status_errors"] for s in summaries)
    setup.socket_errors = sum(
        s["connect_errors"] + s["read_errors"] + s["write_errors"] + s["timeouts"]
        for s in summaries
    )
    setup.acknowledged = requests - setup.non_2xx
    setup.committed = count_events(location) - before
    setup.committed_per_s = setup.committed / setup.seconds
    if setup.committed < setup.acknowledged:
        raise SystemExit(
            f"bench: LOSS in {setup.label}: {setup.acknowledged} acknowledged,"
            f" {setup.committed} stored"
        )
    return setup


@dataclass
class Written(Committed):
    folds: int = 0  # folds of the rollups' pending deltas that found the lock free


async def writer(
    url: str, groups: list[list[Any]], until: float, committed: Written, read_rollups: bool
) -> None:
    """bench_pg_writer's writer, through the storage seam: the work gets a PgConn, whose
    psycopg connection (`raw`) takes the COPY, as the collector's writer does; with
    `read_rollups`, each commit also appends its counts to the read API's rollups' pending
    deltas, last, and a task folds them every FOLD_EVERY_S on the upkeep connection, as a
    node's writer does."""

    def write(conn: Conn, group: list[Any]) -> None:
        assert isinstance(conn, PgConn)
        if not read_rollups:
            postgres_rows.write_rows(conn.raw, group)
            return
        # As ingest/collect/writer.py: the COPYs, then the upserts in one pipeline.
        postgres_rows.copy_rows(conn.raw, group)
        batch_rollups.write_rollups(conn.raw, group)
        with conn.raw.pipeline():
            postgres_rows.upsert_rows(conn.raw, group)

    async def folds() -> None:
        while (left := until - time.monotonic()) > 0:
            await asyncio.sleep(min(stats_rollups.FOLD_EVERY_S, left))  # no wait past `until`
            if time.monotonic() < until and await db.upkeep(stats_rollups.fold_pending):
                committed.folds += 1

    db = await PostgresDatabase.open(url, synchronous_commit=True)
    folding = asyncio.get_running_loop().create_task(folds()) if read_rollups else None
    try:
        n = 0
        while time.monotonic() < until:
            group = renamed(groups[n % len(groups)], n // len(groups))
            n += 1
            await db.transaction(functools.partial(write, group=group))
            committed.commits += 1
            committed.events += sum(p.count for p in group)
            committed.session_events += sum(len(p.sessions) for p in group)
            committed.views += sum(c[6] for p in group for c in p.content)
    finally:
        if folding is not None:
            await folding
        await db.close()


def rolled_up(url: str) -> tuple[int, int]:
    """Events in the read API's quarter rollup as readers count them (with the pending
    deltas), and the pending rows left."""
    conn = connect(url, create=False)
    try:
        row = conn.execute(
            f"SELECT (SELECT coalesce(sum(events), 0)"
            f" FROM {stats_rollups.table(conn, 'stats_quarters')}),"
            " (SELECT count(*) FROM stats_quarters_pending)"
        ).fetchone()
        return int(row[0]), int(row[1])
    finally:
        conn.close()


async def commit_path(
    server: str, writers: int, seconds: float, batch: int, read_rollups: bool = True
) -> dict[str, Any]:
    """N writers committing `batch`-event groups into one fresh database (bench_pg_writer's
    traffic and checks); the counters must equal what was committed."""
    traffic = [Traffic(f"w{w}", seed=w + 1) for w in range(writers)]
    groups = [[t.group(batch) for _ in range(bench_pg_writer.GROUPS_PER_WRITER)] for t in traffic]
    with bench_pg_writer.fresh_database(server) as url:
        committed = Written()
        started = time.monotonic()
        await asyncio.gather(
            *(writer(url, g, started + seconds, committed, read_rollups) for g in groups)
        )
        elapsed = time.monotonic() - started
        found = stored(url)
        in_rollups, pending = rolled_up(url)
    rollups_match = in_rollups == (committed.events if read_rollups else 0)
    return {
        "writers": writers,
        "batch": batch,
        "read_rollups": read_rollups,
        "seconds": round(elapsed, 2),
        "commits": committed.commits,
        "events": committed.events,
        "events_per_s": round(committed.events / elapsed),
        "sessions": found["sessions"],
        "pages": found["pages"],
        "folds": committed.folds,
        "pending_rows_left": pending,
        "counters_match": found["events"] == committed.events
        and found["session_events"] == committed.session_events
        and found["views"] == committed.views
        and rollups_match,
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


def markdown(
    rounds: list[list[Setup]], writers: list[dict[str, Any]], args: argparse.Namespace, facts: Any
) -> str:
    lines = [
        f"Storage backends, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:"
        f" {args.duration} s per run, {args.connections} connections in all, {args.sites}"
        f" sites, single-event pageviews, uvicorn with one worker per node. Machine:"
        f" {facts['cpus']} CPUs ({facts['cpu_model']}), Python {facts['python']}; wrk on the"
        f" same machine.",
        "",
        "| round | setup | req/s | committed events/s | p50 / p95 / p99 ms | non-2xx"
        " | core-seconds: nodes / PostgreSQL / wrk | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, setups in enumerate(rounds, 1):
        for s in setups:
            cpu = s.cpu_s
            lines.append(
                f"| {number} | {s.label} | {s.requests_per_s:,.0f} | {s.committed_per_s:,.0f} |"
                f" {s.p50_ms:.1f} / {s.p95_ms:.1f} / {s.p99_ms:.1f} | {s.non_2xx} |"
                f" {cpu['nodes']} / {cpu['postgresql']} / {cpu['wrk']}"
                f" of {facts['cpus'] * s.seconds:.0f} | {s.load_average} |"
            )
    lines.append("")
    for number, (sqlite, pg_one, pg_three) in enumerate(rounds, 1):
        pg_vs_sqlite = ratio(pg_one.committed_per_s, sqlite.committed_per_s)
        lines += [
            f"- Round {number}: PostgreSQL / SQLite, one node: committed events/s"
            f" {pg_vs_sqlite:.2f} (target at least 0.80:"
            f" {'met' if pg_vs_sqlite >= 0.8 else 'NOT met'}), p95 {pg_one.p95_ms:.1f} ms"
            f" against {sqlite.p95_ms:.1f} ms. Three PostgreSQL nodes / one: committed"
            f" events/s {ratio(pg_three.committed_per_s, pg_one.committed_per_s):.2f}, p95"
            f" {pg_three.p95_ms:.1f} ms against {pg_one.p95_ms:.1f} ms.",
        ]
    if len(rounds) > 1:
        backends = [ratio(r[1].committed_per_s, r[0].committed_per_s) for r in rounds]
        scale_out = [ratio(r[2].committed_per_s, r[1].committed_per_s) for r in rounds]
        lines.append(
            f"- Median over {len(rounds)} rounds: PostgreSQL / SQLite"
            f" {statistics.median(backends):.2f}, three nodes / one"
            f" {statistics.median(scale_out):.2f}."
        )
    lines += [
        "",
        "| writers | events/commit | read API rollups too | committed events/s | commits"
        " | counters match |",
        "|---|---|---|---|---|---|",
    ]
    for w in writers:
        lines.append(
            f"| {w['writers']} | {w['batch']} | {'yes' if w['read_rollups'] else 'no'} |"
            f" {w['events_per_s']:,} | {w['commits']:,} |"
            f" {'yes' if w['counters_match'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up (0: none)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sites", type=int, default=20, help="properties and keys to spread over")
    parser.add_argument("--rounds", type=int, default=1, help="the three setups, this often")
    parser.add_argument("--writers", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--writer-seconds", type=float, default=10.0, dest="writer_seconds")
    parser.add_argument("--batch", type=int, default=200, help="events per writer commit")
    parser.add_argument(
        "--read-rollups", choices=("with", "without", "both"), default="with",
        help="whether the writers' commits add to the read API's rollups, as a node's do",
    )  # fmt: skip
    parser.add_argument(
        "--server", default=bench_pg_writer.SERVER, help="postgresql://user@host:port"
    )
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="setting for every node, e.g. OPTIVIEW_PG_SYNCHRONOUS_COMMIT=off (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    ensure_wrk()
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine()
    rounds: list[list[Setup]] = []
    with tempfile.TemporaryDirectory(prefix="optiview-bench-") as tmp:
        work = Path(tmp)
        for number in range(args.rounds):
            setups = []
            for setup in (
                Setup("1 node, SQLite", "sqlite", 1),
                Setup("1 node, PostgreSQL", "postgres", 1),
                Setup("3 nodes, PostgreSQL", "postgres", 3),
            ):
                print(f"bench: {setup.label} ...", file=sys.stderr, flush=True)
                if setup.backend == "sqlite":
                    db = work / f"sqlite-{number}.db"
                    setups.append(measure_setup(setup, db, args, work))
                else:
                    with bench_pg_writer.fresh_database(args.server) as url:
                        setups.append(measure_setup(setup, url, args, work))
                print(f"bench:   {setups[-1]}", file=sys.stderr, flush=True)
            rounds.append(setups)
    writers = []
    kinds = {"with": [True], "without": [False], "both": [False, True]}[args.read_rollups]
    for read_rollups in kinds:
        for count in args.writers:
            print(f"bench: commit path, {count} writers ...", file=sys.stderr, flush=True)
            writers.append(
                asyncio.run(
                    commit_path(args.server, count, args.writer_seconds, args.batch, read_rollups)
                )
            )
    report = markdown(rounds, writers, args, facts)
    (args.out / "bench-backends.md").write_text(report)
    (args.out / "bench-backends.json").write_text(
        json.dumps(
            {
                "machine": facts,
                "server": redacted(args.server),
                "args": {k: str(v) for k, v in vars(args).items()},
                "rounds": [[asdict(s) for s in setups] for setups in rounds],
                "writers": writers,
            },
            indent=2,
        )
    )
    print(report)
    return 0 if all(w["counters_match"] for w in writers) else 1


if __name__ == "__main__":
    raise SystemExit(main())
