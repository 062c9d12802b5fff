"""Many rows in one statement: `INSERT ... VALUES (...), (...), ...` instead of executemany,
which steps a statement once per row (SQLite; used by the group commit and the rollups' fold)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.storage.sql import Conn

# Rows per statement: a power of two up to this, so a table has a few statement texts (each
# compiled once and kept in sqlite3's statement cache) whatever the group's size, and a
# statement's variables stay far below SQLite's limit (32766 by default since 3.32).
MAX_ROWS_PER_STATEMENT = 256


def insert_many(conn: Conn, head: str, tail: str, rows: Sequence[Sequence[Any]]) -> None:
    """`head` VALUES (...), (...) `tail` over the rows, in chunks of powers of two: one
    statement per chunk instead of one per row (executemany steps a statement per row)."""
    done, left = 0, len(rows)
    while left:
        size = min(MAX_ROWS_PER_STATEMENT, 1 << (left.bit_length() - 1))
        chunk = rows[done : done + size]
        conn.execute(_statement(head, tail, size, len(chunk[0])), [v for r in chunk for v in r])
        done += size
        left -= size


@functools.lru_cache(maxsize=128)
def _statement(head: str, tail: str, rows: int, columns: int) -> str:
    values = "(" + ", ".join("?" * columns) + ")"
    return head + ", ".join([values] * rows) + tail
