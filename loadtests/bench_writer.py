"""The SQLite commit path alone: committed events/s per group size, before and after.

One `Database` (the writer thread and its connection, as the collector's group commit uses
it) commits prepared groups of `--sizes` events back to back for `--seconds` each, on a fresh,
migrated file, with the read API's rollups folded every FOLD_EVERY_S as the writer does
(`--no-fold` leaves them out). The groups are made before the clock starts by the collector's
own enrich and prepare (bench_pg_writer.Traffic: sessions of several events, pages by
popularity, bots, AI referrals); each pass through them renames the sessions, so new sessions
keep arriving while the pages stay.

Strategies, each in the same run:
  before  the commit path before issue 14 (rows.py and rollups.py at 4c81b57, loaded from git):
          one executemany per table, a session and a content upsert per event, the old fold,
          and the log checkpointed inside the commits (SQLite's own)
  rows    the new write_rows (multi-row INSERTs, sessions and content merged per key) and the
          new fold, with the log still checkpointed inside the commits
  after   the same, with the log checkpointed beside the writer (checkpoint.py), and the fold
          adding the writer's own tally of the rows it committed (unfolded_counts.py) instead
          of reading them back
  after-read-fold, after-no-fold, events-only (not run unless named): "after" with the fold
          reading the rows past the watermark (as before the tally), without the fold, and the
          events table alone

Reported per run: events/s, commits/s, the process's CPU per event (writer and checkpoint
threads together), a commit's time (p50, p99, max; the commits that folded left out),
checkpoints, and the file's tables checked against what was committed.

    python -m loadtests.bench_writer --sizes 16 500 2000 --seconds 5

Time on a shared machine moves by tens of percent between runs; instructions barely do.
`--instructions EVENTS` counts, by callgrind (valgrind), the instructions each strategy
executes per event while it commits EVENTS events in groups of each size and folds them once
(every thread of the process: the checkpoint thread's work counts too):

    python -m loadtests.bench_writer --instructions 4000 --sizes 16 500 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingest.collect.rows import INSERT_EVENTS, Prepared, write_rows
from ingest.stats import rollups as stats_rollups
from ingest.stats.unfolded_counts import UnfoldedCounts
from ingest.storage.database import Database
from ingest.storage.migrations import migrate_database
from ingest.storage.multirow import insert_many
from ingest.storage.sql import Conn
from loadtests.bench_pg_writer import Traffic, renamed

OUT = Path(__file__).parent / "out"
EVENTS_MADE = 24_000  # per group size, before the clock starts (cycled through)
WARMUP_GROUPS = 4  # under callgrind: committed (and folded) before the count starts

BEFORE = "4c81b57"  # the commit path before issue 14's changes


def before_module(path: str) -> types.ModuleType:
    """A module as it was at BEFORE, loaded from git: the old code measured beside the new."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:{path}"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = f"before_{BEFORE}." + path.removesuffix(".py").replace("/", ".")
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{BEFORE}:{path}", "exec"), module.__dict__)
    return module


Writer = Callable[[Conn, Sequence[Prepared]], None]
Fold = Callable[[Conn], object]


def adapt_none(adapted: bool) -> None:
    """connection.py registers an adapter for None (a cheaper NULL); BEFORE had none."""
    key = (type(None), sqlite3.PrepareProtocol)
    if adapted:
        sqlite3.adapters[key] = NO_ADAPTER
    else:
        sqlite3.adapters.pop(key, None)


NO_ADAPTER = sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)]


TALLY = object()  # the fold of the writer's own tally (UnfoldedCounts), not a function
Strategy = tuple[Writer, Fold | object, bool]


