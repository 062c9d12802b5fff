"""The PostgreSQL side of a copy: reached, migrated, locked, found empty, and its identities
moved past the copied ids at the end."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from ingest.storage.copy.source import CopyError, Table
from ingest.storage.migrations import MigrationError
from ingest.storage.pg_migrations import apply_pending

CONNECT_TIMEOUT_S = 10
SCHEMES = ("postgresql", "postgres")


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def connect_migrated(url: str) -> psycopg.Connection[Any]:
    """A connection to the target, its migrations applied (by the PostgreSQL runner, which
    records them in its own d1_migrations), left in transaction mode for the copy."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise CopyError(f"cannot connect to {shown(url)}: {str(exc).strip()}") from exc
    try:
        apply_pending(conn)
    except MigrationError as exc:
        conn.close()
        raise CopyError(f"cannot migrate {shown(url)}: {exc}") from exc
    conn.autocommit = False
    return conn


def check_columns(conn: psycopg.Connection[Any], tables: list[Table]) -> None:
    """The target's tables have the source's columns, no more and no fewer."""
    found: dict[str, set[str]] = {}
    for table_name, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
    ):
        found.setdefault(str(table_name), set()).add(str(column))
    for table in tables:
        if table.name not in found:
            raise CopyError(f"the target has no table {table.name}")
        if found[table.name] != set(table.columns):
            raise CopyError(
                f"table {table.name} has columns {sorted(found[table.name])} in the target but"
                f" {sorted(table.columns)} in the source"
            )


def lock(conn: psycopg.Connection[Any], tables: list[Table]) -> None:
    """Taken inside the copy's transaction, before the emptiness check: a second copy into the
    same database waits, then finds the rows of the first and stops."""
    names = sql.SQL(", ").join(sql.Identifier(t.name) for t in tables)
    conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(names))


def check_empty(
    conn: psycopg.Connection[Any],
    tables: list[Table],
    fresh: dict[str, list[tuple[object, ...]]],
) -> None:
    """Every table holds no rows, or only those the migrations put in a new database; those
    are removed here (in the copy's transaction) to make way for the source's."""
    for table in tables:
        name = sql.Identifier(table.name)
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
        held = int(row[0]) if row else 0
        expected = fresh.get(table.name, [])
        if held == 0:
            continue
        if held == len(expected):
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
            present = conn.execute(sql.SQL("SELECT {} FROM {}").format(columns, name)).fetchall()
            if sorted(map(tuple, present)) == sorted(expected):
                conn.execute(sql.SQL("DELETE FROM {}").format(name))
                continue
        raise CopyError(
            f"the target is not empty: table {table.name} holds {held} row(s); copy into a"
            " freshly created database (CREATE DATABASE ...)"
        )


def identity_columns(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {
        str(table): str(column)
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
    }


def restart_identity(conn: psycopg.Connection[Any], table: str, column: str, floor: int) -> int:
    """Make the next generated id follow the largest one copied (or `floor`, the largest one
    SQLite ever gave out); ALTER TABLE, unlike setval, is undone with the transaction."""
    found = conn.execute(
        sql.SQL("SELECT coalesce(max({}), 0) FROM {}").format(
            sql.Identifier(column), sql.Identifier(table)
        )
    ).fetchone()
    following = max(int(found[0]) if found else 0, floor) + 1
    conn.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} RESTART WITH {}").format(
            sql.Identifier(table), sql.Identifier(column), sql.Literal(following)
        )
    )
    return following
