"""The SQLite side of a copy: opened read-only, its tables in dependency order, one snapshot."""

from __future__ import annotations

import graphlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import pathname2url

from ingest.storage.connection import BUSY_TIMEOUT_MS, connect
from ingest.storage.migrations import apply_pending, available

# Kept by each backend's migration runner for itself, never copied.
BOOKKEEPING = "d1_migrations"


class CopyError(Exception):
    """The copy cannot start or did not complete; the message says why and what to do."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class LastEvent:
    id: int
    received_at: int


def open_source(path: Path) -> sqlite3.Connection:
    """Read-only, so that a copy never creates, migrates or changes the source."""
    if not path.exists():
        raise CopyError(f"no SQLite database at {path.absolute()} (--from or OPTIVIEW_DB)")
    if not path.is_file():
        raise CopyError(f"{path.absolute()} is not a file")
    uri = f"file:{pathname2url(str(path.absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def begin_snapshot(conn: sqlite3.Connection) -> None:
    """Every read until the end of the transaction sees the database as of its first read; in
    WAL mode the service may go on writing meanwhile, and those writes are not seen."""
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


def check_migrated(conn: sqlite3.Connection) -> None:
    """The source must be at this version's schema, the one the target is migrated to."""
    try:
        done = {str(row[0]) for row in conn.execute(f"SELECT name FROM {BOOKKEEPING}")}
    except sqlite3.DatabaseError as exc:
        raise CopyError(f"the source is not an Optiview database: {exc}") from exc
    known = {m.name for m in available()}
    if missing := sorted(known - done):
        raise CopyError(
            f"the source has pending migrations ({', '.join(missing)}): run `optiview migrate`"
            " on it first (or start the service once)"
        )
    if unknown := sorted(done - known):
        raise CopyError(
            f"the source has migrations this version does not know ({', '.join(unknown)}):"
            " copy it with the version of optiview that serves it"
        )


def tables(conn: sqlite3.Connection) -> list[Table]:
    """Every table the migrations made, parents before the tables whose foreign keys name them."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name != ? ORDER BY name",
            (BOOKKEEPING,),
        )
    ]
    graph = graphlib.TopologicalSorter[str]()
    for name in names:
        parents = {str(row[2]) for row in conn.execute(f"PRAGMA foreign_key_list({_quote(name)})")}
        graph.add(name, *sorted(parents - {name}))
    graph.prepare()
    ordered: list[str] = []
    while graph.is_active():  # level by level, each sorted: the same order on every run
        ready = sorted(graph.get_ready())
        ordered += ready
        graph.done(*ready)
    return [Table(name, _columns(conn, name)) for name in ordered if name in names]


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(str(row[1]) for row in conn.execute(f"PRAGMA table_info({_quote(table)})"))


def count(conn: sqlite3.Connection, table: Table) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {_quote(table.name)}").fetchone()[0])


def rows(conn: sqlite3.Connection, table: Table, batch: int) -> Iterator[list[tuple[object, ...]]]:
    """The table's rows in rowid order, `batch` at a time."""
    columns = ", ".join(_quote(c) for c in table.columns)
    cursor = conn.execute(f"SELECT {columns} FROM {_quote(table.name)} ORDER BY rowid")
    while chunk := cursor.fetchmany(batch):
        yield chunk


def last_event(conn: sqlite3.Connection) -> LastEvent | None:
    row = conn.execute("SELECT id, received_at FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else LastEvent(int(row[0]), int(row[1]))


def sequence_floor(conn: sqlite3.Connection, table: str) -> int:
    """The largest id AUTOINCREMENT ever handed out for `table` (0 if none): ids of deleted
    rows are never reused there, and the target's identity must not reuse them either."""
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    except sqlite3.OperationalError:  # no AUTOINCREMENT table at all
        return 0
    return int(row[0]) if row is not None and row[0] is not None else 0


def fresh_rows() -> dict[str, list[tuple[object, ...]]]:
    """The rows the migrations themselves insert into a new database (stats_folded's one row),
    per table: a target holding exactly these is still empty."""
    conn = connect(":memory:")
    try:
        apply_pending(conn)
        found: dict[str, list[tuple[object, ...]]] = {}
        for table in tables(conn):
            columns = ", ".join(_quote(c) for c in table.columns)
            found[table.name] = conn.execute(
                f"SELECT {columns} FROM {_quote(table.name)} ORDER BY rowid"
            ).fetchall()
        return {name: found_rows for name, found_rows in found.items() if found_rows}
    finally:
        conn.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
