"""Copy every table of a SQLite database into a fresh PostgreSQL database, in one transaction.

The source is read from one snapshot, each table in rowid order; the target gets the rows by
COPY in dependency order (parents first), then its identity columns restart after the largest
id copied. Either the whole copy is committed or nothing is: a failure leaves the target as
the migrations left it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper

from ingest.stats import rollups
from ingest.storage.copy import source, target
from ingest.storage.copy.progress import CopyProgress
from ingest.storage.copy.source import CopyError, LastEvent, Table
from ingest.storage.sql import PgConn

DEFAULT_BATCH = 5000


@dataclass
class CopyReport:
    last_event: LastEvent | None
    rows: dict[str, int] = field(default_factory=dict)
    identities: dict[str, int] = field(default_factory=dict)  # table: next id
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_database(
    path: Path,
    url: str,
    *,
    batch: int = DEFAULT_BATCH,
    progress: CopyProgress,
    say: Callable[[str], None],
) -> CopyReport:
    started = time.monotonic()
    src = source.open_source(path)
    try:
        source.begin_snapshot(src)
        source.check_migrated(src)
        tables = source.tables(src)
        report = CopyReport(source.last_event(src))
        say(snapshot_line(path, report.last_event))
        fresh = source.fresh_rows()
        conn = target.connect_migrated(url)
        try:
            _copy(src, conn, tables, fresh, batch, progress, report)
        finally:
            conn.close()
    finally:
        src.close()
        progress.close()
    report.seconds = time.monotonic() - started
    return report


def snapshot_line(path: Path, last: LastEvent | None) -> str:
    if last is None:
        return f"copying {path.absolute()} as of now: it holds no events"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last.received_at / 1000))
    return (
        f"copying {path.absolute()} as of its last event, id {last.id} received {when}:"
        " events written after that are not copied"
    )


def _copy(
    src: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    tables: list[Table],
    fresh: dict[str, list[tuple[object, ...]]],
    batch: int,
    progress: CopyProgress,
    report: CopyReport,
) -> None:
    current = ""
    try:
        with conn.transaction():
            target.check_columns(conn, tables)
            target.lock(conn, tables)
            target.check_empty(conn, tables, fresh)
            for table in tables:
                current = table.name
                report.rows[table.name] = _copy_table(src, conn, table, batch, progress)
            current = ""
            # The read API's rollups, completed with the rows SQLite had not folded yet.
            rollups.fold_copied(PgConn(conn))
            copied = {t.name for t in tables}
            for table_name, column in sorted(target.identity_columns(conn).items()):
                if table_name in copied:
                    floor = source.sequence_floor(src, table_name)
                    report.identities[table_name] = target.restart_identity(
                        conn, table_name, column, floor
                    )
    except psycopg.Error as exc:
        where = f" while copying table {current}" if current else ""
        raise CopyError(f"the copy failed{where}, nothing was written: {str(exc).strip()}") from exc


class RefusedBlob(Dumper):
    """No column of ours holds bytes: a BLOB in a TEXT column fails the copy, naming the table,
    instead of landing as the text of its hex escape."""

    def dump(self, obj: Any) -> bytes:
        raise psycopg.DataError("a BLOB value, which no column of the target can hold")


def _copy_table(
    src: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    table: Table,
    batch: int,
    progress: CopyProgress,
) -> int:
    progress.start(table.name, source.count(src, table))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    )
    copied = 0
    with conn.cursor() as cursor:
        cursor.adapters.register_dumper(bytes, RefusedBlob)
        with cursor.copy(statement) as copy:
            # SQLite's column affinities already give each value the Python type its
            # PostgreSQL column reads (int for INTEGER and the 0/1 flags, float for REAL, str
            # for TEXT, None): text COPY lets the server parse them, and it refuses, naming the
            # column, any value that does not fit (a fraction in an integer column).
            for chunk in source.rows(src, table, batch):
                for row in chunk:
                    copy.write_row(row)
                copied += len(chunk)
                progress.advance(len(chunk))
    progress.done()
    return copied
