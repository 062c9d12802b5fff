"""`optiview logs import --property ID --format FORMAT [--include-humans] FILE...`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `optiview` registers this command on every call: the settings, the storage, the formats'
# parsers and the progress bar (rich) are imported only when it runs; its parser, whose
# choices are the formats, is filled in only then too.
if TYPE_CHECKING:
    from ingest.config import Settings
    from ingest.logs.importer import Summary
    from ingest.storage.copy.progress import CopyProgress

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

DESCRIPTION = (
    "Import access logs into a property, as the collector's own events (hit_source 'log')."
    " By default only bots, crawlers and AI agents are stored: the tag counts people, so human"
    " hits are skipped unless --include-humans. Assets, redirects, errors and other hosts are"
    " skipped (robots.txt, llms.txt and .md files are kept whatever their status). Importing"
    " the same file again stores nothing new. Gzip files are read as they are. Progress goes"
    " to stderr, the summary to stdout."
)


def positive_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(
            f"expected a property id (a positive number), not {text!r}"
        )
    return int(text)


def register(sub: Any) -> None:
    """Add `logs import` to the optiview command."""
    logs = sub.add_parser("logs", help="server and CDN access logs: import files")
    actions = logs.add_subparsers(dest="action", required=True, metavar="{import}")
    actions.add_parser(
        "import",
        help="import access log files into a property",
        description=DESCRIPTION,
        populate=_import_arguments,
    )


def _import_arguments(command: argparse.ArgumentParser) -> None:
    from ingest.logs.formats import FORMATS

    command.add_argument(
        "--property",
        required=True,
        type=positive_id,
        metavar="ID",
        help="the property the hits belong to (lines for other hosts are skipped)",
    )
    command.add_argument(
        "--format",
        required=True,
        choices=sorted(FORMATS),
        dest="log_format",
        help="the files' format: nginx or apache (combined or common), or NDJSON as Cloudflare"
        " Logpush, a Vercel log drain or the generic shape write it",
    )
    command.add_argument(
        "--include-humans",
        action="store_true",
        help="store human hits too (when the tag is not on the site); pageviews the tag has"
        " already are skipped either way",
    )
    command.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="log files, plain or gzip (found by their first bytes); importing one again"
        " stores nothing new",
    )


def summary_text(summary: Summary, seconds: float) -> str:
    rate = summary.lines / seconds if seconds > 0 else 0.0
    lines = [
        f"lines read   {summary.lines:>10}",
        f"stored       {summary.stored:>10}",
    ]
    for ua_class, count in sorted(summary.classes.items()):
        lines.append(f"  {ua_class:<10} {count:>10}")
    skipped = sum(summary.skipped.values())
    lines.append(f"skipped      {skipped:>10}")
    for reason, count in sorted(summary.skipped.items()):
        lines.append(f"  {reason:<10} {count:>10}")
    lines.append(f"duplicates   {summary.skipped.get('duplicate', 0):>10}")
    lines.append(f"in {seconds:.1f} s ({rate:,.0f} lines/s)")
    return "\n".join(lines) + "\n"


async def _import(args: argparse.Namespace, settings: Settings, progress: CopyProgress) -> Summary:
    from ingest.logs.importer import import_files
    from ingest.storage.backend import open_database

    db = await open_database(
        settings.db,
        busy_timeout_ms=settings.busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
        pg_synchronous_commit=settings.pg_synchronous_commit,
    )

    started: list[bool] = []

    def on_file(path: Path, size: int) -> Any:
        if started:
            progress.done()
        started.append(True)
        progress.start(path.name, size)
        return progress.advance

    try:
        summary = await import_files(
            settings, db, args.property, args.log_format, args.files, args.include_humans, on_file
        )
        progress.done()
        return summary
    finally:
        await db.close()


def run(args: argparse.Namespace) -> int:
    # Imported here, besides the reason at the top: the importer and the store load the
    # metrics, which `optiview serve` must set up first.
    import asyncio

    from ingest.config import ConfigError, database_location, load_settings
    from ingest.logs.files import LogFileError
    from ingest.logs.importer import ImportRefused
    from ingest.logs.store import DigestConflict
    from ingest.storage.backend import migrate as migrate_storage
    from ingest.storage.copy.progress import for_stderr
    from ingest.storage.database import StorageUnavailable
    from ingest.storage.datafile import DatabaseFileError, ensure_database_file
    from ingest.storage.migrations import MigrationError
    from ingest.storage.sql import DATABASE_ERRORS, database_error

    progress: CopyProgress | None = None
    location = None
    try:
        location = database_location()
        ensure_database_file(location, create=False)
        settings = load_settings()
        migrate_storage(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)
        progress = for_stderr()
        started = time.perf_counter()
        summary = asyncio.run(_import(args, settings, progress))
        seconds = time.perf_counter() - started
    except (ImportRefused, LogFileError, DigestConflict) as exc:
        print(f"optiview: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (ConfigError, DatabaseFileError, MigrationError, StorageUnavailable) as exc:
        print(f"optiview: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except DATABASE_ERRORS as exc:
        print(f"optiview: error: {database_error(exc, location)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("optiview: interrupted: the batches committed so far are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if progress is not None:
            progress.close()
    sys.stdout.write(summary_text(summary, seconds))
    return 0
