"""The storage seam: what the service needs from a database, whichever engine holds it.

`Database` (SQLite, database.py) and `PostgresDatabase` (postgres_database.py) both provide it:
whole write transactions on one writer thread (`transaction`), reads on reader threads (`read`,
`read_analytics`), `StorageUnavailable` for conditions that pass (503 with Retry-After), and
the dialect, so code whose SQL differs between the two can choose. The work functions receive
a `Conn` (sql.py): SQLite's own connection, or psycopg's behind the same `execute` and `?`
placeholders. No ORM: the SQL stays visible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from ingest.storage import migrations, pg_migrations
from ingest.storage.connection import BUSY_TIMEOUT_MS
from ingest.storage.database import Database
from ingest.storage.postgres_database import PostgresDatabase
from ingest.storage.sql import Conn, Dialect, Location, is_postgres_url

T = TypeVar("T")


@runtime_checkable
class Storage(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    @property
    def busy_timeout_ms(self) -> int:
        """The default bound on waiting for a write lock; the group commit counts from it."""
        ...

    @property
    def lost(self) -> str | None:
        """Why the storage is gone for good (a replaced SQLite file), else None."""
        ...

    def check_file(self) -> str | None:
        """The health hook: `lost`, checked anew (a SQLite file can be deleted under us; a
        PostgreSQL server has no file to lose and reconnects instead)."""
        ...

    def transaction(
        self, work: Callable[[Conn], T], deadline: float | None = None
    ) -> Awaitable[T]: ...

    def read(self, work: Callable[[Conn], T]) -> Awaitable[T]: ...

    def read_analytics(self, work: Callable[[Conn], T]) -> Awaitable[T]: ...

    def close(self) -> Awaitable[None]: ...


def migrate(
    location: Location, synchronous: str = "NORMAL", busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> list[str]:
    """Apply the pending migrations of the backend the location names; return their names."""
    if is_postgres_url(location):
        return pg_migrations.migrate_database(str(location))
    return migrations.migrate_database(Path(location), synchronous, busy_timeout_ms)


async def open_database(
    url_or_path: Location,
    *,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    sqlite_synchronous: str = "NORMAL",
    pg_synchronous_commit: bool = True,
) -> Storage:
    """The backend the location names: a postgresql:// URL, otherwise a SQLite path."""
    if is_postgres_url(url_or_path):
        return await PostgresDatabase.open(str(url_or_path), busy_timeout_ms, pg_synchronous_commit)
    return await Database.open(url_or_path, sqlite_synchronous, busy_timeout_ms)


__all__ = ["Dialect", "Storage", "is_postgres_url", "migrate", "open_database"]
