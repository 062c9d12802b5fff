"""Does a purge stall ingestion? The collector's latency with and without a purge running.

One server on a fresh database with provisioned sites and `--expired` events already past
every plan's retention. wrk loads the collector once with no purge (baseline), then again
while `python -m purge run` deletes the expired rows from another process, the way cron
runs it. Reports both p50/p95/p99, their ratio, and the purge's rows and time.

    python -m loadtests.bench_purge [--expired 1200000] [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtests.bench_collector import to_run, wrk
from loadtests.service import (
    HERE,
    free_port,
    provision,
    service_env,
    stop,
    wait_healthy,
    write_wrk_sites,
)

DAY_MS = 86_400_000


def fill_expired(db: Path, count: int, now_ms: int) -> None:
    """Events 400 days old (past every plan's retention), spread over the sites' properties."""
    with sqlite3.connect(db, timeout=30) as conn:
        props = conn.execute("SELECT id, project_id FROM properties").fetchall()
        old = now_ms - 400 * DAY_MS
        batch = 50_000
        for start in range(0, count, batch):
            rows = [
                (props[i % len(props)][0], props[i % len(props)][1], "key_bench", "pageview",
                 f"/old/{i % 500}", "human", old + i, old + i)
                for i in range(start, min(start + batch, count))
            ]  # fmt: skip
            conn.executemany(
                "INSERT INTO events (property_id, project_id, key_id, type, path, ua_class, ts,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--expired", type=int, default=1_200_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=2000, help="purge rows per transaction")
    parser.add_argument("--pace", type=float, default=1.0, help="purge rest per unit of work")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="optiview-bench-purge-") as tmp:
        work = Path(tmp)
        db, sites = work / "purge.db", work / "sites.txt"
        env = service_env(db, ["OPTIVIEW_SCHEDULER=off"])
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "ingest", "serve", "--port", str(port),
             "--workers", str(args.workers)],
            cwd=HERE.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_healthy(url, server)
            write_wrk_sites(provision(url, args.sites), sites)
            now_ms = int(time.time() * 1000)
            print(f"bench: inserting {args.expired:,} expired events ...", file=sys.stderr)
            fill_expired(db, args.expired, now_ms)
            wrk(url, 3, args.connections, sites)  # warm-up
            print("bench: baseline (no purge) ...", file=sys.stderr)
            baseline = to_run(
                "no purge",
                "uvicorn",
                args.workers,
                wrk(url, args.duration, args.connections, sites),
            )
            print("bench: during the purge ...", file=sys.stderr)
            started = time.monotonic()
            purge = subprocess.Popen(
                [sys.executable, "-m", "purge", "run", "--chunk", str(args.chunk),
                 "--pace", str(args.pace)],
                cwd=HERE.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            time.sleep(0.5)  # the purge is under way before the load starts
            during = to_run(
                "purge running",
                "uvicorn",
                args.workers,
                wrk(url, args.duration, args.connections, sites),
            )
            load_ended = time.monotonic() - started
            _, err = purge.communicate(timeout=600)
            purge_s = time.monotonic() - started
            if purge.returncode != 0:
                raise SystemExit(f"bench: the purge failed:\n{err}")
            with sqlite3.connect(db) as conn:
                deleted = conn.execute(
                    "SELECT coalesce(sum(rows_deleted), 0) FROM purge_log"
                    " WHERE table_name = 'events'"
                ).fetchone()[0]
                left = conn.execute(
                    "SELECT count(*) FROM events WHERE received_at < ?", (now_ms - 365 * DAY_MS,)
                ).fetchone()[0]
        finally:
            stop(server)
    overlap = min(load_ended, purge_s) - 0.5
    result = {
        "expired_rows": args.expired,
        "rows_deleted": deleted,
        "expired_left": left,
        "purge_seconds": round(purge_s, 1),
        "load_seconds_overlapping_the_purge": round(max(overlap, 0), 1),
        "chunk": args.chunk,
        "baseline": vars(baseline),
        "during_purge": vars(during),
        "p95_ratio": round(during.p95_ms / baseline.p95_ms, 2),
        "p99_ratio": round(during.p99_ms / baseline.p99_ms, 2),
    }
    (args.out / "bench-purge.json").write_text(json.dumps(result, indent=2))
    report = (
        f"Purge of {deleted:,} expired events ({purge_s:.1f} s, chunks of {args.chunk},"
        f" pace {args.pace:g}) under"
        f" collector load ({args.connections} connections, {args.workers} worker(s);"
        f" {result['load_seconds_overlapping_the_purge']} s of the load overlapped it):\n\n"
        "| phase | req/s | p50 ms | p95 ms | p99 ms | non-2xx |\n|---|---|---|---|---|---|\n"
        + "".join(
            f"| {run.label} | {run.requests_per_s:,.0f} | {run.p50_ms:.1f} | {run.p95_ms:.1f} |"
            f" {run.p99_ms:.1f} | {run.non_2xx} |\n"
            for run in (baseline, during)
        )
        + f"\np95 during the purge / without: {result['p95_ratio']}x (target: at most 2x)\n"
    )
    (args.out / "bench-purge.md").write_text(report)
    print(report)
    return 0 if left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
