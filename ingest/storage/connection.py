"""Connection pragmas live here, not in migrations: D1 forbids PRAGMA in migration files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


def pragmas(synchronous: str = "NORMAL", busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> list[str]:
    return [
        "PRAGMA journal_mode = WAL",
        f"PRAGMA busy_timeout = {int(busy_timeout_ms)}",
        "PRAGMA foreign_keys = ON",
        # NORMAL in WAL mode loses no committed transaction on a process crash, only on power
        # loss; FULL closes that gap at the cost of an fsync per commit.
        f"PRAGMA synchronous = {'FULL' if synchronous == 'FULL' else 'NORMAL'}",
    ]


def connect(
    path: Path | str, synchronous: str = "NORMAL", busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """A synchronous connection in autocommit mode: transactions are opened explicitly."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for statement in pragmas(synchronous, busy_timeout_ms):
        conn.execute(statement)
    return conn
