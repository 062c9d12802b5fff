"""The SQL half of the storage seam: one connection shape for SQLite and PostgreSQL.

Work functions take a `Conn` and write their SQL once, with SQLite's `?` placeholders; on
PostgreSQL `PgConn` rewrites each statement once (cached) into psycopg's `%s` form and binds
the values on the client, as sqlite3 does, so a `? IS NULL` or an untyped literal needs no
casts. Where the engines differ in more than spelling (GREATEST against two-argument max in SQL,
string_agg against group_concat, COPY, advisory locks), the code asks `dialect_of(conn)` and
keeps both statements beside each other: the SQL stays visible, no ORM in between.

SQLite connections are used as they are (the collector's hot path pays nothing for the seam);
rows are plain tuples on both. PostgreSQL's `sum` over BIGINT is NUMERIC, which would reach
callers as Decimal: it is loaded as int (or float when it has a fraction) like SQLite's.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
from psycopg.adapt import Loader

from ingest.storage.connection import connect as connect_sqlite

Dialect = Literal["sqlite", "postgres"]
Location = Path | str  # a SQLite file path, or a postgresql:// URL
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# For the service's long-lived connections: a server that vanished without closing them (a
# host gone, a network cut) leaves a silent socket; TCP keepalives notice it within about 20 s
# when idle, and tcp_user_timeout when data sent goes unacknowledged (instead of the kernel's
# retransmissions, about 15 minutes), and the connection is replaced.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}

# Errors a caller outside the request path (CLI, cron) reports as "cannot use the database".
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
# A UNIQUE, FOREIGN KEY or CHECK constraint refused the write.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What work functions use of a connection: sqlite3.Connection has it, PgConn copies it."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def close(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...


def is_postgres_url(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def dialect_of(conn: Conn) -> Dialect:
    return "sqlite" if isinstance(conn, sqlite3.Connection) else "postgres"


def redacted(location: Location) -> str:
    """The location for logs and /health: a URL's password replaced by ***."""
    text = str(location)
    if not is_postgres_url(text):
        return text
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)


def database_error(exc: Exception, location: Location | None) -> str:
    """What went wrong with the database, without a traceback, naming a server's database
    (its password masked, also where the driver's message repeats the URL)."""
    text = str(exc).strip()
    if location is not None and is_postgres_url(location):
        location = str(location)
        text = text.replace(location, redacted(location))
        return f"cannot use the database {redacted(location)}: {text}"
    return f"cannot use the database: {text}"


# Whole statements whose spelling differs; everything else is only re-placeholdered.
_STATEMENTS = {
    "BEGIN IMMEDIATE": "BEGIN",
    "BEGIN DEFERRED": "BEGIN",
    "BEGIN EXCLUSIVE": "BEGIN",
}


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """`?` placeholders as `%s`, and literal `%` doubled so psycopg leaves them alone. Our SQL
    puts no `?` inside string literals (values are always bound)."""
    stripped = sql.strip()
    if stripped.upper() in _STATEMENTS:
        return _STATEMENTS[stripped.upper()]
    return sql.replace("%", "%%").replace("?", "%s")


class _NumericLoader(Loader):
    """NUMERIC (what sum() over BIGINT gives) as int when whole, else float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if "." in text:
            value = float(text)
            return int(value) if value.is_integer() and "e" not in text.lower() else value
        return int(text)


def prepare_postgres(raw: psycopg.Connection[Any]) -> None:
    """The settings every service connection gets."""
    raw.adapters.register_loader("numeric", _NumericLoader)


class PgConn:
    """A psycopg connection in autocommit mode, spoken to like sqlite3's (see the module doc).
    `raw` is the psycopg connection itself, for COPY and other PostgreSQL-only calls."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        cursor = psycopg.ClientCursor(self.raw)
        cursor.execute(to_postgres(sql), _params(parameters))
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor:
        cursor = psycopg.ClientCursor(self.raw)
        cursor.executemany(to_postgres(sql), [_params(p) for p in parameters])
        return cursor

    def close(self) -> None:
        self.raw.close()

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed

    @property
    def broken(self) -> bool:
        return self.raw.broken


def _params(parameters: Any) -> Sequence[Any]:
    # psycopg formats `%%` only when given parameters: an empty tuple keeps one rule for all.
    return () if parameters is None else parameters


def connect_postgres(
    url: str, *, application_name: str = "optiview", connect_timeout: int = 5
) -> PgConn:
    raw = psycopg.connect(
        url,
        autocommit=True,  # BEGIN and COMMIT are sent explicitly, as on SQLite
        application_name=application_name,
        connect_timeout=connect_timeout,
    )
    prepare_postgres(raw)
    return PgConn(raw)


def connect(
    location: Location,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = 5000,
    *,
    create: bool = True,
    application_name: str = "optiview",
) -> Conn:
    """A synchronous connection in autocommit mode (transactions are opened explicitly), for
    the CLI and the cron jobs: a SQLite file (see connection.connect) or a PostgreSQL URL."""
    if is_postgres_url(location):
        return connect_postgres(
            str(location),
            application_name=application_name,
            connect_timeout=max(2, -(-busy_timeout_ms // 1000)),
        )
    return connect_sqlite(location, synchronous, busy_timeout_ms, create=create)


def returning_id(conn: Conn, sql: str, parameters: Sequence[Any]) -> int:
    """Run an INSERT and return the id it assigned (`lastrowid` has no PostgreSQL twin;
    RETURNING works on both, SQLite 3.35 and later)."""
    row = conn.execute(sql + " RETURNING id", parameters).fetchone()
    return int(row[0])


__all__ = [
    "DATABASE_ERRORS",
    "INTEGRITY_ERRORS",
    "Conn",
    "Cursor",
    "Dialect",
    "Location",
    "PgConn",
    "connect",
    "database_error",
    "dialect_of",
    "is_postgres_url",
    "redacted",
    "returning_id",
    "to_postgres",
]
