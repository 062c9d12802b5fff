"""Throughput benchmark: the collector against a bare Starlette 204 app (and, with --baseline,
against an earlier revision of the collector), same server, same run.

For each server (uvicorn, hypercorn), worker count and round, it serves the bare app and
loads it with wrk, then serves the collector on a fresh database with provisioned sites and
loads it the same way (loadtests/wrk_events.lua: pageviews, `--events-per-request` of them per
request, from the site's Origin or server to server with the key's secret). With `--baseline
REV` the collector is also served from a git worktree of REV (cwd and PYTHONPATH pointing at
it, the same venv) in every round, alternating which of the two goes first.

Reported per run and as medians over the rounds: requests/s, p50/p95/p99, committed events/s
counted in the database afterwards (fewer stored than acknowledged stops the run: LOSS), the
CPU the server's process tree used during the measured run (workers, the writer process and a
supervising master, from psutil) per request and per event, the CPU of wrk and, on
PostgreSQL, of every postgres process. Ratios to the baseline and shares of the bare rate are
taken within each round, then their median; machine noise moves absolute numbers.

    python -m loadtests.bench_collector [--servers uvicorn,hypercorn] [--workers 1,2] [--rounds 1]
        [--duration 15] [--warmup 3] [--connections 32] [--sites 20] [--baseline 4c81b57]
        [--events-per-request 1] [--auth origin|bearer] [--backend sqlite|postgres]
        [--pg-server postgresql://postgres@127.0.0.1:5432] [--env NAME=VALUE]

issue 14's gates, one worker (and the writer process) against today's code in the same run:

    python -m loadtests.bench_collector --servers uvicorn --workers 1 --rounds 3 \
        --duration 15 --baseline 4c81b57                         # 10,000 req/s, p95, CPU
    ... the same with --events-per-request 50                    # 100,000 events/s
    ... the same with --backend postgres                         # both on PostgreSQL

Writes loadtests/out/bench-collector.md and .json (or under --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingest.storage.sql import connect
from loadtests import checkout, process_cpu
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

LUA = HERE / "wrk_events.lua"
PG_SERVER = os.environ.get("OPTIVIEW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# issue 14's gates, for the current tree's medians
GATE_REQUESTS_PER_S = 10_000
GATE_P95_MS = 10.0
GATE_CPU_US_PER_REQUEST = 100.0
GATE_BATCHED_EVENTS_PER_S = 100_000
BATCHED = 50
BARE, BASELINE, CURRENT = "bare", "baseline", "current"


@dataclass
class Run:
    label: str
    kind: str  # bare, baseline or current
    server: str
    workers: int
    round: int = 1
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    non_2xx: int = 0
    socket_errors: int = 0
    seconds: float = 0.0
    acknowledged: int = 0  # events in the 2xx answers
    committed: int = 0  # events counted in the database
    committed_per_s: float = 0.0
    # core-seconds during the measured run: the server's roles, postgresql, wrk
    cpu_s: dict[str, float] = field(default_factory=dict)
    cpu_us_per_request: float = 0.0  # the server's process tree only
    cpu_us_per_event: float = 0.0
    load_average: float = 0.0  # 1-minute, as the measured run started: the machine is shared
    database: str = ""  # the PostgreSQL database's name (dropped afterwards), or the file's


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        print("bench: installing wrk (Debian package)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is required: apt-get install wrk")
    return found


def wrk(
    url: str,
    duration: int,
    connections: int,
    sites_file: Path,
    events_per_request: int = 1,
    auth: str = "origin",
) -> dict[str, Any]:
    result = subprocess.run(
        [ensure_wrk(), "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(LUA),
         url + "/v1/events"],
        env={**os.environ, "SITES_FILE": str(sites_file),
             "EVENTS_PER_REQUEST": str(events_per_request), "AUTH": auth},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"WRK_JSON (\{.*\})", result.stdout)
    if not match:
        raise SystemExit(f"bench: no summary from wrk:\n{result.stdout}\n{result.stderr}")
    summary: dict[str, Any] = json.loads(match.group(1))
    return summary


def fill(run: Run, summary: dict[str, Any], events_per_request: int) -> Run:
    run.seconds = summary["duration_us"] / 1e6
    run.requests_per_s = summary["requests"] / run.seconds
    run.p50_ms = summary["p50_us"] / 1000
    run.p95_ms = summary["p95_us"] / 1000
    run.p99_ms = summary["p99_us"] / 1000
    run.non_2xx = summary["status_errors"]
    run.socket_errors = (
        summary["connect_errors"] + summary["read_errors"] + summary["write_errors"]
        + summary["timeouts"]
    )  # fmt: skip
    run.acknowledged = (summary["requests"] - summary["status_errors"]) * events_per_request
    return run


def count_events(location: str) -> int:
    conn = connect(location, create=False)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


@contextlib.contextmanager
def database(args: argparse.Namespace, work: Path, name: str) -> Iterator[str]:
    """Where one collector run stores: a new SQLite file, or a new empty PostgreSQL database
    (the server migrates it at start, with its own tree's migrations), dropped afterwards."""
    if args.backend == "sqlite":
        yield str(work / f"{name}.db")
        return
    db = f"optiview_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{args.pg_server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        yield f"{args.pg_server}/{db}"
    finally:
        with psycopg.connect(f"{args.pg_server}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(
    run: Run, url: str, pid: int, args: argparse.Namespace, sites_file: Path
) -> dict[str, Any]:
    """The measured wrk run, with the CPU the server tree, wrk and PostgreSQL used during it."""
    postgres = args.backend == "postgres" and run.kind != BARE
    before, wrk_before = process_cpu.snapshot(pid, run.workers), children_cpu()
    pg_before = process_cpu.postgres_cpu() if postgres else 0.0
    run.load_average = round(os.getloadavg()[0], 1)
    summary = wrk(url, args.duration, args.connections, sites_file, args.events_per_request,
                  args.auth)  # fmt: skip
    run.cpu_s = process_cpu.used(before, process_cpu.snapshot(pid, run.workers))
    server_s = sum(run.cpu_s.values())
    if postgres:
        run.cpu_s["postgresql"] = round(process_cpu.postgres_cpu() - pg_before, 3)
    run.cpu_s["wrk"] = round(children_cpu() - wrk_before, 3)
    if summary["requests"]:
        run.cpu_us_per_request = round(server_s / summary["requests"] * 1e6, 1)
        run.cpu_us_per_event = round(run.cpu_us_per_request / args.events_per_request, 1)
    return summary


def bench_bare(server: str, workers: int, number: int, args: argparse.Namespace,
               work: Path) -> Run:  # fmt: skip
    sites_file = work / "sites-bare.txt"  # the bare app reads no field of the body
    sites_file.write_text("key_bare prj_bare 1 bare.example bare-secret\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bare_app", "--port", str(port),
         "--workers", str(workers), "--server", server],
        cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    run = Run("bare 204", BARE, server, workers, number)
    try:
        wait_healthy(url, process)
        if args.warmup:
            wrk(url, args.warmup, args.connections, sites_file, args.events_per_request, args.auth)
        summary = measured(run, url, process.pid, args, sites_file)
    finally:
        stop(process)
    return fill(run, summary, args.events_per_request)


def bench_collector(
    kind: str, tree: Path | None, server: str, workers: int, number: int,
    args: argparse.Namespace, work: Path,
) -> Run:  # fmt: skip
    label = "collector" if tree is None else f"baseline {args.baseline_rev}"
    name = f"{kind}-{server}-{workers}-{number}"
    sites_file = work / f"sites-{name}.txt"
    run = Run(label, kind, server, workers, number)
    with database(args, work, name) as location:
        run.database = location.rsplit("/", 1)[-1]
        env = service_env(Path(), ["OPTIVIEW_SCHEDULER=off", *args.env])
        env["OPTIVIEW_DB"] = location  # a path or a postgresql:// URL
        if tree is not None:
            env = checkout.tree_env(env, tree)
        port = free_port()
        log_path = work / f"{name}.log"
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest", "serve", "--port", str(port),
                 "--workers", str(workers), "--server", server],
                cwd=tree or HERE.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process)
            write_wrk_sites(provision(url, args.sites), sites_file)
            if args.warmup:
                wrk(url, args.warmup, args.connections, sites_file, args.events_per_request,
                    args.auth)  # fmt: skip
            time.sleep(0.5)
            before = count_events(location)
            summary = measured(run, url, process.pid, args, sites_file)
        except SystemExit as exc:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{exc}\n--- the server's log ({name}) ---\n{tail}") from exc
        finally:
            stop(process)
        fill(run, summary, args.events_per_request)
        run.committed = count_events(location) - before
    run.committed_per_s = run.committed / run.seconds
    if run.committed < run.acknowledged:
        raise SystemExit(
            f"bench: LOSS in {name}: {run.acknowledged} events acknowledged, {run.committed} stored"
        )
    return run


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(runs: list[Run]) -> list[dict[str, Any]]:
    """Per server, workers and kind: medians over the rounds, and the within-round ratios'
    medians (to the baseline and to the bare app)."""
    rows = []
    configs = dict.fromkeys((r.server, r.workers) for r in runs)
    for server, workers in configs:
        of = [r for r in runs if (r.server, r.workers) == (server, workers)]
        rounds = sorted({r.round for r in of})

        def one(kind: str, number: int, rs: list[Run] = of) -> Run | None:
            return next((r for r in rs if r.kind == kind and r.round == number), None)

        for kind in (BARE, BASELINE, CURRENT):
            mine = [r for r in of if r.kind == kind]
            if not mine:
                continue
            to_baseline, to_bare = [], []
            for number in rounds:
                me, base, bare = one(kind, number), one(BASELINE, number), one(BARE, number)
                if me is None:
                    continue
                if base is not None and base.requests_per_s:
                    to_baseline.append(me.requests_per_s / base.requests_per_s)
                if bare is not None and bare.requests_per_s:
                    to_bare.append(me.requests_per_s / bare.requests_per_s)
            roles = sorted({k for r in mine for k in r.cpu_s})
            rows.append(
                {
                    "server": server,
                    "workers": workers,
                    "kind": kind,
                    "label": mine[0].label,
                    "rounds": len(mine),
                    "requests_per_s": round(median([r.requests_per_s for r in mine])),
                    "committed_per_s": round(median([r.committed_per_s for r in mine])),
                    "p50_ms": round(median([r.p50_ms for r in mine]), 2),
                    "p95_ms": round(median([r.p95_ms for r in mine]), 2),
                    "p99_ms": round(median([r.p99_ms for r in mine]), 2),
                    "cpu_us_per_request": round(median([r.cpu_us_per_request for r in mine]), 1),
                    "cpu_us_per_event": round(median([r.cpu_us_per_event for r in mine]), 1),
                    "cpu_s": {
                        k: round(median([r.cpu_s.get(k, 0) for r in mine]), 2) for k in roles
                    },
                    "to_baseline": round(median(to_baseline), 2) if to_baseline else None,
                    "to_bare": round(median(to_bare), 2) if to_bare else None,
                    "non_2xx": sum(r.non_2xx for r in mine),
                    "socket_errors": sum(r.socket_errors for r in mine),
                }
            )
    return rows


