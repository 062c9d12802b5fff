"""Connection pragmas live here, not in migrations: D1 forbids PRAGMA in migration files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.request import pathname2url

BUSY_TIMEOUT_MS = 5000
WAL_SWITCH_RETRIES = 20  # about a second in all

# sqlite3 binds int, float, str and bytes as they are, but looks every other value up as an
# adapter first; for None it finds none, and on the way formats (and drops) an AttributeError
# message: about 4,100 instructions per NULL bound instead of about 1,950 with an adapter
# registered (callgrind), and an event row binds ten NULLs or so. `{}.get` is a C function
# that answers None for None (a lambda costs a Python frame more); None is still bound as NULL.
_EMPTY: dict[None, None] = {}
sqlite3.register_adapter(type(None), _EMPTY.get)


def pragmas(
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    wal_limit_bytes: int | None = None,
) -> list[str]:
    checkpoints = []
    if wal_limit_bytes is not None:
        # The log is checkpointed by the caller (checkpoint.py), not in this connection's
        # commits; when it restarts, its file is cut back to the limit.
        checkpoints = [
            "PRAGMA wal_autocheckpoint = 0",
            f"PRAGMA journal_size_limit = {int(wal_limit_bytes)}",
        ]
    return [
        f"PRAGMA busy_timeout = {int(busy_timeout_ms)}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA foreign_keys = ON",
        # NORMAL in WAL mode loses no committed transaction on a process crash, only on power
        # loss; FULL closes that gap at the cost of an fsync per commit.
        f"PRAGMA synchronous = {'FULL' if synchronous == 'FULL' else 'NORMAL'}",
        *checkpoints,
    ]


def connect(
    path: Path | str,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    *,
    create: bool = True,
    wal_limit_bytes: int | None = None,
) -> sqlite3.Connection:
    """A synchronous connection in autocommit mode: transactions are opened explicitly.

    With `create` False a missing file is an error ("unable to open") rather than a new, empty
    database: a connection opened after the file was deleted must not quietly replace it.
    With `wal_limit_bytes` its commits never checkpoint the write-ahead log (see pragmas).
    """
    if str(path) == ":memory:":
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    elif create:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
        uri = f"file:{pathname2url(str(Path(path).absolute()))}?mode=rw"
        conn = sqlite3.connect(uri, isolation_level=None, check_same_thread=False, uri=True)
    for statement in pragmas(synchronous, busy_timeout_ms, wal_limit_bytes):
        _execute_retrying(conn, statement)
    return conn


def _execute_retrying(conn: sqlite3.Connection, statement: str) -> None:
    """Switching a new file to WAL takes an exclusive lock; two connections doing it at once
    can deadlock, and SQLite then answers one at once with "locked" instead of waiting."""
    for attempt in range(WAL_SWITCH_RETRIES):
        try:
            conn.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_SWITCH_RETRIES - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
