"""`optiview purge run [--now ISO] [--dry-run]`, also `python -m purge run …`."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from typing import Any

from ingest.clock import iso_argument, now_ms, to_iso
from ingest.config import ConfigError, load_settings
from ingest.storage.connection import connect
from ingest.storage.migrations import MigrationError, migrate_database
from purge.runner import CHUNK_ROWS, PACE, AlreadyRunning, run_purge

EXIT_FAILURE = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now", type=iso_argument, help="purge as if it were this time (default: now, UTC)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted; change nothing"
    )
    parser.add_argument(
        "--chunk", type=int, default=CHUNK_ROWS, help=f"rows per transaction (default {CHUNK_ROWS})"
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=PACE,
        help=f"rest this many times each chunk's duration before the next (default {PACE:g}):"
        " higher leaves the collector more room, lower purges faster",
    )


def register(sub: Any) -> None:
    """Add `purge run` to the optiview command."""
    purge = sub.add_parser("purge", help="retention purge (runbook step 10)")
    actions = purge.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="delete rows past their retention, in chunks",
        description="Delete events past their plan's retention (starter 90, growth 180, "
        "pro 365 days), sessions after 90 days, AI referrals after 365, and our own "
        "bookkeeping, in chunks that never hold the collector up for long. Safe to run "
        "while another run is going: the second one exits cleanly.",
    )
    add_arguments(run)


def run(args: argparse.Namespace) -> int:
    if args.chunk < 1 or args.pace < 0:
        print("purge: error: --chunk must be at least 1 and --pace at least 0", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        migrate_database(settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms)
        conn = connect(settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms)
    except (ConfigError, MigrationError, sqlite3.Error) as exc:
        print(f"purge: error: cannot use the database: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    at = args.now if args.now is not None else now_ms()
    started = time.monotonic()
    mode = "dry run, " if args.dry_run else ""
    print(f"purge: {mode}expiring as of {to_iso(at)} in {settings.db_path}", file=sys.stderr)
    try:
        report = run_purge(
            conn,
            at,
            dry_run=args.dry_run,
            chunk_rows=args.chunk,
            pace=args.pace,
            progress=lambda line: print(f"purge: {line}", file=sys.stderr, flush=True),
        )
    except AlreadyRunning as exc:
        print(
            f"purge: skipped: {exc}, lease until {to_iso(exc.busy.expires_at)}; nothing to do",
            file=sys.stderr,
        )
        return 0
    except Exception as exc:
        print(f"purge: error: the run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        conn.close()
    run_part = f" (run {report.run_id})" if report.run_id else ""
    print(f"purge: {report.summary()} in {time.monotonic() - started:.1f} s{run_part}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m purge", description="Retention purge.")
    sub = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    run_parser = sub.add_parser("run", help="delete rows past their retention")
    add_arguments(run_parser)
    return run(parser.parse_args(argv))
