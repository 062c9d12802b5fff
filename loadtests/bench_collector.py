"""Throughput benchmark: the collector against a bare Starlette 204 app, same server, same run.

For each server (uvicorn, hypercorn) and worker count, it serves the bare app, loads it with
wrk, then serves the collector on a fresh database with provisioned sites and loads it the same
way with single-event pageviews. It reports requests/s, p50/p95/p99, the collector's share of
the bare rate, and committed events/s counted in the database afterwards (never fewer than
the 202s received). Machine noise moves absolute numbers; read the ratios.

    python -m loadtests.bench_collector [--servers uvicorn,hypercorn] [--workers 1,2]
        [--duration 15] [--connections 32] [--sites 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class Run:
    label: str
    server: str
    workers: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    acknowledged: int = 0
    committed: int = 0
    committed_per_s: float = 0.0


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


def wrk(url: str, duration: int, connections: int, sites_file: Path) -> dict[str, Any]:
    result = subprocess.run(
        [ensure_wrk(), "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(LUA),
         url + "/v1/events"],
        env={**os.environ, "SITES_FILE": str(sites_file)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"WRK_JSON (\{.*\})", result.stdout)
    if not match:
        raise SystemExit(f"bench: no summary from wrk:\n{result.stdout}\n{result.stderr}")
    summary: dict[str, Any] = json.loads(match.group(1))
    return summary


def to_run(label: str, server: str, workers: int, summary: dict[str, Any]) -> Run:
    seconds = summary["duration_us"] / 1e6
    return Run(
        label=label,
        server=server,
        workers=workers,
        requests_per_s=summary["requests"] / seconds,
        p50_ms=summary["p50_us"] / 1000,
        p95_ms=summary["p95_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        non_2xx=summary["status_errors"],
        socket_errors=summary["connect_errors"] + summary["read_errors"]
        + summary["write_errors"] + summary["timeouts"],
    )  # fmt: skip


def count_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def bench_bare(server: str, workers: int, args: argparse.Namespace, sites_file: Path) -> Run:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bare_app", "--port", str(port),
         "--workers", str(workers), "--server", server],
        cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        wrk(url, args.warmup, args.connections, sites_file)
        return to_run(
            "bare 204", server, workers, wrk(url, args.duration, args.connections, sites_file)
        )
    finally:
        stop(process)


def bench_collector(
    server: str, workers: int, args: argparse.Namespace, work: Path
) -> tuple[Run, Path]:
    db = work / f"collector-{server}-{workers}.db"
    sites_file = work / f"sites-{server}-{workers}.txt"
    port = free_port()
    log = open(work / f"collector-{server}-{workers}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "serve", "--port", str(port),
         "--workers", str(workers), "--server", server],
        cwd=HERE.parent, env=service_env(db, args.env), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        write_wrk_sites(provision(url, args.sites), sites_file)
        wrk(url, args.warmup, args.connections, sites_file)
        time.sleep(0.5)
        before = count_events(db)
        summary = wrk(url, args.duration, args.connections, sites_file)
    finally:
        stop(process)
        log.close()
    run = to_run("collector", server, workers, summary)
    run.acknowledged = summary["requests"] - summary["status_errors"]
    run.committed = count_events(db) - before
    run.committed_per_s = run.committed / (summary["duration_us"] / 1e6)
    if run.committed < run.acknowledged:
        raise SystemExit(f"bench: LOSS: {run.acknowledged} acknowledged, {run.committed} stored")
    return run, sites_file


def markdown(runs: list[Run], args: argparse.Namespace, facts: dict[str, Any]) -> str:
    settings = f" with {' '.join(args.env)}" if args.env else ""
    lines = [
        f"Collector benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{args.duration} s per run, {args.connections} connections, {args.sites} sites, "
        f"single-event pageviews{settings}. Machine: {facts['cpus']} CPUs"
        f" ({facts['cpu_model']}), "
        f"Python {facts['python']}; {facts['load_generator']}.",
        "",
        "| server | workers | bare 204 req/s | collector req/s | share of bare"
        " | committed events/s | collector p50 / p95 / p99 ms | bare p95 ms | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    pairs = [(runs[i], runs[i + 1]) for i in range(0, len(runs), 2)]
    for bare, coll in pairs:
        lines.append(
            f"| {coll.server} | {coll.workers} | {bare.requests_per_s:,.0f} |"
            f" {coll.requests_per_s:,.0f} | {coll.requests_per_s / bare.requests_per_s:.0%} |"
            f" {coll.committed_per_s:,.0f} | {coll.p50_ms:.1f} / {coll.p95_ms:.1f} /"
            f" {coll.p99_ms:.1f} | {bare.p95_ms:.1f} | {coll.non_2xx} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="uvicorn,hypercorn")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sites", type=int, default=20, help="properties and keys to spread over")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="collector setting for this run, e.g. OPTIVIEW_FLUSH_INTERVAL_MS=0 (repeatable)",
    )
    args = parser.parse_args(argv)
    ensure_wrk()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="optiview-bench-") as tmp:
        work = Path(tmp)
        for server in args.servers.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                print(f"bench: {server}, {workers} worker(s): collector ...", file=sys.stderr)
                collector, sites_file = bench_collector(server, workers, args, work)
                print(f"bench: {server}, {workers} worker(s): bare 204 ...", file=sys.stderr)
                runs += [bench_bare(server, workers, args, sites_file), collector]
                print(f"bench:   {runs[-2]}\nbench:   {runs[-1]}", file=sys.stderr)
    facts = machine()
    report = markdown(runs, args, facts)
    (args.out / "bench-collector.md").write_text(report)
    (args.out / "bench-collector.json").write_text(
        json.dumps({"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                    "runs": [asdict(r) for r in runs]}, indent=2)
    )  # fmt: skip
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
