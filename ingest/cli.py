"""The `optiview` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from alerts import cli as alerts_cli
from ingest import __version__, secret_strength
from ingest.config import ConfigError, Settings, database_location, load_env_file, load_settings
from ingest.crawlers import cli as crawlers_cli
from ingest.errors import ApiError
from ingest.logs import cli as logs_cli
from ingest.provision_cli import Answer, add_commands, select_field
from ingest.serve import SERVERS, serve
from ingest.storage.backend import migrate as migrate_storage
from ingest.storage.backend import open_database
from ingest.storage.copy import cli as db_copy_cli
from ingest.storage.database import StorageUnavailable
from ingest.storage.datafile import (
    CREATE_HINT,
    DB_SETTING,
    DatabaseFileError,
    describe,
    ensure_database_file,
)
from ingest.storage.migrations import MigrationError
from ingest.storage.sql import DATABASE_ERRORS, Location, database_error, redacted
from purge import cli as purge_cli

EXIT_FAILURE = 1
# The commands that may create a new database file without being asked; every other one
# refuses a missing file unless given --create-db.
CREATES_DATABASE = ("serve", "migrate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optiview",
        description="Optiview Edge: serve the collector and admin API, migrate the database, "
        "and provision organizations, projects, properties and keys.",
        epilog="Configuration comes from the environment (and ./.env): OPTIVIEW_DB, "
        "OPTIVIEW_ENV, OPTIVIEW_ADMIN_TOKEN, KEY_HASH_SECRET; see docs/configuration.md.",
    )
    parser.add_argument("--version", action="version", version=f"optiview {__version__}")
    sub = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="apply pending migrations, then serve HTTP")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="default 8080")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--server",
        choices=SERVERS,
        default=os.environ.get("OPTIVIEW_SERVER", "uvicorn"),
        help="HTTP server (default uvicorn, or OPTIVIEW_SERVER)",
    )
    p.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run the cron jobs in this process (same as OPTIVIEW_SCHEDULER=off)",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request to stderr at INFO (off by default: it costs throughput)",
    )
    p.add_argument(
        "--create-db",
        action="store_true",
        help="create an empty database when OPTIVIEW_DB names no file (production refuses"
        " to start on a missing file without it; development creates one anyway)",
    )
    sub.add_parser("migrate", help="apply pending migrations and exit")
    secret_strength.register(sub)
    add_commands(sub)
    purge_cli.register(sub)
    alerts_cli.register(sub)
    db_copy_cli.register(sub)
    crawlers_cli.register(sub)
    logs_cli.register(sub)
    return parser


def _print_json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def migrate(settings: Settings) -> list[str]:
    return migrate_storage(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)


def prepare_database_file(path: Location, *, create: bool, create_hint: str = CREATE_HINT) -> None:
    """Refuse a missing database file unless creating one is allowed; say when one is made."""
    if ensure_database_file(path, create=create, create_hint=create_hint):
        print(
            f"optiview: creating a new, empty database at {Path(path).absolute()} ({DB_SETTING})",
            file=sys.stderr,
            flush=True,
        )


def announce_database(path: Location) -> None:
    """Say which database this command uses: from another folder, or with another
    OPTIVIEW_DB, it is not the server's, and nothing else would show it."""
    configured = bool(os.environ.get(DB_SETTING, "").strip())
    print(f"optiview: {describe(path, configured)}", file=sys.stderr, flush=True)


def _print_answer(result: object, field: str | None) -> int:
    answer = result if isinstance(result, Answer) else Answer(result)
    if field is not None and answer.exit_code == 0:
        sys.stdout.write(select_field(answer.body, field) + "\n")
    elif isinstance(answer.body, str):
        sys.stdout.write(answer.body + "\n")
    else:
        _print_json(answer.body)
    return answer.exit_code


async def _run_command(args: argparse.Namespace, settings: Settings) -> object:
    migrate(settings)
    db = await open_database(
        settings.db,
        busy_timeout_ms=settings.busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
        pg_synchronous_commit=settings.pg_synchronous_commit,
    )
    try:
        return await args.command(args, settings, db)
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="optiview: %(levelname)s: %(message)s")
    load_env_file()
    args = build_parser().parse_args(argv)
    if args.group == "secrets":  # before the settings, which may be refusing weak ones
        sys.stdout.write(secret_strength.env_text(secret_strength.generate()))
        return 0
    # The cron jobs check and name the database themselves (also as `python -m purge|alerts`).
    if args.group == "purge":
        return purge_cli.run(args)
    if args.group == "alerts":
        return alerts_cli.run(args)
    if args.group == "db":  # reads its own source, never the settings' database
        return db_copy_cli.run(args)
    if args.group == "crawlers":  # reads only its data folder, never the database
        return crawlers_cli.run(args)
    if args.group == "logs":  # checks and names the settings' database itself
        return logs_cli.run(args)
    path: Location | None = None
    try:
        path = database_location()
        announce_database(path)
        if args.group not in CREATES_DATABASE:
            # Before the settings, which write development secrets beside the database: a
            # refused command leaves nothing behind.
            prepare_database_file(
                path,
                create=getattr(args, "create_db", False),
                create_hint=f"pass --create-db to create an empty one, or {CREATE_HINT}",
            )
        settings = load_settings()
        if args.group == "serve":
            if args.workers < 1:
                raise ConfigError("--workers must be at least 1")
            prepare_database_file(path, create=args.create_db or not settings.production)
            return serve(
                settings,
                args.host,
                args.port,
                args.workers,
                args.server,
                not args.no_scheduler,
                access_log=args.access_log,
            )
        if args.group == "migrate":
            prepare_database_file(path, create=True)
            applied = migrate(settings)
            print(
                f"optiview: applied {', '.join(applied)}"
                if applied
                else f"optiview: {redacted(settings.db)} is up to date",
                file=sys.stderr,
            )
            return 0
        result = asyncio.run(_run_command(args, settings))
        exit_code = _print_answer(result, getattr(args, "field", None))
    except ApiError as exc:
        print(f"optiview: error: {exc.code.value}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE
    except (ConfigError, DatabaseFileError, MigrationError, StorageUnavailable) as exc:
        print(f"optiview: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except DATABASE_ERRORS as exc:
        print(f"optiview: error: {database_error(exc, path)}", file=sys.stderr)
        return EXIT_FAILURE
    if isinstance(result, dict) and "secret" in result:
        print(
            "optiview: store the secret now: it is shown this once (only its hash is kept)",
            file=sys.stderr,
        )
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
