"""RemoteWriter: a worker's group commit done by the writer process (server.py).

It has GroupCommitWriter's interface (submit, touch_key, close and what /health reads), so the
routes and /health do not know which one they have. A submit's future resolves when the
writer answers after its batch's COMMIT, or fails with the exception the worker would have
raised itself (Overloaded, StorageUnavailable and its kinds), so the answers are the same.

When the connection is lost, every submit under way and every new one fails at once with
StorageUnavailable (503 + Retry-After, whether the lost ones were committed is unknown, as
for a COMMIT lost with its connection), /health says the writer is down, and the client
connects again as soon as the supervisor has restarted it.

The request rollups the routes record and the key touches go to the writer every SHIP_EVERY_S
and at close, answered after the COMMIT that writes them; those under way when the
connection is lost go back to be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from ingest.collect.rollups import RollupRecorder
from ingest.collect.rows import Prepared
from ingest.collect.writer import KEY_TOUCH_EVERY_MS
from ingest.storage.database import StorageUnavailable
from ingest.writer.protocol import (
    Ask,
    Counts,
    Done,
    FrameReader,
    State,
    Submit,
    ToWorker,
    encode,
    error_for,
)

log = logging.getLogger("optiview.writer")

RECONNECT_EVERY_S = 0.05
SHIP_EVERY_S = 0.25
ASK_TIMEOUT_S = 1.0
# At start, /health and the first requests wait this long for the first connection.
FIRST_CONNECT_S = 2.0
CLOSE_COUNTS_S = 10.0  # at close, how long the last counts may wait for a writer


class RemoteWriter:
    def __init__(
        self, socket_path: str | Path, rollups: RollupRecorder, *, max_pending: int
    ) -> None:
        self._path = str(socket_path)
        self._rollups = rollups
        self.max_pending = max_pending
        self._transport: asyncio.Transport | None = None
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._asked: dict[int, asyncio.Future[State]] = {}
        # Counts sent and not yet committed: sent again if the writer goes before it answers.
        self._unacked: dict[int, tuple[Counts, asyncio.Future[None]]] = {}
        self._out: list[Submit | Counts | Ask] = []
        self._send_scheduled = False
        self._touches: dict[str, int] = {}
        self._touched: dict[str, int] = {}
        self._closing = False
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ever_connected = False
        # Why the writer process cannot be reached; None while connected.
        self.gone: str | None = "not connected to the writer process yet"
        # The writer's own state, as of its last answer to refresh().
        self.failed = False
        self.last_error: str | None = None
        self.pending_events = 0
        self._waited_s = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_connected(), name="writer-link"),
            loop.create_task(self._ship_counts_loop(), name="writer-counts"),
        ]

    def waiting_s(self, now: float) -> float:
        return self._waited_s

    def submit(self, prepared: Prepared) -> asyncio.Future[None]:
        if self._closing:
            raise StorageUnavailable("the service is shutting down")
        if self._transport is None:
            raise StorageUnavailable(self.gone or "the writer process is not connected")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seq = self._next_seq()
        self._waiting[seq] = future
        self._queue(Submit.of(seq, prepared))
        return future

    def touch_key(self, key_id: str, now_ms: int) -> None:
        if now_ms - self._touched.get(key_id, 0) >= KEY_TOUCH_EVERY_MS:
            self._touches[key_id] = now_ms

    async def refresh(self) -> None:
        """Ask the writer for its state (for /health)."""
        if self._transport is None and not self._ever_connected and not self._closing:
            with contextlib.suppress(TimeoutError):  # at start only: the first connection
                await asyncio.wait_for(self._connected.wait(), FIRST_CONNECT_S)
        if self._transport is None:
            return
        future: asyncio.Future[State] = asyncio.get_running_loop().create_future()
        seq = self._next_seq()
        self._asked[seq] = future
        self._queue(Ask(seq))
        try:
            state = await asyncio.wait_for(future, ASK_TIMEOUT_S)
        except (TimeoutError, StorageUnavailable):
            return  # gone meanwhile (gone says why), or slow: the last state stands
        finally:
            self._asked.pop(seq, None)
        self.failed, self.last_error = state.failed, state.last_error
        self.pending_events, self._waited_s = state.pending_events, state.waited_s

    async def close(self) -> None:
        """Stop accepting, wait for the answers of what was submitted, send the last counts."""
        self._closing = True
        if self._waiting:  # each resolves at its COMMIT, or fails at once if the writer goes
            await asyncio.wait(list(self._waiting.values()))
        # The last request rollups, answered at their COMMIT; sent again to a restarted writer.
        deadline = time.monotonic() + CLOSE_COUNTS_S
        while (self._unacked or self._rollups or self._touches) and time.monotonic() < deadline:
            self._ship_counts_now()
            waits = [future for _, future in self._unacked.values()]
            if waits:
                await asyncio.wait(waits, timeout=RECONNECT_EVERY_S)
            else:  # not connected: wait for the restarted writer
                await asyncio.sleep(RECONNECT_EVERY_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        transport, self._transport = self._transport, None  # a close of ours, no outage
        if transport is not None:
            transport.close()
        if self._unacked or self._rollups or self._touches:
            log.warning("the writer process is gone: the last request rollups are not written")

    # The connection.

    async def _keep_connected(self) -> None:
        loop = asyncio.get_running_loop()
        outage_since: float | None = None
        while True:
            try:
                transport, _ = await loop.create_unix_connection(lambda: _Link(self), self._path)
            except OSError as exc:
                self.gone = f"the writer process cannot be reached ({exc.strerror or exc})"
                if outage_since is None:
                    outage_since = time.monotonic()
                await asyncio.sleep(RECONNECT_EVERY_S)
                continue
            if transport.is_closing():  # lost before this task resumed
                continue
            self._transport = transport
            self.gone = None
            self.failed, self._waited_s = False, 0.0
            self._disconnected.clear()
            self._connected.set()
            if outage_since is not None and self._ever_connected:
                log.warning(
                    "the writer process is reachable again after %.1f s",
                    time.monotonic() - outage_since,
                )
            outage_since = None
            self._ever_connected = True
            self._resend_counts()
            await self._disconnected.wait()
            outage_since = time.monotonic()

    def _lost(self, reason: str) -> None:
        if self._transport is None:
            return
        self._transport = None
        self.gone = f"the writer process is gone ({reason}); `optiview serve` restarts it"
        log.warning("%s: answering 503 until it is back", self.gone)
        self._connected.clear()
        self._disconnected.set()
        self._out.clear()
        failure = StorageUnavailable(self.gone)
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(failure)
        asked, self._asked = self._asked, {}
        for asked_future in asked.values():
            if not asked_future.done():
                asked_future.set_exception(StorageUnavailable(self.gone))
        # Not known to be committed: kept to be sent again (see _resend_counts).

    def _resend_counts(self) -> None:
        unacked, self._unacked = self._unacked, {}
        for counts, future in unacked.values():
            self._rollups.restore(counts.rollups)
            for key_id, when in counts.touches.items():
                self._touches.setdefault(key_id, when)
            if not future.done():
                future.set_result(None)  # close() waits for the new ones instead
        if unacked:
            self._ship_counts_now()

    # Sending.

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _queue(self, message: Submit | Counts | Ask) -> None:
        self._out.append(message)
        if not self._send_scheduled:
            self._send_scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._send_scheduled = False
        out, self._out = self._out, []
        if out and self._transport is not None:
            self._transport.writelines(encode(out))

    async def _ship_counts_loop(self) -> None:
        while True:
            await asyncio.sleep(SHIP_EVERY_S)
            if self._transport is not None:
                self._ship_counts_now()

    def _ship_counts_now(self) -> asyncio.Future[None] | None:
        if self._transport is None or not (self._rollups or self._touches):
            return None
        counts = Counts(self._next_seq(), self._rollups.take(), self._touches)
        self._touched.update(self._touches)
        self._touches = {}
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unacked[counts.seq] = (counts, future)
        self._queue(counts)
        return future

    # Receiving.

    def _received(self, frame: list[Done | State]) -> None:
        for message in frame:
            if type(message) is Done:
                for seq in message.ok:
                    self._answered(seq, None)
                for seq, kind, text in message.failed:
                    self._answered(seq, error_for(kind, text))
            elif type(message) is State:
                future = self._asked.pop(message.seq, None)
                if future is not None and not future.done():
                    future.set_result(message)

    def _answered(self, seq: int, error: Exception | None) -> None:
        future = self._waiting.pop(seq, None)
        if future is None:
            shipped = self._unacked.pop(seq, None)
            if shipped is None:
                return
            # On a failure the writer keeps the counts for its next commit: not sent again.
            future = shipped[1]
            error = None
        if future.done():  # the request went away; its rows are written regardless
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class _Link(asyncio.Protocol):
    def __init__(self, writer: RemoteWriter) -> None:
        self._writer = writer
        self._reader = FrameReader(ToWorker)
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        for frame in self._reader.frames_or_close(data, self._transport, "the writer process"):
            self._writer._received(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer._lost(str(exc) if exc else "its connection was closed")


__all__ = ["RemoteWriter"]
