"""Look into a service's database from a test, whichever backend holds it.

The SQL is written once, with `?` placeholders, and goes through the service's own seam
(`ingest.storage.sql.connect`), so a check reads the same on SQLite and PostgreSQL. Each call
opens and closes its own connection: a test must see what the server committed, nothing held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.storage.sql import Location, connect, is_postgres_url


def rows(location: Location, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
    conn = connect(location, create=False)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def value(location: Location, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
    """The first column of the first row (None when there is no row)."""
    found = rows(location, sql, params)
    return found[0][0] if found else None


def execute(location: Location, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
    """Run one writing statement in its own transaction; return the rows it touched."""
    conn = connect(location, create=False)
    try:
        conn.execute("BEGIN")
        cursor = conn.execute(sql, params)
        conn.execute("COMMIT")
        return int(getattr(cursor, "rowcount", -1))
    finally:
        conn.close()


def is_sqlite(location: Location) -> bool:
    return not is_postgres_url(location)


def sqlite_path(location: Location) -> Path:
    """For the tests that are about the file itself (deleted, replaced, locked)."""
    assert is_sqlite(location), f"{location} is not a SQLite file"
    return Path(location)
