"""Instructions per collector request, counted by callgrind: the regression guard of the hot path.

Time per request on a shared 2-core machine moves by tens of percent between runs; the
instructions executed barely move. This serves the collector (`optiview serve`, uvicorn, one
worker, and the writer process when there is one) under valgrind's callgrind on a fresh
SQLite database, warms it up, then counts the instructions every process of the server
executes while it answers `--requests` collector requests (pageviews as loadtests/wrk_events.lua
sends them, over `--connections` keep-alive connections), and reports them per request and
per event, for each process role (worker, writer) and in total. Timers run per wall second
whatever the load (and under callgrind a request takes some 50 times longer), so the servers
are first counted for `--idle-seconds` before any request, and that idle rate over the
measured wall time is taken out of the figures (the measured count is reported beside them).

    python -m loadtests.bench_callgrind [--requests 1000] [--warmup 300] [--connections 8]
        [--events-per-request 1] [--baseline 4c81b57] [--max-instructions N] [--env NAME=VALUE]

Instrumentation starts off (`--instr-atstart=no`, so start-up runs at valgrind's plain speed)
and is switched on with `callgrind_control -i on` for the server's own pids only (never every
callgrind run on the machine), before the warm-up; the counters are zeroed after it and
dumped after the measured requests. With `--baseline REV` the same is done for a git
worktree of REV in the same run. `--max-instructions N` exits 1 when the current tree executes
more than N instructions per request (all processes together).

Writes loadtests/out/bench-callgrind.json and .md (or under --out).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from loadtests import checkout, process_cpu
from loadtests.service import HERE, free_port, machine, provision, service_env, stop, wait_healthy

VALGRIND = "/usr/bin/valgrind"
# Under callgrind Python runs some 50 times slower: start-up and a drain take that much longer.
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 120
# Before the idle count and after the warm-up; after the measured requests, before their
# dump: the follow-up of the last requests (key touches and rollups shipped every 0.25 s,
# answers flushed) belongs to them.
SETTLE_S = 1.0
TAIL_S = 0.5
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Count:
    label: str  # "current" or the baseline's revision
    requests: int
    events: int
    seconds: float  # wall time of the measured requests under callgrind
    instructions: dict[str, int] = field(default_factory=dict)  # role -> Ir while measured
    idle_per_s: dict[str, int] = field(default_factory=dict)  # role -> Ir/s with no request
    # role and "total" -> Ir per request, net of what the idle rate makes in that wall time
    per_request: dict[str, float] = field(default_factory=dict)
    gross_per_request: float = 0.0  # the measured count per request, idle part included
    per_event: float = 0.0  # net
    processes: list[dict[str, Any]] = field(default_factory=list)
    committed: int = 0
    idle_share: float = 0.0  # the part of the measured count the idle rate makes


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def ensure_valgrind() -> str:
    found = shutil.which("valgrind") or (VALGRIND if Path(VALGRIND).exists() else None)
    if found is None and os.geteuid() == 0:
        print("bench: installing valgrind (Debian package)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
        found = shutil.which("valgrind")
    if found is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench: valgrind (with callgrind_control) is required: apt-get install"
                         " valgrind")  # fmt: skip
    return found


def event_bodies(
    sites: list[dict[str, Any]], start: int, count: int, per_request: int
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(site, body) of requests start.. start+count: the pageviews of loadtests/wrk_events.lua."""
    for n in range(start, start + count):
        site = sites[(n + 1) % len(sites)]
        events = []
        for i in range(per_request):
            e = n * per_request + i + 1
            events.append(
                {
                    "type": "pageview",
                    "url": f"https://{site['domain']}/page/{e % 200}",
                    "referrer": "https://chatgpt.com/",
                    "title": f"Page {e % 200}",
                    "session_id": f"s{e % 5000}",
                }
            )
        body = {
            "key_id": site["key_id"],
            "project_id": site["project_id"],
            "property_id": site["property_id"],
            "events": events,
        }
        yield site, json.dumps(body, separators=(",", ":")).encode()


def headers(site: dict[str, Any], auth: str) -> dict[str, str]:
    if auth == "bearer":
        return {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {site['secret']}",
            "User-Agent": UA,
        }
    return {
        "Content-Type": "text/plain;charset=UTF-8",
        "Origin": f"https://{site['domain']}",
        "User-Agent": UA,
    }


def send(
    port: int, sites: list[dict[str, Any]], start: int, count: int, args: argparse.Namespace
) -> int:
    """Send `count` requests over `args.connections` keep-alive connections; the 202s."""
    accepted = [0] * args.connections
    problems: list[str] = []

    def connection(index: int) -> None:
        share = range(start + index, start + count, args.connections)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for n in share:
                site, body = next(event_bodies(sites, n, 1, args.events_per_request))
                client.request("POST", "/v1/events", body, headers(site, args.auth))
                answer = client.getresponse()
                text = answer.read()
                if answer.status == 202:
                    accepted[index] += 1
                elif len(problems) < 5:
                    problems.append(f"{answer.status} {text[:200]!r}")
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"connection {index}: {exc!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=connection, args=(i,)) for i in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if problems:
        raise SystemExit("bench: requests refused or failed: " + "; ".join(problems))
    return sum(accepted)


