"""Rate-limit isolation: one key flooding far over its limit, another key at a steady rate,
on one server in one run.

It serves the collector on a fresh database with a per-key limit, provisions a victim site,
a flood site and some spread sites, then measures in turn:

1. the victim alone: a few wrk connections paced to a moderate rate, latency per request;
2. the same victim load while wrk floods the flood key with many connections paced to a fixed
   rate far over its limit (mostly 429);
3. the flood alone, as fast as the server answers (server CPU and answers counted: the cost of
   a 429);
4. wrk over the spread sites, each under its limit, as fast as the server answers (the cost of
   a 202).

It reports the victim's p95 alone and under the flood, the flood's 429 rate, and the server
CPU time (all its processes, from /proc) per 429 and per 202, solved from phases 3 and 4 by
the answers /metrics counted in each. Machine noise moves absolute numbers; read the ratios.

    python -m loadtests.bench_ratelimit [--duration 12] [--victim-rate 100] [--limit 500]
        [--flood-rate 3400] [--flood-connections 64] [--server uvicorn] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtests.bench_collector import LUA, ensure_wrk
from loadtests.service import (
    HERE,
    machine,
    provision,
    running,
    service_env,
    write_wrk_sites,
)

VICTIM_CONNECTIONS = 2
LEAD_S = 1  # the flood runs this long before the victim is measured, to empty its bucket
SETTLE_S = 0.3  # after a phase, for the last group commit to land in the CPU count
_STATUS = re.compile(r'^optiview_collector_requests_total\{status="(\d+)"\} (\S+)$', re.M)


@dataclass
class Load:
    """What wrk saw."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


@dataclass
class Phase:
    name: str
    seconds: float
    cpu_s: float  # server CPU time, user + system, all its processes
    answers: dict[str, int]  # by HTTP status, counted by the server
    victim: Load | None = None
    flood: Load | None = None
    spread: Load | None = None


