"""A fresh, migrated database per test on the module's backend, for the cron jobs' tests
(purge, alerts, scheduler): a new SQLite file each time; on PostgreSQL the module's database
(`db_location`), migrated once and emptied between tests (a new database per test would cost
more than the tests themselves). Emptied means as just migrated: every table truncated, the
rows the migrations themselves wrote put back, identities restarted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.storage.backend import migrate
from ingest.storage.sql import Conn, Location, connect, dialect_of, is_postgres_url
from tests import postgres

# Per PostgreSQL database: the rows the migrations left, table by table.
_MIGRATED: dict[str, dict[str, list[tuple[Any, ...]]]] = {}


def fresh(db_location: Location, folder: Path) -> Location:
    """A migrated database with nothing in it but what the migrations wrote."""
    if not is_postgres_url(db_location):
        path = folder / "optiview.db"
        migrate(path)
        return path
    url = str(db_location)
    conn = connect(url)
    try:
        if url not in _MIGRATED:
            migrate(url)
            _MIGRATED[url] = {
                table: list(conn.execute(f"SELECT * FROM {table}").fetchall())
                for table in tables(conn)
            }
        else:
            _restore(conn, _MIGRATED[url])
    finally:
        conn.close()
    return url


def _restore(conn: Conn, migrated: dict[str, list[tuple[Any, ...]]]) -> None:
    conn.execute("BEGIN")
    conn.execute(f"TRUNCATE {', '.join(migrated)} RESTART IDENTITY CASCADE")
    for table, rows in migrated.items():
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    conn.execute("COMMIT")


def tables(conn: Conn) -> list[str]:
    """The schema's tables but the migrations' own bookkeeping."""
    if dialect_of(conn) == "sqlite":
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> 'd1_migrations' ORDER BY name"
        )
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'd1_migrations'"
            " ORDER BY table_name"
        )
    return [row[0] for row in conn.execute(sql).fetchall()]


def dump(conn: Conn) -> str:
    """Every row of every table, in a stable order: equal dumps, equal contents."""
    lines = []
    for table in tables(conn):
        rows = sorted(repr(tuple(row)) for row in conn.execute(f"SELECT * FROM {table}"))
        lines += [f"{table}: {row}" for row in rows]
    return "\n".join(lines)


def connections(location: Location, count: int) -> Iterator[Conn]:
    """`count` connections of their own (as separate nodes would have)."""
    for _ in range(count):
        yield connect(location, create=False)


@contextlib.contextmanager
def own_database(
    backend: str, folder: Path, request: pytest.FixtureRequest, label: str
) -> Iterator[Location]:
    """A new, empty database of its own on `backend` (not the module's `db_location`): a
    SQLite path in `folder`, or a new PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        yield folder / "optiview.db"
        return
    server_url: str = request.getfixturevalue("postgres_server")
    with postgres.fresh_database(server_url, label) as url:
        yield url
