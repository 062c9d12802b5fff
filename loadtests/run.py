"""The load gate, one command: serve on a fresh database, provision sites, run Locust headless,
then check what partners check and what we promise.

Fails (exit 1) when p95 >= 200 ms, when any request fails other than the deliberate bad ones
(which pass only when refused with their expected status), or when any event acknowledged
with 202 is missing from the database; with --soak, also when resident memory grows by 10% or
more after the warm-up. Writes load-report.json and load-report.md (p50, p95, p99,
requests/s, failures, acknowledged against stored, memory, machine facts).

    python -m loadtests.run [--users 100] [--duration 60] [--rate 2]     # the gate
    python -m loadtests.run --soak --duration 660 --users 100           # 11-minute soak
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from loadtests.service import HERE, machine, provision, running, service_env

P95_LIMIT_MS = 200.0
MEMORY_GROWTH_LIMIT = 0.10
SOAK_MINIMUM_S = 600
WARM_UP_S = 60


@dataclass
class Stats:
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class MemorySampler:
    """Resident memory of the server and its workers, every `every_s` seconds."""

    pid: int
    every_s: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._started = time.monotonic()
        threading.Thread(target=self._loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                rss = sum(p.memory_info().rss for p in (root, *root.children(recursive=True)))
            except psutil.Error:
                return
            self.samples.append((round(time.monotonic() - self._started, 1), rss))
            self._stop.wait(self.every_s)

    def growth(self, warm_up_s: float) -> float | None:
        """From the first sample after the warm-up to the largest of the last quarter."""
        settled = [rss for t, rss in self.samples if t >= warm_up_s]
        if len(settled) < 4:
            return None
        tail = settled[-max(1, len(settled) // 4) :]
        return max(tail) / settled[0] - 1


def read_stats(prefix: Path) -> list[Stats]:
    with open(f"{prefix}_stats.csv", newline="") as table:
        return [
            Stats(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50_ms=float(row["50%"] or 0),
                p95_ms=float(row["95%"] or 0),
                p99_ms=float(row["99%"] or 0),
            )
            for row in csv.DictReader(table)
        ]


def read_failures(prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="") as table:
        return list(csv.DictReader(table))


def stored_markers(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT json_extract(props, '$.lt') FROM events WHERE props IS NOT NULL"
        ).fetchall()
    return {marker for (marker,) in rows if marker}


def markdown(report: dict[str, Any]) -> str:
    agg = report["aggregate"]
    lines = [
        f"# Load gate: {'PASS' if report['passed'] else 'FAIL'}",
        "",
        f"{report['started_at']}: {report['users']} Locust users (FastHttpUser) at"
        f" {report['rate_per_user']} requests/s each for {report['duration_s']} s against"
        f" `optiview serve --workers {report['workers']} --server {report['server']}`"
        f" on a fresh database with {report['sites']} sites.",
        "",
        "| requests | failures | requests/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        f"| {agg['requests']:,} | {agg['failures']} | {agg['rps']:,.0f} | {agg['p50_ms']:.0f} |"
        f" {agg['p95_ms']:.0f} | {agg['p99_ms']:.0f} |",
        "",
        "| request | count | failures | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["requests"]:
        lines.append(
            f"| {row['name']} | {row['requests']:,} | {row['failures']} | {row['p50_ms']:.0f} |"
            f" {row['p95_ms']:.0f} | {row['p99_ms']:.0f} |"
        )
    events = report["events"]
    lines += [
        "",
        f"Events acknowledged with 202: {events['acknowledged']:,}; found in the database:"
        f" {events['stored']:,}; missing: {events['missing']}.",
    ]
    memory = report["memory"]
    if memory["samples"]:
        growth = memory["growth"]
        shown = "n/a (run too short)" if growth is None else f"{growth:+.1%}"
        lines.append(
            f"Resident memory (server and workers): {memory['first_mib']:.0f} MiB at start,"
            f" {memory['peak_mib']:.0f} MiB peak, growth after the {WARM_UP_S} s warm-up:"
            f" {shown}."
        )
    facts = report["machine"]
    lines += [
        "",
        f"Machine: {facts['cpus']} CPUs ({facts['cpu_model']}), {facts['memory_gib']} GiB,"
        f" Python {facts['python']}, Locust {report['locust']}; load generated on the same"
        " machine.",
    ]
    if report["problems"]:
        lines += ["", "Problems:", *(f"- {p}" for p in report["problems"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spawn-rate", type=float, default=25, help="users started per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--rate", type=float, default=2.0, help="requests/s per visitor user")
    parser.add_argument("--sites", type=int, default=20, help="properties and keys to spread over")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", default="uvicorn", choices=("uvicorn", "hypercorn"))
    parser.add_argument(
        "--soak", action="store_true", help=f"at least {SOAK_MINIMUM_S} s; gate memory"
    )
    parser.add_argument("--sample-every", type=float, default=5.0, help="memory sample period, s")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    if args.soak and args.duration < SOAK_MINIMUM_S:
        parser.error(f"--soak needs --duration of at least {SOAK_MINIMUM_S} s")
    args.out.mkdir(parents=True, exist_ok=True)
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    with tempfile.TemporaryDirectory(prefix="optiview-load-") as tmp:
        work = Path(tmp)
        db = work / "load.db"
        env = service_env(db)
        serve_args = ["--workers", str(args.workers), "--server", args.server]
        with running(db, env, serve_args, log=work / "server.log") as (url, server):
            sites = provision(url, args.sites)
            (work / "sites.json").write_text(json.dumps(sites))
            sampler = MemorySampler(server.pid, args.sample_every)
            sampler.start()
            prefix = work / "locust"
            print(
                f"load: {args.users} users for {args.duration} s against {url} ...",
                file=sys.stderr, flush=True,
            )  # fmt: skip
            locust = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
                 "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                 "--run-time", f"{args.duration}s", "--host", url, "--csv", str(prefix),
                 "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
                env={**env, "OPTIVIEW_LOADTEST_SITES": str(work / "sites.json"),
                     "OPTIVIEW_LOADTEST_ACKS": str(work / "acks.txt"),
                     "OPTIVIEW_LOADTEST_RATE": str(args.rate)},
                capture_output=True, text=True, timeout=args.duration + 180,
            )  # fmt: skip
            sampler.stop()
            if not Path(f"{prefix}_stats.csv").exists():
                print(locust.stdout[-3000:], locust.stderr[-3000:], file=sys.stderr)
                raise SystemExit("load: Locust produced no statistics")
            time.sleep(1.0)  # every answer has been received; commits came before them
            acknowledged = set((work / "acks.txt").read_text().split())
            stored = stored_markers(db)
        stats = read_stats(prefix)
        failures = read_failures(prefix)

    aggregate = next(s for s in stats if s.name == "Aggregated")
    missing = acknowledged - stored
    samples = sampler.samples
    growth = sampler.growth(WARM_UP_S)
    problems = []
    if aggregate.p95_ms >= P95_LIMIT_MS:
        problems.append(f"p95 {aggregate.p95_ms:.0f} ms is not under {P95_LIMIT_MS:.0f} ms")
    if aggregate.failures:
        problems.append(
            f"{aggregate.failures} requests failed: "
            + "; ".join(f"{f['Name']}: {f['Error']} ({f['Occurrences']})" for f in failures[:5])
        )
    if missing:
        problems.append(f"{len(missing)} acknowledged events are missing from the database")
    if not acknowledged:
        problems.append("no event was acknowledged: the load did not reach the collector")
    if args.soak and (growth is None or growth >= MEMORY_GROWTH_LIMIT):
        problems.append(f"resident memory grew {growth:+.1%}" if growth is not None else
                        "too few memory samples to judge growth")  # fmt: skip
    report: dict[str, Any] = {
        "passed": not problems,
        "problems": problems,
        "started_at": started_at,
        "users": args.users,
        "rate_per_user": args.rate,
        "duration_s": args.duration,
        "sites": args.sites,
        "workers": args.workers,
        "server": args.server,
        "soak": args.soak,
        "aggregate": vars(aggregate),
        "requests": [vars(s) for s in stats if s.name != "Aggregated"],
        "events": {
            "acknowledged": len(acknowledged),
            "stored": len(stored),
            "missing": len(missing),
        },
        "memory": {
            "samples": [(t, round(rss / 2**20, 1)) for t, rss in samples],
            "first_mib": samples[0][1] / 2**20 if samples else 0,
            "peak_mib": max(rss for _, rss in samples) / 2**20 if samples else 0,
            "growth": growth,
        },
        "machine": machine(),
        "locust": metadata.version("locust"),
    }
    name = "soak-report" if args.soak else "load-report"
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (args.out / f"{name}.md").write_text(text)
    print(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
