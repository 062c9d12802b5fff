"""What `optiview purge run` and `optiview alerts run` share: open the database, run the job
once, say what happened, and exit 0 (done, or skipped because another run has the lease),
1 (failed, with the reason)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable

from ingest.config import ConfigError, Settings, load_settings
from ingest.storage.connection import connect
from ingest.storage.migrations import MigrationError, migrate_database

EXIT_FAILURE = 1
Progress = Callable[[str], None]
# A job runs once and returns its one-line summary.
Job = Callable[[Settings, sqlite3.Connection, Progress], str]


def run_job(name: str, job: Job, already_running: type[Exception]) -> int:
    def say(line: str) -> None:
        print(f"{name}: {line}", file=sys.stderr, flush=True)

    try:
        settings = load_settings()
        migrate_database(settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms)
        conn = connect(settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms)
    except (ConfigError, MigrationError, sqlite3.Error) as exc:
        say(f"error: cannot use the database: {exc}")
        return EXIT_FAILURE
    try:
        summary = job(settings, conn, say)
    except already_running as exc:
        say(f"skipped: {exc}; nothing to do")
        return 0
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
