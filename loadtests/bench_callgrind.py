"""Instructions per collector request, counted by callgrind: the regression guard of the hot path.

Time per request on a shared 2-core machine moves by tens of percent between runs; the
instructions executed barely move. This serves the collector (`optiview serve`, uvicorn, one
worker, and the writer process when there is one) under valgrind's callgrind on a fresh
SQLite database, warms it up, then counts the instructions every process of the server
executes while it answers `--requests` collector requests (pageviews as loadtests/wrk_events.lua
sends them, over `--connections` keep-alive connections), and reports them per request and
per event, for each process role (worker, writer) and in total.

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
    instructions: dict[str, int] = field(default_factory=dict)  # role -> Ir
    per_request: dict[str, float] = field(default_factory=dict)  # role and "total" -> Ir
    per_event: float = 0.0
    processes: list[dict[str, Any]] = field(default_factory=list)
    committed: int = 0


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


def dumped_instructions(folder: Path, pid: int) -> int:
    """The Ir of `pid`'s latest dump (callgrind.out.<pid>.<part>), waiting for it briefly."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parts = sorted(folder.glob(f"callgrind.out.{pid}.*"), key=lambda p: int(p.suffix[1:]))
        if parts:
            for line in parts[-1].read_text(errors="replace").splitlines():
                if line.startswith("summary:"):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise SystemExit(f"bench: no callgrind dump for pid {pid} in {folder}")


def count_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def measure(label: str, tree: Path | None, args: argparse.Namespace, work: Path) -> Count:
    """One server under callgrind: warm up, zero, the measured requests, dump, read."""
    folder = work / f"callgrind-{label}"
    folder.mkdir()
    db = work / f"{label}.db"
    env = service_env(db, ["OPTIVIEW_SCHEDULER=off", *args.env])
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
        control(pids, "-i", "on")
        send(port, sites, 0, args.warmup, args)
        time.sleep(0.5)  # the last commit's follow-up (touches, rollups) before zeroing
        pids = server_pids(process.pid)
        roles = {pid: process_cpu.role(psutil.Process(pid), process.pid, 1) for pid in pids}
        commands = {pid: " ".join(psutil.Process(pid).cmdline()) for pid in pids}
        say(f"{label}: warmed up after {time.monotonic() - began:.0f} s")
        control(pids, "-z")
        started = time.monotonic()
        accepted = send(port, sites, args.warmup, args.requests, args)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        control(pids, "-d")
        per_pid = {pid: dumped_instructions(folder, pid) for pid in pids}
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
    for pid, ir in per_pid.items():
        count.instructions[roles[pid]] = count.instructions.get(roles[pid], 0) + ir
        count.processes.append({"pid": pid, "role": roles[pid], "command": commands[pid],
                                "instructions": ir})  # fmt: skip
    count.per_request = {r: round(ir / count.requests) for r, ir in count.instructions.items()}
    total = sum(count.instructions.values())
    count.per_request["total"] = round(total / count.requests)
    count.per_event = round(total / count.events)
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
        f" Machine: {facts['cpus']} CPUs ({facts['cpu_model']}), Python {facts['python']}.",
        "",
        "| tree | worker Ir/request | writer Ir/request | total Ir/request | Ir/event"
        " | ratio to baseline | wall s under callgrind |",
        "|---|---|---|---|---|---|---|",
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
            f" {c.per_event:,} | {ratio} | {c.seconds} |"
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
    if args.requests < 1 or args.connections < 1 or not 1 <= args.events_per_request <= 50:
        parser.error("--requests and --connections must be positive, --events-per-request 1-50")
    ensure_valgrind()
    args.out.mkdir(parents=True, exist_ok=True)
    counts: list[Count] = []
    with tempfile.TemporaryDirectory(prefix="optiview-callgrind-") as tmp:
        work = Path(tmp)
        if args.baseline:
            label = checkout.short(args.baseline)
            say(f"callgrind on {label} ...")
            with checkout.worktree(args.baseline) as tree:
                counts.append(measure(label, tree, args, work))
        say("callgrind on the current tree ...")
        counts.append(measure("current", None, args, work))
    facts = machine()
    report = markdown(counts, args, facts)
    current = counts[-1].per_request["total"]
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
