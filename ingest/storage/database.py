"""One writer connection per database file, behind a lock; reads go to another connection.

Handlers never write: they hand a transaction function to `Database.transaction`, which runs it
inside BEGIN IMMEDIATE on the writer and commits before returning (Datasette's pattern).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite

from ingest.storage.connection import BUSY_TIMEOUT_MS, pragmas

T = TypeVar("T")
Transaction = Callable[[aiosqlite.Connection], Awaitable[T]]


class StorageUnavailable(Exception):
    """The database could not take the work now (locked past busy_timeout, disk, I/O)."""


# Conditions that pass with time or operator action, as opposed to bugs in our SQL.
_UNAVAILABLE_MARKERS = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


def is_unavailable(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return any(marker in message for marker in _UNAVAILABLE_MARKERS)


class Database:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connections = []
        for _ in range(2):
            conn = await aiosqlite.connect(path, isolation_level=None)
            for statement in pragmas(synchronous, busy_timeout_ms):
                await conn.execute(statement)
            conn.row_factory = aiosqlite.Row
            connections.append(conn)
        return cls(*connections)

    async def transaction(self, work: Transaction[T]) -> T:
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"cannot start a write: {exc}") from exc
            try:
                result = await work(self._writer)
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                if is_unavailable(exc):
                    raise StorageUnavailable(f"write failed: {exc}") from exc
                raise
            return result

    async def read(self, work: Transaction[T]) -> T:
        try:
            return await work(self._reader)
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                raise StorageUnavailable(f"read failed: {exc}") from exc
            raise

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
