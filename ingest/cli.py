"""The `optiview` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alerts import cli as alerts_cli
from ingest import __version__, secret_strength
from ingest.crawlers import cli as crawlers_cli
from ingest.logs import cli as logs_cli
from ingest.provision_cli import Answer, add_commands, select_field
from ingest.storage.copy import cli as db_copy_cli
from purge import cli as purge_cli

# Every command's parser is built on each call, but only the command given runs: what a
# command needs beyond its parser (settings, storage, psycopg, httpx, the classifiers) is
# imported inside the functions that run it, and a parser whose choices or defaults come from
# such a module is filled in only when its command is the one given (CommandParser).
if TYPE_CHECKING:
    from ingest.config import Settings
    from ingest.storage.sql import Location

EXIT_FAILURE = 1
# The commands that may create a new database file without being asked; every other one
# refuses a missing file unless given --create-db.
CREATES_DATABASE = ("serve", "migrate")

Populate = Callable[[argparse.ArgumentParser], None]


class CommandParser(argparse.ArgumentParser):
    """A command's parser; `populate`, when given, adds its arguments. The subparsers of a
    CommandParser are CommandParsers too (argparse makes them of the parent's class)."""

    lazy = False

    def __init__(self, *args: Any, populate: Populate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate
        if not self.lazy:
            self.populate()

    def populate(self) -> None:
        """Add the arguments now, once."""
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        self.populate()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.populate()
        return super().format_usage()

    def format_help(self) -> str:
        self.populate()
        return super().format_help()


class LazyCommandParser(CommandParser):
    """Adds its arguments only when it parses or prints help: only then is its command the one
    given, and only then are the modules its arguments come from worth importing."""

    lazy = True


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole command line; `lazy` (as `main` runs it) leaves each command's arguments out
    until that command is parsed, so that they import only what that command runs."""
    parser = argparse.ArgumentParser(
        prog="optiview",
        description="Optiview Edge: serve the collector and admin API, migrate the database, "
        "and provision organizations, projects, properties and keys.",
        epilog="Configuration comes from the environment (and ./.env): OPTIVIEW_DB, "
        "OPTIVIEW_ENV, OPTIVIEW_ADMIN_TOKEN, KEY_HASH_SECRET; see docs/configuration.md.",
    )
    parser.add_argument("--version", action="version", version=f"optiview {__version__}")
    sub = parser.add_subparsers(
        dest="group",
        required=True,
        metavar="COMMAND",
        parser_class=LazyCommandParser if lazy else CommandParser,
    )
    sub.add_parser(
        "serve", help="apply pending migrations, then serve HTTP", populate=_serve_arguments
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


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    from ingest.serve import SERVERS

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


def _print_json(data: object) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def migrate(settings: Settings) -> list[str]:
    from ingest.storage.backend import migrate as migrate_storage

    return migrate_storage(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)


def prepare_database_file(path: Location, *, create: bool, create_hint: str | None = None) -> None:
    """Refuse a missing database file unless creating one is allowed; say when one is made."""
    from ingest.storage.datafile import CREATE_HINT, DB_SETTING, ensure_database_file

    hint = CREATE_HINT if create_hint is None else create_hint
    if ensure_database_file(path, create=create, create_hint=hint):
        print(
            f"optiview: creating a new, empty database at {Path(path).absolute()} ({DB_SETTING})",
            file=sys.stderr,
            flush=True,
        )


def announce_database(path: Location) -> None:
    """Say which database this command uses: from another folder, or with another
    OPTIVIEW_DB, it is not the server's, and nothing else would show it."""
    from ingest.storage.datafile import DB_SETTING, describe

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
    from ingest.storage.backend import open_database

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
    from ingest.config import load_env_file

    logging.basicConfig(level=logging.WARNING, format="optiview: %(levelname)s: %(message)s")
    load_env_file()
    args = build_parser(lazy=True).parse_args(argv)
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
    return _run_on_database(args)


def _run_on_database(args: argparse.Namespace) -> int:
    """serve, migrate and the provisioning commands: on the settings' database."""
    import asyncio

    from ingest.config import ConfigError, database_location, load_settings
    from ingest.errors import ApiError
    from ingest.storage.database import StorageUnavailable
    from ingest.storage.datafile import CREATE_HINT, DatabaseFileError
    from ingest.storage.migrations import MigrationError
    from ingest.storage.sql import DATABASE_ERRORS, database_error, redacted

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
            from ingest.serve import serve

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