def gates(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """issue 14's gates, judged on the current tree's medians."""
    lines = []
    for row in rows:
        if row["kind"] != CURRENT:
            continue
        where = f"{row['server']}, {row['workers']} worker(s), {args.backend}"

        def verdict(ok: bool) -> str:
            return "met" if ok else "NOT met"

        if args.events_per_request == 1:
            ok = row["committed_per_s"] >= GATE_REQUESTS_PER_S and row["p95_ms"] <= GATE_P95_MS
            lines.append(
                f"- {where}: >= {GATE_REQUESTS_PER_S:,} committed single-event requests/s at"
                f" p95 <= {GATE_P95_MS:g} ms: {row['committed_per_s']:,}/s at"
                f" {row['p95_ms']:.1f} ms, {verdict(ok)}."
            )
            cpu = row["cpu_us_per_request"]
            lines.append(
                f"- {where}: <= {GATE_CPU_US_PER_REQUEST:g} us of CPU per request: {cpu:g} us,"
                f" {verdict(cpu <= GATE_CPU_US_PER_REQUEST)}."
            )
        elif args.events_per_request == BATCHED:
            ok = row["committed_per_s"] >= GATE_BATCHED_EVENTS_PER_S
            lines.append(
                f"- {where}: >= {GATE_BATCHED_EVENTS_PER_S:,} committed events/s with"
                f" {BATCHED} events per request: {row['committed_per_s']:,}/s (p95"
                f" {row['p95_ms']:.1f} ms), {verdict(ok)}."
            )
    return lines


def cpu_text(cpu_s: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in cpu_s.items()) or "-"


def markdown(runs: list[Run], args: argparse.Namespace, facts: dict[str, Any]) -> str:
    settings = f" with {' '.join(args.env)}" if args.env else ""
    per = "single-event pageviews" if args.events_per_request == 1 else (
        f"{args.events_per_request} pageviews per request")  # fmt: skip
    baseline = f", against {args.baseline_rev} (--baseline)" if args.baseline_rev else ""
    lines = [
        f"Collector benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:"
        f" {args.rounds} round(s) of {args.duration} s per run, {args.connections} connections,"
        f" {args.sites} sites, {per} ({args.auth}), {args.backend}{settings}{baseline}."
        f" Machine: {facts['cpus']} CPUs ({facts['cpu_model']}), Python {facts['python']};"
        f" {facts['load_generator']}. Medians over the rounds; ratios taken within each round.",
        "",
        "| server | workers | served | req/s | committed events/s | p50 / p95 / p99 ms"
        " | CPU us/request | CPU us/event | / baseline | / bare | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = summarize(runs)
    for row in rows:
        committed = f"{row['committed_per_s']:,}" if row["kind"] != BARE else "-"
        lines.append(
            f"| {row['server']} | {row['workers']} | {row['label']} |"
            f" {row['requests_per_s']:,} | {committed} | {row['p50_ms']:.1f} /"
            f" {row['p95_ms']:.1f} / {row['p99_ms']:.1f} | {row['cpu_us_per_request']:g} |"
            f" {row['cpu_us_per_event']:g} |"
            f" {'-' if row['to_baseline'] is None else format(row['to_baseline'], '.2f')} |"
            f" {'-' if row['to_bare'] is None else format(row['to_bare'], '.2f')} |"
            f" {row['non_2xx']} |"
        )
    lines += [
        "",
        "Every run (core-seconds during the measured run by process; the machine's load"
        " average as it started):",
        "",
        "| round | server | workers | served | req/s | committed events/s | p95 ms"
        " | CPU us/request | core-seconds | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.round} | {r.server} | {r.workers} | {r.label} | {r.requests_per_s:,.0f} |"
            f" {'-' if r.kind == BARE else format(r.committed_per_s, ',.0f')} |"
            f" {r.p95_ms:.1f} | {r.cpu_us_per_request:g} | {cpu_text(r.cpu_s)} |"
            f" {r.load_average} |"
        )
    verdicts = gates(rows, args)
    if verdicts:
        lines += ["", "issue 14's gates (the current tree's medians):", "", *verdicts]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="uvicorn,hypercorn")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of warm-up per server (0: none)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sites", type=int, default=20, help="properties and keys to spread over")
    parser.add_argument("--rounds", type=int, default=1, help="every setup this often")
    parser.add_argument("--baseline", metavar="REV", help="also serve a git worktree of REV")
    parser.add_argument("--events-per-request", type=int, default=1, dest="events_per_request")
    parser.add_argument(
        "--auth", choices=("origin", "bearer"), default=None,
        help="origin (the tag's way; default for one event per request) or bearer (server to"
        " server with the key's secret; default for more)",
    )  # fmt: skip
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-server", default=PG_SERVER, dest="pg_server",
        help="postgresql://user@host:port where --backend postgres creates its databases",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="collector setting for this run, e.g. OPTIVIEW_WRITER=inline (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.auth is None:
        args.auth = "origin" if args.events_per_request == 1 else "bearer"
    if not 1 <= args.events_per_request <= BATCHED or args.rounds < 1:
        parser.error(f"--events-per-request must be 1 to {BATCHED}, --rounds at least 1")
    args.baseline_rev = checkout.short(args.baseline) if args.baseline else None
    ensure_wrk()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="optiview-bench-")))
        baseline = stack.enter_context(checkout.worktree(args.baseline)) if args.baseline else None
        for server in args.servers.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                for number in range(1, args.rounds + 1):
                    trees: list[tuple[str, Path | None]] = [(CURRENT, None)]
                    if baseline is not None:
                        trees.append((BASELINE, baseline))
                        if number % 2 == 0:  # alternate which one meets the machine first
                            trees.reverse()
                    where = f"{server}, {workers} worker(s), round {number}"
                    print(f"bench: {where}: bare 204 ...", file=sys.stderr)
                    runs.append(bench_bare(server, workers, number, args, work))
                    for kind, tree in trees:
                        print(f"bench: {where}: {kind} ...", file=sys.stderr)
                        runs.append(
                            bench_collector(kind, tree, server, workers, number, args, work)
                        )
                    for run in runs[-1 - len(trees) :]:
                        print(f"bench:   {run}", file=sys.stderr)
    facts = machine()
    report = markdown(runs, args, facts)
    (args.out / "bench-collector.md").write_text(report)
    (args.out / "bench-collector.json").write_text(
        json.dumps({"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                    "summary": summarize(runs), "runs": [asdict(r) for r in runs]}, indent=2)
    )  # fmt: skip
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