def server_pids(root: int) -> list[int]:
    try:
        top = psutil.Process(root)
        return [top.pid, *(p.pid for p in top.children(recursive=True))]
    except psutil.Error:
        return []


def control(pids: list[int], *command: str) -> None:
    """callgrind_control for these pids only: other callgrind runs on the machine are not ours."""
    done = subprocess.run(
        ["callgrind_control", *command, *map(str, pids)], capture_output=True, text=True,
        timeout=STOP_TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0 or "Error" in done.stdout:
        what = " ".join(command)
        raise SystemExit(f"bench: callgrind_control {what}: {done.stdout}{done.stderr}")


def dumped_instructions(folder: Path, pid: int, part: int) -> int:
    """The Ir of `pid`'s dump number `part` (callgrind.out.<pid>.<part>), waiting for the
    file to be complete (its last line, totals:, written)."""
    path = folder / f"callgrind.out.{pid}.{part}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text(errors="replace").splitlines()
            if any(line.startswith("totals:") for line in lines):
                return next(int(x.split()[1]) for x in lines if x.startswith("summary:"))
        time.sleep(0.2)
    raise SystemExit(f"bench: no complete callgrind dump {path}")


def count_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def measure(label: str, tree: Path | None, args: argparse.Namespace, work: Path) -> Count:
    """One server under callgrind: warm up, zero, the measured requests, dump, read."""
    folder = work / f"callgrind-{label}"
    folder.mkdir()
    db = work / f"{label}.db"
    # the writer process starts some 50 times slower too (a setting its supervisor reads)
    slow = [f"OPTIVIEW_WRITER_READY_TIMEOUT_S={START_TIMEOUT_S}"]
    env = service_env(db, ["OPTIVIEW_SCHEDULER=off", *slow, *args.env])
    if tree is not None:
        env = checkout.tree_env(env, tree)
    port = free_port()
    command = [
        ensure_valgrind(), "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
        f"--callgrind-out-file={folder}/callgrind.out.%p",
        sys.executable, "-m", "ingest", "serve", "--port", str(port), "--workers", "1",
        "--server", "uvicorn",
    ]  # fmt: skip
    log_path = work / f"{label}.log"
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command, cwd=tree or HERE.parent, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    try:
        wait_healthy(url, process, timeout_s=START_TIMEOUT_S)
        say(f"{label}: serving after {time.monotonic() - began:.0f} s")
        sites = provision(url, args.sites)
        pids = server_pids(process.pid)
        roles = {pid: process_cpu.role(psutil.Process(pid), process.pid, 1) for pid in pids}
        commands = {pid: " ".join(psutil.Process(pid).cmdline()) for pid in pids}
        control(pids, "-i", "on")
        # What the servers do with no request at all (timers: the loop's, the writer's
        # polls), which the measured count includes for as long as the requests take. It is
        # counted before any event: after one, deferred work (a WAL checkpoint, rollups and
        # key touches shipped) would run in the idle window and be taken for timers.
        time.sleep(SETTLE_S)
        control(pids, "-z")
        time.sleep(args.idle_seconds)
        control(pids, "-d")
        idle = {pid: dumped_instructions(folder, pid, 1) / args.idle_seconds for pid in pids}
        send(port, sites, 0, args.warmup, args)
        say(f"{label}: warmed up after {time.monotonic() - began:.0f} s")
        time.sleep(SETTLE_S)  # the warm-up's follow-up is not the measured requests'
        control(pids, "-z")
        started = time.monotonic()
        accepted = send(port, sites, args.warmup, args.requests, args)
        seconds = time.monotonic() - started
        time.sleep(TAIL_S)  # the last requests' follow-up (touches, rollups) is theirs
        control(pids, "-d")
        seconds += TAIL_S
        per_pid = {pid: dumped_instructions(folder, pid, 2) for pid in pids}
        say(f"{label}: counted after {time.monotonic() - began:.0f} s")
    except SystemExit as exc:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{exc}\n--- the server's log ({label}), last lines ---\n{tail}") from exc
    finally:
        stop(process, timeout_s=STOP_TIMEOUT_S)
    say(f"{label}: stopped after {time.monotonic() - began:.0f} s")
    if accepted != args.requests:
        raise SystemExit(f"bench: {label}: {accepted} of {args.requests} requests accepted")
    count = Count(
        label=label,
        requests=args.requests,
        events=args.requests * args.events_per_request,
        seconds=round(seconds, 1),
    )
    idle_s: dict[str, float] = {}
    for pid, ir in per_pid.items():
        role = roles[pid]
        count.instructions[role] = count.instructions.get(role, 0) + ir
        idle_s[role] = idle_s.get(role, 0.0) + idle[pid]
        count.processes.append({"pid": pid, "role": role, "command": commands[pid],
                                "instructions": ir, "idle_per_s": round(idle[pid])})  # fmt: skip
    # Timers (rollups shipped, caches, the loop's own) run per wall second, and under
    # callgrind a request takes some 50 times longer than without: left in, they would make
    # the count depend on how busy the machine was. What they made is taken out.
    for role, ir in count.instructions.items():
        count.idle_per_s[role] = round(idle_s[role])
        count.per_request[role] = round((ir - idle_s[role] * seconds) / count.requests)
    total = sum(count.instructions.values())
    idle_part = sum(idle_s.values()) * seconds
    count.per_request["total"] = round((total - idle_part) / count.requests)
    count.gross_per_request = round(total / count.requests)
    count.per_event = round((total - idle_part) / count.events)
    count.idle_share = round(idle_part / total, 4) if total else 0.0
    count.committed = count_events(db)
    acknowledged = (args.warmup + args.requests) * args.events_per_request
    if count.committed < acknowledged:
        raise SystemExit(f"bench: LOSS in {label}: {acknowledged} acknowledged,"
                         f" {count.committed} stored")  # fmt: skip
    return count


def markdown(counts: list[Count], args: argparse.Namespace, facts: dict[str, Any]) -> str:
    settings = f", {' '.join(args.env)}" if args.env else ""
    lines = [
        f"Instructions per collector request by callgrind,"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.requests} requests of"
        f" {args.events_per_request} pageview(s) ({args.auth}) over {args.connections}"
        f" keep-alive connections after {args.warmup} of warm-up; uvicorn, one worker{settings}."
        f" Machine: {facts['cpus']} CPUs ({facts['cpu_model']}), Python {facts['python']}."
        f" Instructions per request are net of the servers' idle rate (counted for"
        f" {args.idle_seconds:g} s before the first request) over the measured wall time;"
        f" the measured count, idle part included, is beside them.",
        "",
        "| tree | worker Ir/request | writer Ir/request | total Ir/request | Ir/event"
        " | ratio to baseline | measured Ir/request | idle Ir/s (share of it) | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = next((c for c in counts if c.label != "current"), None)
    for c in counts:
        ratio = (
            f"{c.per_request['total'] / baseline.per_request['total']:.2f}"
            if baseline is not None
            else "-"
        )
        lines.append(
            f"| {c.label} | {c.per_request.get('worker', 0):,} |"
            f" {c.per_request.get('writer', 0):,} | {c.per_request['total']:,} |"
            f" {c.per_event:,} | {ratio} | {c.gross_per_request:,} |"
            f" {sum(c.idle_per_s.values()):,} ({c.idle_share:.1%}) | {c.seconds} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=300, help="requests before counting")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--events-per-request", type=int, default=1, dest="events_per_request")
    parser.add_argument(
        "--auth", choices=("origin", "bearer"), default=None,
        help="origin (the tag's way; default for one event) or bearer (a server's; default"
        " for more)",
    )  # fmt: skip
    parser.add_argument(
        "--idle-seconds", type=float, default=2.0, dest="idle_seconds",
        help="count this long without requests first: the timers' part, taken out",
    )  # fmt: skip
    parser.add_argument("--sites", type=int, default=5, help="properties and keys to spread over")
    parser.add_argument("--baseline", metavar="REV", help="also count a worktree of REV")
    parser.add_argument(
        "--max-instructions", type=int, dest="max_instructions", metavar="N",
        help="exit 1 when the current tree executes more than N instructions per request",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="collector setting for the servers, e.g. OPTIVIEW_WRITER=inline (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.auth is None:
        args.auth = "origin" if args.events_per_request == 1 else "bearer"
    if min(args.requests, args.connections, args.idle_seconds) <= 0:
        parser.error("--requests, --connections and --idle-seconds must be positive")
    if not 1 <= args.events_per_request <= 50:
        parser.error("--events-per-request must be 1 to 50")
    ensure_valgrind()
    args.out.mkdir(parents=True, exist_ok=True)
    counts: list[Count] = []
    with tempfile.TemporaryDirectory(prefix="optiview-callgrind-") as tmp:
        work = Path(tmp)
        say("callgrind on the current tree ...")  # first: a failure there ends the run early
        counts.append(measure("current", None, args, work))
        if args.baseline:
            label = checkout.short(args.baseline)
            say(f"callgrind on {label} ...")
            with checkout.worktree(args.baseline) as tree:
                counts.append(measure(label, tree, args, work))
    facts = machine()
    report = markdown(counts, args, facts)
    current = counts[0].per_request["total"]
    limit = args.max_instructions
    if limit is not None:
        verdict = "within" if current <= limit else "OVER"
        report += f"\nCurrent tree: {current:,} instructions per request, {verdict} the limit"
        report += f" of {limit:,}.\n"
    (args.out / "bench-callgrind.md").write_text(report)
    (args.out / "bench-callgrind.json").write_text(
        json.dumps({"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                    "counts": [asdict(c) for c in counts]}, indent=2)
    )  # fmt: skip
    print(report)
    return 1 if limit is not None and current > limit else 0


if __name__ == "__main__":
    raise SystemExit(main())
