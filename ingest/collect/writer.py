"""Group commit: requests enqueue their rows and await a future that resolves after COMMIT.

One writer task per process owns the database's write connection. It flushes when
`batch_events` are waiting or `flush_interval` has passed since the first one arrived. The
queue is bounded: past `max_pending` events, or while the database is failing, `submit`
refuses at once (the handler answers 503 with Retry-After) instead of growing memory.

A request waits for the database's write lock at most the busy timeout, counted from when the
first request of its batch was queued and shared by every retry: a batch that queued behind a
stalled flush gets only what is left of it, so a held lock cannot make requests wait a
multiple of the timeout.

On SQLite one commit every FOLD_EVERY_S also folds the read API's rollups, adding the rows this
writer committed since its last fold, kept in memory (unfolded_counts.py), or reading them
back when the rows past the watermark are not exactly those.

The rows go in by the backend's own path: executemany on SQLite, COPY and one merged upsert
per table on PostgreSQL (postgres_rows.py), where each commit also appends its own counts to
the read API's rollups' pending deltas (batch_rollups.py) instead of a later fold by id, and a
task of the writer's folds those deltas into the rollups every FOLD_EVERY_S on a connection of
its own (one node at a time: the others find the advisory lock taken and skip).

On PostgreSQL a node keeps up to WRITE_LANES group commits in flight, each on a writer thread
and connection of its own: a COMMIT waits for the server's disk, and meanwhile the next batch
is written instead of queueing behind it (the server flushes concurrent commits together).
Each lane adds its request rollups to a row of its own (node name and lane), so two lanes
never wait for each other's row lock; the alert rules sum every node's rows anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Self

from ingest.collect.rollups import UPSERT_SQL, RollupRecorder, upsert_rows
from ingest.collect.rows import Prepared, write_rows
from ingest.config import CollectorSettings
from ingest.metrics import BATCH_EVENTS, FLUSH_FAILURES, FLUSH_SECONDS, QUEUE_DEPTH
from ingest.node import node_name
from ingest.stats import batch_rollups
from ingest.stats import rollups as stats_rollups
from ingest.stats.unfolded_counts import UnfoldedCounts
from ingest.storage import postgres_rows
from ingest.storage.backend import Storage
from ingest.storage.database import CommitOutcomeUnknown, StorageLost, StorageUnavailable
from ingest.storage.postgres_database import WRITE_LANES, PostgresDatabase
from ingest.storage.sql import Conn, PgConn

log = logging.getLogger("optiview.writer")

IDLE_WAKE_S = 1.0  # flush rollups and key touches at least this often
BUSY_RETRIES = 2  # for errors that come at once; a timed-out wait leaves no budget to retry
RETRY_PAUSE_S = 0.01
BREAKER_OPEN_S = 1.0  # after a failed flush, refuse at once for this long
KEY_TOUCH_EVERY_MS = 60_000  # last_used_at is kept to the minute, not written per request


class Overloaded(Exception):
    """The queue is full: more events are waiting than the bound allows."""


@dataclass(slots=True)
class _Item:
    prepared: Prepared
    future: asyncio.Future[None]
    queued_at: float  # time.monotonic()


class GroupCommitWriter:
    def __init__(
        self,
        db: Storage,
        rollups: RollupRecorder,
        *,
        batch_events: int = 500,
        flush_interval_s: float = 0.0,
        max_pending: int = 20_000,
    ) -> None:
        self._db = db
        self._rollups = rollups
        self.batch_events = batch_events
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self._queue: deque[_Item] = deque()
        self.pending_events = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._failing_until = 0.0
        self.last_error: str | None = None
        # Until a flush succeeds again; an idle probe every IDLE_WAKE_S notices recovery.
        self.failed = False
        # When each flush under way started, by lane (at most one lane on SQLite).
        self._in_flight: dict[int, float] = {}
        self._lanes = WRITE_LANES if db.dialect == "postgres" else 1
        self._free_lanes: asyncio.Queue[int] = asyncio.Queue()
        for lane in range(self._lanes):
            self._free_lanes.put_nowait(lane)
        self._flushes: set[asyncio.Task[None]] = set()
        self._touches: dict[str, int] = {}
        self._touched: dict[str, int] = {}
        self._stats_folded_at = 0.0  # when a commit last folded the read API's rollups
        # Rows written since (or unknown, at start); never on PostgreSQL, where every commit
        # adds its own rows to the rollups.
        self._stats_pending = db.dialect == "sqlite"
        # SQLite: what this writer committed since the last fold, counted for the read API's
        # rollups, so that the fold need not read those rows back (unfolded_counts.py).
        self.unfolded = UnfoldedCounts()
        self._task: asyncio.Task[None] | None = None
        self._fold_task: asyncio.Task[None] | None = None
        self._written = asyncio.Event()  # set once the last rows are written, at close
        # RemoteWriter's "the writer process cannot be reached"; this one is never gone.
        self.gone: str | None = None

    @classmethod
    def tuned(cls, db: Storage, rollups: RollupRecorder, tuning: CollectorSettings) -> Self:
        """With the collector's settings: in a worker (inline) and in the writer process."""
        return cls(
            db,
            rollups,
            batch_events=tuning.batch_events,
            flush_interval_s=tuning.flush_interval_ms / 1000,
            max_pending=tuning.max_pending_events,
        )

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="group-commit")
        if isinstance(self._db, PostgresDatabase):
            self._fold_task = loop.create_task(self._fold_loop(self._db), name="rollup-fold")

    @property
    def failing(self) -> bool:
        """The breaker is open: requests are refused without waiting for the database."""
        return time.monotonic() < self._failing_until

    def waiting_s(self, now: float) -> float:
        """How long the oldest flush under way has been running (0 when none is)."""
        if not self._in_flight:
            return 0.0
        return max(0.0, now - min(self._in_flight.values()))

    async def refresh(self) -> None:
        """Nothing to ask: /health reads this writer's fields directly (RemoteWriter asks)."""

    def submit(self, prepared: Prepared) -> asyncio.Future[None]:
        if self._closing:
            raise StorageUnavailable("the service is shutting down")
        if self._db.lost is not None:
            raise StorageLost(self._db.lost)
        if self.failing:
            raise StorageUnavailable(f"storage is failing: {self.last_error}")
        if self.pending_events + prepared.count > self.max_pending:
            raise Overloaded(f"{self.pending_events} events are waiting to be written")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(prepared, future, time.monotonic()))
        self.pending_events += prepared.count
        QUEUE_DEPTH.inc(prepared.count)
        self._wakeup.set()
        return future

    def touch_key(self, key_id: str, now_ms: int) -> None:
        if now_ms - self._touched.get(key_id, 0) >= KEY_TOUCH_EVERY_MS:
            self._touches[key_id] = now_ms

    async def close(self) -> None:
        """Stop accepting, write everything queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._written.set()
        if self._fold_task is not None:
            await self._fold_task

    async def _fold_loop(self, db: PostgresDatabase) -> None:
        """PostgreSQL: fold the rollups' pending deltas every FOLD_EVERY_S, and once more after
        the last rows at close (readers are exact either way: they add the pending deltas; the
        fold keeps what they add to a few seconds' worth)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._written.wait(), stats_rollups.FOLD_EVERY_S)
            # Checked after the wait: a close during a fold still gets its own last fold.
            last = self._written.is_set()  # then wait for another node's fold, not skip
            try:
                await db.upkeep(functools.partial(stats_rollups.fold_pending, wait=last))
            except StorageUnavailable as exc:  # the deltas wait, counted, for the next fold
                log.debug("folding the read API's rollups failed, retried later: %s", exc)
            except Exception:
                log.exception("folding the read API's rollups failed")
            if last:
                return

    async def _run(self) -> None:
        while True:
            if not self._queue and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_WAKE_S)
                self._wakeup.clear()
            if self._queue and self.pending_events < self.batch_events and not self._closing:
                await asyncio.sleep(self.flush_interval_s)  # let concurrent requests join
            lane = await self._free_lanes.get()  # waits while every lane has a flush
            batch = self._take_batch()
            if batch or self._rollups or self._touches or self.failed or self._fold_due():
                self._start_flush(batch, lane)
            else:
                self._free_lanes.put_nowait(lane)
            if self._closing and not self._queue:
                await asyncio.gather(*self._flushes)
                await self._flush([], 0)  # the shutdown's own rollups
                return

    def _start_flush(self, batch: list[_Item], lane: int) -> None:
        task = asyncio.get_running_loop().create_task(self._flush(batch, lane))
        self._flushes.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._flushes.discard(finished)
            self._free_lanes.put_nowait(lane)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("group commit task failed: %r", finished.exception())

        task.add_done_callback(done)

    def _fold_due(self) -> bool:
        return (
            self._stats_pending
            and time.monotonic() - self._stats_folded_at >= stats_rollups.FOLD_EVERY_S
        )

    def _take_batch(self) -> list[_Item]:
        batch: list[_Item] = []
        events = 0
        while self._queue and (
            not batch or events + self._queue[0].prepared.count <= self.batch_events
        ):
            item = self._queue.popleft()
            batch.append(item)
            events += item.prepared.count
        return batch

    async def _flush(self, batch: list[_Item], lane: int) -> None:
        events = sum(item.prepared.count for item in batch)
        rollups = self._rollups.take()
        touches, self._touches = self._touches, {}
        fold = self._db.dialect == "sqlite" and (self._fold_due() or self._closing)
        started = time.perf_counter()
        self._in_flight[lane] = flush_started = time.monotonic()
        # The queue is in arrival order: the first item has waited longest.
        queued_at = batch[0].queued_at if batch else flush_started
        deadline = queued_at + self._db.busy_timeout_ms / 1000
        try:
            await self._write_with_retries(
                [item.prepared for item in batch], rollups, touches, deadline, fold, lane
            )
        except Exception as exc:
            self._in_flight.pop(lane, None)
            self.unfolded.failed(fold)
            self._rollups.restore(rollups)
            self._touches.update(touches)
            await self._fail(batch, exc, lane)
        else:
            self._in_flight.pop(lane, None)
            if fold:
                self._stats_folded_at = time.monotonic()
            self._stats_pending = (
                self._db.dialect == "sqlite" and not fold and (self._stats_pending or bool(batch))
            )
            FLUSH_SECONDS.observe(time.perf_counter() - started)
            if events:  # a writer process's flush of request rollups alone has no events
                BATCH_EVENTS.observe(events)
            self._touched.update(touches)
            if self.failed:
                log.warning("group commit recovered: writes succeed again")
            self.failed = False
            self._finish(batch, None)
            # Counted after the requests are answered: the tally is the fold's, not theirs.
            if fold:
                self.unfolded.folded()
            elif self._db.dialect == "sqlite":
                self.unfolded.committed([item.prepared for item in batch])

    async def _write_with_retries(
        self,
        prepared: list[Prepared],
        rollups: dict[int, list[float]],
        touches: dict[str, int],
        deadline: float,
        fold: bool = False,
        lane: int = 0,
    ) -> None:
        node = node_name() if lane == 0 else f"{node_name()}/{lane}"

        def counters(conn: Conn) -> None:
            if rollups:
                conn.executemany(UPSERT_SQL, upsert_rows(rollups, node))
            if touches:
                conn.executemany(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                    # In key order: two nodes touching the same keys lock them in one order.
                    [(when, key_id) for key_id, when in sorted(touches.items())],
                )

        def write(conn: Conn) -> None:
            if not isinstance(conn, PgConn):
                write_rows(conn, prepared)
                if fold:  # the read API's rollups, a few seconds of rows at once
                    self.unfolded.fold(conn, prepared)
                counters(conn)
                return
            postgres_rows.copy_rows(conn.raw, prepared)
            # Appended (COPY), not upserted: no row lock shared with other writers or nodes.
            batch_rollups.write_rollups(conn.raw, prepared)
            # The statements after the COPYs go out together and are answered together: one
            # round trip instead of one each (a pipeline; their errors arrive at its end).
            with conn.raw.pipeline():
                postgres_rows.upsert_rows(conn.raw, prepared)
                counters(conn)

        for attempt in range(BUSY_RETRIES + 1):
            try:
                await self._db.transaction(write, deadline)
                return
            except (StorageLost, CommitOutcomeUnknown):  # a retry could store the rows twice
                raise
            except StorageUnavailable:
                pause = RETRY_PAUSE_S * 2**attempt
                if attempt == BUSY_RETRIES or time.monotonic() + pause >= deadline:
                    raise
                await asyncio.sleep(pause)

    async def _fail(self, batch: list[_Item], exc: Exception, lane: int) -> None:
        if not isinstance(exc, StorageUnavailable) and len(batch) > 1:
            # Not the database's state but something in the rows: write each request alone,
            # so one bad request cannot fail the others.
            for item in batch:
                await self._flush([item], lane)
            return
        FLUSH_FAILURES.inc()
        self.last_error = str(exc)
        if isinstance(exc, StorageUnavailable):
            self._failing_until = time.monotonic() + BREAKER_OPEN_S
            # Said once per outage, not once per probe.
            log.log(
                logging.DEBUG if self.failed else logging.WARNING,
                "group commit failed, answering 503 for %.1f s: %s",
                BREAKER_OPEN_S,
                exc,
            )
            self.failed = True
        else:
            log.error("group commit failed: %r", exc)
        self._finish(batch, exc)

    def _finish(self, batch: list[_Item], exc: Exception | None) -> None:
        for item in batch:
            self.pending_events -= item.prepared.count
            QUEUE_DEPTH.dec(item.prepared.count)
            if item.future.done():  # the request went away; its rows are written regardless
                continue
            if exc is None:
                item.future.set_result(None)
            else:
                item.future.set_exception(exc)


__all__ = ["GroupCommitWriter", "Overloaded"]