@dataclass
class Costs:
    cpu_us_per_202: float
    cpu_us_per_429: float
    ratio: float
    notes: list[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and every process below it (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, total = {pid}, 0.0
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


def answers(url: str) -> dict[str, int]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {status: int(float(value)) for status, value in _STATUS.findall(text)}


def start_wrk(
    url: str, sites_file: Path, seconds: int, connections: int, delay_ms: float | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "SITES_FILE": str(sites_file)}
    if delay_ms is not None:
        env["DELAY_MS"] = f"{delay_ms:.0f}"
    return subprocess.Popen(
        [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(LUA), url + "/v1/events"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish_wrk(process: subprocess.Popen[str]) -> Load:
    stdout, stderr = process.communicate(timeout=600)
    match = re.search(r"WRK_JSON (\{.*\})", stdout)
    if process.returncode != 0 or not match:
        raise SystemExit(f"bench: no summary from wrk:\n{stdout}\n{stderr}")
    s: dict[str, Any] = json.loads(match.group(1))
    return Load(
        requests=s["requests"],
        requests_per_s=s["requests"] / (s["duration_us"] / 1e6),
        p50_ms=s["p50_us"] / 1000,
        p95_ms=s["p95_us"] / 1000,
        p99_ms=s["p99_us"] / 1000,
        non_2xx=s["status_errors"],
        socket_errors=s["connect_errors"] + s["read_errors"] + s["write_errors"] + s["timeouts"],
    )


class Bench:
    def __init__(self, url: str, pid: int, args: argparse.Namespace, work: Path) -> None:
        self.url, self.pid, self.args = url, pid, args
        sites = provision(url, 2 + args.sites)
        self.victim, self.flood, self.spread = (work / n for n in ("victim", "flood", "spread"))
        write_wrk_sites(sites[:1], self.victim)
        write_wrk_sites(sites[1:2], self.flood)
        write_wrk_sites(sites[2:], self.spread)

    def victim_load(self, seconds: int) -> subprocess.Popen[str]:
        delay_ms = 1000 * VICTIM_CONNECTIONS / self.args.victim_rate
        return start_wrk(self.url, self.victim, seconds, VICTIM_CONNECTIONS, delay_ms)

    def flood_load(self, seconds: int) -> subprocess.Popen[str]:
        """The flood at its fixed rate, as in the reported incident (about 3,400/s)."""
        delay_ms = 1000 * self.args.flood_connections / self.args.flood_rate
        return start_wrk(self.url, self.flood, seconds, self.args.flood_connections, delay_ms)

    def saturating_flood_load(self, seconds: int) -> subprocess.Popen[str]:
        return start_wrk(self.url, self.flood, seconds, self.args.flood_connections)

    def spread_load(self, seconds: int) -> subprocess.Popen[str]:
        return start_wrk(self.url, self.spread, seconds, self.args.connections)

    def phase(self, name: str, **plan: tuple[int, int]) -> Phase:
        """Run the named loads, each (start after s, for s), and count what the server did."""
        before, cpu_before, started = answers(self.url), cpu_seconds(self.pid), time.monotonic()
        starters = {
            "victim": self.victim_load,
            "flood": self.flood_load,
            "saturating_flood": self.saturating_flood_load,
            "spread": self.spread_load,
        }
        running_loads: dict[str, subprocess.Popen[str]] = {}
        for load, (after_s, seconds) in sorted(plan.items(), key=lambda item: item[1][0]):
            time.sleep(max(0.0, started + after_s - time.monotonic()))
            running_loads[load] = starters[load](seconds)
        results = {load.removeprefix("saturating_"): finish_wrk(process)
                   for load, process in running_loads.items()}  # fmt: skip
        time.sleep(SETTLE_S)
        took_s = time.monotonic() - started
        cpu_s = cpu_seconds(self.pid) - cpu_before
        after = answers(self.url)
        counted = {s: after.get(s, 0) - before.get(s, 0) for s in after}
        phase = Phase(
            name, took_s, cpu_s, {s: n for s, n in sorted(counted.items()) if n}, **results
        )
        print(f"bench:   {phase}", file=sys.stderr)
        return phase


def solve_costs(flood: Phase, spread: Phase) -> Costs:
    """CPU per 202 and per 429 from two phases with different mixes (a 2x2 linear system)."""
    notes = []
    for phase in (flood, spread):
        other = {s: n for s, n in phase.answers.items() if s not in ("202", "429")}
        if other:
            notes.append(f"{phase.name}: other answers {other} (their CPU is in the solution)")
    a1, b1 = flood.answers.get("202", 0), flood.answers.get("429", 0)
    a2, b2 = spread.answers.get("202", 0), spread.answers.get("429", 0)
    determinant = a1 * b2 - a2 * b1
    if determinant == 0:
        raise SystemExit("bench: the flood and spread phases had the same mix of answers")
    per_202 = (spread.cpu_s * b1 - flood.cpu_s * b2) / -determinant
    per_429 = (flood.cpu_s * a2 - spread.cpu_s * a1) / -determinant
    return Costs(per_202 * 1e6, per_429 * 1e6, per_429 / per_202, notes)


def markdown(
    phases: list[Phase], costs: Costs, args: argparse.Namespace, facts: dict[str, Any]
) -> str:
    alone, flooded, flood, spread = phases
    assert alone.victim and flooded.victim and flooded.flood and flood.flood and spread.spread
    refused = flooded.answers.get("429", 0)
    lines = [
        f"Rate-limit isolation, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:"
        f" {args.server}, {args.workers} worker(s), limit {args.limit:g} requests/s per key"
        f" (burst {args.limit:g}), {args.duration} s per phase. Victim: {VICTIM_CONNECTIONS}"
        f" wrk connections paced to about {args.victim_rate:g} requests/s; flood: wrk,"
        f" {args.flood_connections} connections on one key, paced to about"
        f" {args.flood_rate:g} requests/s (unpaced for the cost of a 429); spread: wrk,"
        f" {args.connections} connections over {args.sites} keys under their limit."
        f" Machine: {facts['cpus']} CPUs"
        f" ({facts['cpu_model']}), Python {facts['python']}; {facts['load_generator']}.",
        "",
        "| phase | victim req/s | victim p50 / p95 / p99 ms | victim non-2xx"
        " | flood req/s | flood 429/s | server CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in (alone, flooded):
        v = phase.victim
        assert v
        flood_cells = "- | -"
        if phase.flood:
            refused_per_s = phase.answers.get("429", 0) / phase.seconds
            flood_cells = f"{phase.flood.requests_per_s:,.0f} | {refused_per_s:,.0f}"
        lines.append(
            f"| {phase.name} | {v.requests_per_s:,.0f} | {v.p50_ms:.1f} / {v.p95_ms:.1f} /"
            f" {v.p99_ms:.1f} | {v.non_2xx} | {flood_cells} | {phase.cpu_s / phase.seconds:.0%} |"
        )
    lines += [
        "",
        f"Victim p95 under the flood: **{flooded.victim.p95_ms / alone.victim.p95_ms:.2f}x** alone"
        f" ({alone.victim.p95_ms:.1f} -> {flooded.victim.p95_ms:.1f} ms); the flood got"
        f" {refused:,} 429s ({refused / max(1, sum(flooded.answers.values())):.0%} of all"
        " answers in that phase).",
        "",
        "| answer | phase | req/s | server CPU per answer |",
        "|---|---|---|---|",
        f"| 202 | spread keys, under their limit | {spread.spread.requests_per_s:,.0f} |"
        f" {costs.cpu_us_per_202:.0f} µs |",
        f"| 429 | flood key, over its limit | {flood.flood.requests_per_s:,.0f} |"
        f" {costs.cpu_us_per_429:.0f} µs |",
        "",
        f"A 429 costs **{costs.ratio:.2f}x** the server CPU of a 202.",
    ]
    lines += [f"Note: {note}" for note in costs.notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="uvicorn", choices=("uvicorn", "hypercorn"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=12, help="seconds per phase")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up")
    parser.add_argument("--limit", type=float, default=500, help="requests/s per key (and burst)")
    parser.add_argument("--victim-rate", type=float, default=100, help="victim requests/s")
    parser.add_argument("--flood-rate", type=float, default=3400, help="flood requests/s")
    parser.add_argument("--flood-connections", type=int, default=64)
    parser.add_argument("--connections", type=int, default=32, help="for the spread phase")
    parser.add_argument("--sites", type=int, default=20, help="spread keys (each under the limit)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="collector setting for this run (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    ensure_wrk()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = [f"OPTIVIEW_RATE_LIMIT_PER_KEY={args.limit:g}",
                f"OPTIVIEW_RATE_LIMIT_BURST={args.limit:g}", *args.env]  # fmt: skip
    d = args.duration
    with tempfile.TemporaryDirectory(prefix="optiview-bench-rl-") as tmp:
        work = Path(tmp)
        server = ["--workers", str(args.workers), "--server", args.server]
        with running(work / "rl.db", service_env(work / "rl.db", settings), server,
                     log=work / "server.log") as (url, process):  # fmt: skip
            bench = Bench(url, process.pid, args, work)
            print("bench: warm-up ...", file=sys.stderr)
            bench.phase("warm-up", spread=(0, args.warmup), saturating_flood=(0, args.warmup))
            print("bench: victim alone, victim under flood, flood alone, spread ...",
                  file=sys.stderr)  # fmt: skip
            phases = [
                bench.phase("victim alone", victim=(0, d)),
                bench.phase("victim + flood", flood=(0, d + 2 * LEAD_S), victim=(LEAD_S, d)),
                bench.phase("flood alone", saturating_flood=(0, d)),
                bench.phase("spread", spread=(0, d)),
            ]
    costs = solve_costs(phases[2], phases[3])
    facts = machine()
    report = markdown(phases, costs, args, facts)
    (args.out / "bench-ratelimit.md").write_text(report)
    (args.out / "bench-ratelimit.json").write_text(
        json.dumps({"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                    "phases": [asdict(p) for p in phases], "costs": asdict(costs)}, indent=2)
    )  # fmt: skip
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
