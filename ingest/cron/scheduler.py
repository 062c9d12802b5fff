"""The in-process scheduler of `optiview serve`: the purge daily, the alerts every minute.

A thread in the serving process (uvicorn's supervisor when there are several workers), so
one scheduler runs per server; the jobs' leases keep it from overlapping with runs started
by cron, systemd, an operator or the schedulers of other nodes on the same PostgreSQL
database. Its runs are `bookkeeping.scheduled()`: each checks again under the lease that its
job is still due, so several nodes' schedulers make one run per period between them. Turn it
off with OPTIVIEW_SCHEDULER=off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

from ingest.clock import now_ms
from ingest.config import Settings
from ingest.cron.bookkeeping import job_state, let_go, scheduled
from ingest.cron.jobs import JOBS, due
from ingest.storage.sql import DATABASE_ERRORS, Conn, connect

log = logging.getLogger("optiview.scheduler")

Work = Callable[[Conn, int], object]
FIRST_TICK_S = 5.0


class Scheduler:
    def __init__(self, settings: Settings, work: Mapping[str, Work], tick_s: float) -> None:
        self.settings = settings
        self.work = dict(work)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="optiview-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        conn = self._connect()
        try:
            wait = min(FIRST_TICK_S, self.tick_s)
            while not self._stop.wait(wait):
                wait = self.tick_s
                self.tick(conn)
                if getattr(conn, "closed", False):
                    # A PostgreSQL server restarted or a proxy dropped us: with the session
                    # went any lease it held; the next tick starts afresh (or tries again).
                    with contextlib.suppress(*DATABASE_ERRORS):
                        conn = self._connect()
        finally:
            conn.close()

    def _connect(self) -> Conn:
        return connect(
            self.settings.db, self.settings.sqlite_synchronous, self.settings.busy_timeout_ms
        )

    def tick(self, conn: Conn) -> None:
        for name, work in self.work.items():
            if self._stop.is_set():
                return
            try:
                if due(job_state(conn, name), JOBS[name], now_ms()):
                    try:
                        with scheduled():
                            work(conn, now_ms())
                    finally:
                        let_go(conn)
            except Exception as exc:
                # Recorded in the job's heartbeat by the job itself; the scheduler carries on.
                log.warning("scheduled %s failed: %s: %s", name, type(exc).__name__, exc)
