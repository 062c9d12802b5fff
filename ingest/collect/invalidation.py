"""Telling every node that what the collector caches (key grants, property domains, enabled
sources; directory.py) has changed.

On PostgreSQL, a change's own write transaction calls `announce`: NOTIFY is delivered at
COMMIT, to every node listening (and never for a rolled-back change), so a revoked key stops
working cluster-wide at once instead of after the cache's TTL. Each node's `Listener` holds one
LISTEN connection on a thread of its own and drops the caches on every notification; when that
connection is lost it reconnects and drops them again, since notifications sent meanwhile were
missed. The TTL stays as the net under both. On SQLite, all workers are on one machine and the
TTL (2 s) is the bound; `announce` does nothing there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from ingest.storage.sql import KEEPALIVES, Conn, dialect_of

log = logging.getLogger("optiview.invalidation")

CHANNEL = "optiview_directory"
LISTENER_NAME = "optiview-listener"  # seen in pg_stat_activity
WAKE_S = 0.25  # how often the thread looks up from its wait (to stop, to check the connection)
CHECK_EVERY_S = 5.0  # a quiet connection is checked this often, so a dead one is noticed
RETRY_S = (0.1, 0.5, 1.0, 2.0)  # reconnect pauses, the last one repeated
CONNECT_TIMEOUT_S = 2


def announce(conn: Conn) -> None:
    """Inside the transaction that changed keys, properties or sources."""
    if dialect_of(conn) == "postgres":
        conn.execute("SELECT pg_notify(?, '')", (CHANNEL,))


class Listener:
    """LISTENs on CHANNEL and calls `changed` (from its own thread) after each notification
    and after each (re)connection."""

    def __init__(self, url: str, changed: Callable[[], Any]) -> None:
        self._url = url
        self._changed = changed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self.connected = threading.Event()  # for tests and /health: listening now

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    application_name=LISTENER_NAME,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    **KEEPALIVES,
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self.connected.set()
                    self._changed()  # whatever was announced while nobody listened
                    self._listen(conn)
            except psycopg.Error as exc:
                log.log(
                    logging.DEBUG if failures else logging.WARNING,
                    "cache invalidation: the LISTEN connection failed, reconnecting: %s",
                    exc,
                )
            self.connected.clear()
            pause = RETRY_S[min(failures, len(RETRY_S) - 1)]
            failures += 1
            self._stop.wait(pause)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            # Back at the first notification; several that arrive together are one forget.
            if list(conn.notifies(timeout=WAKE_S, stop_after=1)):
                self._changed()
                checked = time.monotonic()
            elif time.monotonic() - checked >= CHECK_EVERY_S:
                conn.execute("SELECT 1")  # raises when the server is gone
                checked = time.monotonic()


__all__ = ["CHANNEL", "Listener", "announce"]
