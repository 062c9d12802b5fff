"""`optiview db copy --to postgresql://... [--from PATH] [--batch N]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `optiview` registers this command on every call: the copier (psycopg, the storage) and the
# progress bar (rich) are imported only when it runs, and its parser, whose defaults come from
# the copier, is filled in only then too.
if TYPE_CHECKING:
    from ingest.storage.copy.copier import CopyReport

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C

DESCRIPTION = (
    "Copy every table of a SQLite database (rows, ids and all) into a new, empty PostgreSQL"
    " database, migrating it first. The copy is one transaction: it lands whole or not at all."
    " The source is read from one snapshot and never changed; events the service writes after"
    " that snapshot are not copied, so stop the service (or its senders) first. Progress goes"
    " to stderr, the summary to stdout."
)


def postgres_url(text: str) -> str:
    from ingest.storage.copy.target import SCHEMES

    if not text.startswith(tuple(f"{scheme}://" for scheme in SCHEMES)):
        raise argparse.ArgumentTypeError(
            f"expected a postgresql://user@host:port/database URL, not {text!r}"
        )
    return text


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows above 0, not {text!r}")
    return value


def register(sub: Any) -> None:
    """Add `db copy` to the optiview command."""
    db = sub.add_parser("db", help="database moves: copy a SQLite database into PostgreSQL")
    actions = db.add_subparsers(dest="action", required=True, metavar="{copy}")
    actions.add_parser(
        "copy",
        help="copy the SQLite database into a new PostgreSQL one",
        description=DESCRIPTION,
        populate=_copy_arguments,
    )


def _copy_arguments(copy: argparse.ArgumentParser) -> None:
    from ingest.storage.copy.copier import DEFAULT_BATCH

    copy.add_argument(
        "--to",
        required=True,
        type=postgres_url,
        metavar="URL",
        help="the PostgreSQL database to fill, postgresql://user[:password]@host:port/database;"
        " it must be empty (create it first; the migrations are applied here)",
    )
    copy.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="PATH",
        help="the SQLite database file to copy (default: OPTIVIEW_DB); it is only read",
    )
    copy.add_argument(
        "--batch",
        type=positive,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"rows read from SQLite and written to the COPY at a time (default {DEFAULT_BATCH})",
    )


def run(args: argparse.Namespace) -> int:
    from ingest.config import ConfigError, database_location
    from ingest.storage.copy.copier import copy_database
    from ingest.storage.copy.progress import for_stderr
    from ingest.storage.copy.source import CopyError
    from ingest.storage.copy.target import SCHEMES, shown
    from ingest.storage.sql import is_postgres_url

    try:
        if args.source is None:
            try:
                location = database_location()
            except ConfigError as exc:
                raise CopyError(f"{exc}; or pass --from PATH") from None
            if is_postgres_url(location):
                raise CopyError(
                    "OPTIVIEW_DB names PostgreSQL and the copy reads a SQLite file:"
                    " pass --from PATH"
                )
            path = Path(location)
        else:
            path = args.source
        if str(path).startswith(tuple(f"{scheme}:" for scheme in SCHEMES)):
            raise CopyError(
                f"the source {path} is not a SQLite file (OPTIVIEW_DB names PostgreSQL?):"
                " pass --from PATH"
            )
        say(f"copying into {shown(args.to)}")
        report = copy_database(path, args.to, batch=args.batch, progress=for_stderr(), say=say)
    except CopyError as exc:
        print(f"optiview: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        # The copy is one PostgreSQL transaction: leaving it rolls everything back.
        print("optiview: interrupted: nothing was copied (the copy rolled back)", file=sys.stderr)
        return EXIT_INTERRUPTED
    sys.stdout.write(summary(report))
    return 0


def say(line: str) -> None:
    print(f"optiview: {line}", file=sys.stderr, flush=True)


def summary(report: CopyReport) -> str:
    width = max((len(name) for name in report.rows), default=0)
    lines = []
    for name, rows in report.rows.items():
        following = report.identities.get(name)
        after = f" (next id {following})" if following is not None else ""
        lines.append(f"{name:<{width}}  {rows:>10} rows{after}")
    rate = report.total / report.seconds if report.seconds > 0 else 0.0
    lines.append(
        f"copied {report.total} rows from {len(report.rows)} tables in {report.seconds:.1f} s"
        f" ({rate:,.0f} rows/s)"
    )
    return "\n".join(lines) + "\n"