def strategies() -> dict[str, Strategy]:
    """Name: write function, fold function (or TALLY), checkpoints apart."""
    old_rows = before_module("ingest/collect/rows.py")
    old_rollups = before_module("ingest/stats/rollups.py")
    return {
        "before": (old_rows.write_rows, old_rollups.fold, False),
        "rows": (write_rows, stats_rollups.fold, False),
        "after": (write_rows, TALLY, True),
        # Parts of "after", to see where its time goes: the fold reading the rows back; no
        # fold; the events alone.
        "after-read-fold": (write_rows, stats_rollups.fold, True),
        "after-no-fold": (write_rows, no_fold, True),
        "events-only": (write_events, no_fold, True),
    }


class Committer:
    """A strategy's transactions as the group commit writer makes them: the group's rows, the
    fold when one is due, and (for TALLY) the tally's steps inside and after them."""

    def __init__(self, strategy: Strategy) -> None:
        self.write, self.fold, _ = strategy
        self.tally = UnfoldedCounts() if self.fold is TALLY else None

    def work(self, group: Sequence[Prepared], fold: bool) -> Callable[[Conn], None]:
        def work(conn: Conn) -> None:
            self.write(conn, group)
            if fold and self.tally is not None:
                self.tally.fold(conn, group)
            elif fold:
                self.fold(conn)  # type: ignore[operator]

        return work

    async def commit(self, db: Database, group: Sequence[Prepared], fold: bool) -> None:
        await db.transaction(self.work(group, fold), time.monotonic() + 30)
        if self.tally is not None and fold:
            self.tally.folded()
        elif self.tally is not None:
            self.tally.committed(group)


def no_fold(conn: Conn) -> None:
    pass


def write_events(conn: Conn, group: Sequence[Prepared]) -> None:
    insert_many(conn, INSERT_EVENTS, "", [r for p in group for r in p.events])


