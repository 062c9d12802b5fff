"""`optiview purge run [--now ISO] [--dry-run]`, also `python -m purge run …`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from ingest.clock import iso_argument, now_ms, to_iso

# `optiview` registers this command on every call: the runner and the storage are imported
# only when it runs (its parser's defaults too: `optiview` fills that parser in only then).
if TYPE_CHECKING:
    from ingest.config import Settings
    from ingest.cron.command import Progress
    from ingest.storage.sql import Conn

DESCRIPTION = (
    "Delete events past their plan's retention (starter 90, growth 180, pro 365 days), sessions"
    " after 90 days, AI referrals after 365, and our own bookkeeping, in chunks that never hold"
    " the collector up for long. Safe to run while another run is going: the second one exits"
    " cleanly. Progress goes to stderr, the summary to stdout."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from purge.runner import CHUNK_ROWS, PACE

    parser.add_argument(
        "--now",
        type=iso_argument,
        help="purge as if it were this time (default: now, UTC); a test knob: with"
        " OPTIVIEW_ENV=production, a time more than a minute ahead needs --dry-run",
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
    actions = purge.add_subparsers(dest="action", required=True, metavar="{run}")
    actions.add_parser(
        "run",
        help="delete rows past their retention, in chunks",
        description=DESCRIPTION,
        populate=add_arguments,
    )


def run(args: argparse.Namespace) -> int:
    from ingest.cron.command import run_job
    from ingest.storage.sql import redacted
    from purge.runner import AlreadyRunning, run_purge

    if args.chunk < 1 or args.pace < 0:
        print("purge: error: --chunk must be at least 1 and --pace at least 0", file=sys.stderr)
        return 2

    def purge(settings: Settings, conn: Conn, say: Progress) -> str:
        at = args.now if args.now is not None else now_ms()
        mode = "dry run, " if args.dry_run else ""
        say(f"{mode}expiring as of {to_iso(at)} in {redacted(settings.db)}")
        started = time.monotonic()
        report = run_purge(
            conn, at, dry_run=args.dry_run, chunk_rows=args.chunk, pace=args.pace, progress=say
        )
        run_part = f" (run {report.run_id})" if report.run_id else ""
        return f"{report.summary()} in {time.monotonic() - started:.1f} s{run_part}"

    return run_job(
        "purge",
        purge,
        AlreadyRunning,
        at_ms=args.now,
        dry_run=args.dry_run,
        future_harm="delete rows that have not expired yet",
    )


def main(argv: list[str] | None = None) -> int:
    from ingest.cron.command import module_main

    return module_main("purge", f"Retention purge. {DESCRIPTION}", add_arguments, run, argv)
