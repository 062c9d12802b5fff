"""What `optiview purge run` and `optiview alerts run` share: open the database, run the job
once, say what happened, and exit 0 (done, or skipped because another run has the lease),
1 (failed, with the reason), 2 (refused: a `--now` ahead of the clock, in production)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ingest.clock import now_ms, to_iso
from ingest.config import ConfigError, Settings, database_location, load_settings
from ingest.cron.jobs import duration
from ingest.storage.backend import migrate
from ingest.storage.datafile import DB_SETTING, DatabaseFileError, describe, ensure_database_file
from ingest.storage.migrations import MigrationError
from ingest.storage.sql import DATABASE_ERRORS, Conn, connect

EXIT_FAILURE = 1
EXIT_REFUSED = 2
# Clocks of two machines (and a human typing the current minute) may differ this much.
FUTURE_TOLERANCE_MS = 60_000
Progress = Callable[[str], None]
# A job runs once and returns its one-line summary.
Job = Callable[[Settings, Conn, Progress], str]


def future_now_refusal(
    env: str, at_ms: int | None, clock_ms: int, dry_run: bool, harm: str
) -> str | None:
    """Why a run must not go ahead, or None (pure). `--now` is a test knob: ahead of the
    clock, a purge deletes rows that have not expired and an alerts run sends real messages
    about a time that has not come, so production takes it only with --dry-run."""
    if env != "production" or at_ms is None or dry_run or at_ms - clock_ms <= FUTURE_TOLERANCE_MS:
        return None
    return (
        f"--now {to_iso(at_ms)} is {duration(at_ms - clock_ms)} ahead of the clock"
        f" ({to_iso(clock_ms)}); with OPTIVIEW_ENV=production that would {harm}. Add"
        " --dry-run to see what it would do, or use it in development (OPTIVIEW_ENV=development)"
    )


def run_job(
    name: str,
    job: Job,
    already_running: type[Exception],
    *,
    at_ms: int | None = None,
    dry_run: bool = False,
    future_harm: str = "act on a time that has not come",
    failures: tuple[type[Exception], ...] = (),
) -> int:
    """`at_ms` is the --now given (None: the clock). `failures` are the job's expected
    errors, whose message is said as it is (exit 1)."""

    def say(line: str) -> None:
        print(f"{name}: {line}", file=sys.stderr, flush=True)

    try:
        path = database_location()
        say(describe(path, configured=bool(os.environ.get(DB_SETTING, "").strip())))
        # A job never creates the database (a run from the wrong folder would otherwise
        # "succeed" on an empty one), and checks it before the settings write development
        # secrets beside it.
        ensure_database_file(path, create=False)
        settings = load_settings()
        refusal = future_now_refusal(settings.env, at_ms, now_ms(), dry_run, future_harm)
        if refusal is not None:
            say(f"error: refused: {refusal}")
            return EXIT_REFUSED
        migrate(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)
        conn = connect(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)
    except DatabaseFileError as exc:
        say(f"error: {exc}")
        return EXIT_FAILURE
    except (ConfigError, MigrationError) as exc:
        say(f"error: cannot use the database: {exc}")
        return EXIT_FAILURE
    except DATABASE_ERRORS as exc:
        say(f"error: cannot use the database: {exc}")
        return EXIT_FAILURE
    try:
        summary = job(settings, conn, say)
    except already_running as exc:
        say(f"skipped: {exc}; nothing to do")
        return 0
    except failures as exc:
        say(f"error: {exc}")
        return EXIT_FAILURE
    except Exception as exc:
        say(f"error: the run failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILURE
    finally:
        conn.close()
    print(f"{name}: {summary}")
    return 0


def module_main(
    job: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: list[str] | None,
) -> int:
    """`python -m <job> [run] [options]`: `run` is the only action, so it may be left out.

    One parser with `run` as an optional word, so that options mean the same before and after
    it: a sub-parser for `run` reset the options given before it (`--dry-run run` deleted)."""
    parser = argparse.ArgumentParser(prog=f"python -m {job}", description=description)
    parser.add_argument(
        "action",
        nargs="?",
        choices=["run"],
        default="run",
        metavar="run",
        help="run the job once: the only action, so it may be left out",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