def make_groups(size: int, events: int = EVENTS_MADE) -> list[list[Prepared]]:
    traffic = Traffic(f"s{size}", seed=size)
    return [traffic.group(size) for _ in range(max(2, events // size))]


async def run(
    strategy: Strategy, groups: list[list[Prepared]], seconds: float, fold: bool
) -> dict[str, Any]:
    apart = strategy[2]
    committer = Committer(strategy)
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as folder:
        path = Path(folder) / "optiview.db"
        migrate_database(path)
        db = await Database.open(path, checkpoints_apart=apart)
        committed = session_events = views = commits = 0
        latencies: list[float] = []
        cycle = 0
        folded_at = time.monotonic()
        cpu, started = time.process_time(), time.perf_counter()
        try:
            while time.perf_counter() - started < seconds:
                for group in groups:
                    batch = renamed(group, cycle)
                    now = time.monotonic()
                    fold_now = fold and now - folded_at >= stats_rollups.FOLD_EVERY_S
                    began = time.perf_counter()
                    await committer.commit(db, batch, fold_now)
                    if not fold_now:  # a fold's commit is timed apart from the others
                        latencies.append(time.perf_counter() - began)
                    if fold_now:
                        folded_at = now
                    commits += 1
                    committed += sum(p.count for p in batch)
                    session_events += sum(len(p.sessions) for p in batch)
                    views += sum(c[6] for p in batch for c in p.content)
                    if time.perf_counter() - started >= seconds:
                        break
                cycle += 1
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            checkpointer = db._checkpointer
            background = checkpointer.background if checkpointer else 0
            inline = checkpointer.inline if checkpointer else 0
            wal_mb = wal_size(path) / 2**20
        finally:
            await db.close()
        check = check_file(path, committed, session_events, views)
    return {
        "events_per_s": round(committed / elapsed),
        "commits_per_s": round(commits / elapsed),
        "cpu_us_per_event": round(1e6 * cpu / committed, 1),
        # A commit's time as its requests wait for it (folds left out): checkpoints inside
        # the commits show in the tail.
        "commit_ms_p50": round(1000 * statistics.median(latencies), 2),
        "commit_ms_p99": round(1000 * percentile(latencies, 99), 2),
        "commit_ms_max": round(1000 * max(latencies), 2),
        "checkpoints_background": background,
        "checkpoints_by_writer": inline,
        "wal_mb_at_end": round(wal_mb, 1),
        "check": check,
    }


async def counted(strategy: Strategy, groups: list[list[Prepared]]) -> None:
    """Under callgrind (see `instructions`): warm up, then switch the instrumentation on for
    this process, commit every group once and fold their rows once, and switch it off."""
    apart = strategy[2]
    committer = Committer(strategy)
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as folder:
        path = Path(folder) / "optiview.db"
        migrate_database(path)
        db = await Database.open(path, checkpoints_apart=apart)
        try:
            for group in groups[:WARMUP_GROUPS]:
                await committer.commit(db, group, False)
            await committer.commit(db, [], True)
            instrument("on")
            for group in groups[WARMUP_GROUPS:]:
                await committer.commit(db, group, False)
            await committer.commit(db, [], True)
            if db._checkpointer is not None:
                db._checkpointer.wait()  # its checkpoint counts with the commits it follows
            instrument("off")
        finally:
            await db.close()


def instrument(state: str) -> None:
    """callgrind_control for this process, run from a thread while this one keeps executing
    (valgrind answers a command at its next scheduling point, not inside a blocked syscall)."""
    done = threading.Event()

    def control() -> None:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True)
        done.set()

    threading.Thread(target=control).start()
    while not done.is_set():
        time.sleep(0.001)


def instructions(sizes: list[int], names: list[str], events: int) -> list[dict[str, Any]]:
    """Instructions per event of each strategy, by callgrind: the same groups (`events` events
    in all) committed under each, one child process each."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-writer-ir-") as folder:
        for size in sizes:
            groups = make_groups(size, (WARMUP_GROUPS + max(1, -(-events // size))) * size)
            saved = Path(folder) / f"groups-{size}.pickle"
            saved.write_bytes(pickle.dumps(groups))
            for name in names:
                out = Path(folder) / f"callgrind-{size}-{name}.out"
                subprocess.run(
                    ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                     f"--callgrind-out-file={out}", sys.executable, "-m", "loadtests.bench_writer",
                     "--child", name, "--groups", str(saved)],
                    check=True, capture_output=True,
                )  # fmt: skip
                total = next(
                    int(line.split()[1])
                    for line in out.read_text().splitlines()
                    if line.startswith("totals:")
                )
                measured = sum(p.count for g in groups[WARMUP_GROUPS:] for p in g)
                result = {"size": size, "strategy": name, "ir_per_event": total // measured}
                print(json.dumps(result), flush=True)
                results.append(result)
    return results


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def wal_size(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


def check_file(path: Path, events: int, session_events: int, views: int) -> str:
    """The file holds what was committed: events, sessions' event counts, content views."""
    with sqlite3.connect(path) as conn:
        got = conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT coalesce(sum(events), 0) FROM"
            " sessions), (SELECT coalesce(sum(views), 0) FROM content)"
        ).fetchone()
    conn.close()
    want = (events, session_events, views)
    if tuple(got) != want:
        raise AssertionError(f"stored {tuple(got)}, committed {want}")
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 500, 2000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--strategies", nargs="+", default=["before", "rows", "after"])
    parser.add_argument("--no-fold", action="store_true", help="leave the read rollups out")
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="EVENTS",
        help="count instructions per event by callgrind over EVENTS events per size instead",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--groups", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        groups = pickle.loads(Path(args.groups).read_bytes())
        adapt_none(args.child != "before")
        asyncio.run(counted(strategies()[args.child], groups))
        return
    if args.instructions:
        counts = instructions(args.sizes, args.strategies, args.instructions)
        OUT.mkdir(exist_ok=True)
        (OUT / "bench_writer_instructions.json").write_text(json.dumps(counts, indent=1))
        return
    results = []
    known = strategies()
    for size in args.sizes:
        groups = make_groups(size)
        for name in args.strategies:
            adapt_none(name != "before")
            result = {
                "size": size,
                "strategy": name,
                **asyncio.run(run(known[name], groups, args.seconds, not args.no_fold)),
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_writer.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
