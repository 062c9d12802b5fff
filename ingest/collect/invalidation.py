"""Telling every node that what the collector caches (key grants, property domains, enabled
sources; directory.py) has changed.

On PostgreSQL, a change's own write transaction calls `announce`: NOTIFY is delivered at
COMMIT, to every node listening (and never for a rolled-back change), so a revoked key stops
working cluster-wide at once instead of after the cache's TTL. On SQLite, all workers are on
one machine and the TTL (2 s) is the bound; `announce` does nothing there.
"""

from __future__ import annotations

from ingest.storage.sql import Conn, dialect_of

CHANNEL = "optiview_directory"


def announce(conn: Conn) -> None:
    """Inside the transaction that changed keys, properties or sources."""
    if dialect_of(conn) == "postgres":
        conn.execute("SELECT pg_notify(?, '')", (CHANNEL,))
