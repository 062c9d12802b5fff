"""The writer process: owns the database's write connection and runs the group commit for
every worker, which submit over a Unix socket and are answered after their batch's COMMIT.

It stops on SIGTERM or SIGINT once its workers have left (they drain their requests first;
a signal sent to the whole process group must not cut them short), then writes what is
queued and exits. If `serve` dies (SIGKILL), the kernel sends it SIGTERM (PR_SET_PDEATHSIG)
and it finishes at once: nothing it acknowledged is lost, it was committed before the ack,
and it lets go of the write lock for the next server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, cast

import uvloop

from ingest import metrics
from ingest.collect.rollups import RollupRecorder
from ingest.collect.rows import Prepared
from ingest.collect.writer import GroupCommitWriter, Overloaded
from ingest.config import load_settings
from ingest.storage.backend import open_database
from ingest.storage.database import StorageUnavailable
from ingest.writer.protocol import (
    Ask,
    Counts,
    Done,
    FrameReader,
    State,
    Submit,
    ToWriter,
    encode,
    kind_of,
)

log = logging.getLogger("optiview.writer")

PROCESS_NAME = b"optiview-writer"  # /proc/<pid>/comm: how tools tell it from a worker
CLIENTS_GRACE_S = 30.0  # after a signal, how long the workers may take to leave
PARENT_POLL_S = 0.5
_PR_SET_NAME = 15
_PR_SET_PDEATHSIG = 1
EMPTY = Prepared(0, [], [], [], [])


def _prctl(option: int, value: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class Link(asyncio.Protocol):
    """One worker's connection. Answers collect here during a turn of the loop and go out
    as one frame at its end."""

    def __init__(self, service: WriterService) -> None:
        self._service = service
        self._reader = FrameReader(ToWriter)
        self._transport: asyncio.Transport | None = None
        self._ok: list[int] = []
        self._failed: list[tuple[int, str, str]] = []
        self._states: list[State] = []
        self._send_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._service.joined(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # Its queued rows are written regardless; only the answers have nowhere to go.
        self._transport = None
        self._service.left(self)

    def data_received(self, data: bytes) -> None:
        writer = self._service.writer
        for frame in self._reader.frames_or_close(data, self._transport, "a worker"):
            for message in frame:
                if type(message) is Submit:
                    self._submit(message.seq, message.prepared())
                elif type(message) is Counts:
                    # Held by the writer from now on: a failed flush keeps them for the next.
                    self._service.rollups.restore(message.rollups)
                    for key_id, when in message.touches.items():
                        writer.touch_key(key_id, when)
                    # Answered after the COMMIT that writes them, like rows.
                    self._submit(message.seq, EMPTY)
                elif type(message) is Ask:
                    self._states.append(self._service.state(message.seq))
                    self._schedule()

    def _submit(self, seq: int, prepared: Prepared) -> None:
        try:
            future = self._service.writer.submit(prepared)
        except (Overloaded, StorageUnavailable) as exc:
            self._failed.append((seq, kind_of(exc), str(exc)))
            self._schedule()
            return
        future.add_done_callback(functools.partial(self._committed, seq))

    def _committed(self, seq: int, future: asyncio.Future[None]) -> None:
        exc = future.exception()
        if exc is None:
            self._ok.append(seq)
        else:
            self._failed.append((seq, kind_of(exc), str(exc)))
        self._schedule()

    def _schedule(self) -> None:
        if not self._send_scheduled:
            self._send_scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._send_scheduled = False
        messages: list[Done | State] = [*self._states]
        if self._ok or self._failed:
            messages.append(Done(self._ok, self._failed))
        self._ok, self._failed, self._states = [], [], []
        if messages and self._transport is not None and not self._transport.is_closing():
            self._transport.writelines(encode(messages))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class WriterService:
    def __init__(self, writer: GroupCommitWriter, rollups: RollupRecorder) -> None:
        self.writer = writer
        self.rollups = rollups
        self.clients: set[Link] = set()
        self.all_left = asyncio.Event()

    def joined(self, link: Link) -> None:
        self.clients.add(link)
        self.all_left.clear()  # a worker restarted by uvicorn, or one that reconnected

    def left(self, link: Link) -> None:
        self.clients.discard(link)
        if not self.clients:
            self.all_left.set()

    def state(self, seq: int) -> State:
        w = self.writer
        return State(
            seq,
            w.failed,
            w.last_error,
            w.pending_events,
            w.max_pending,
            w.waiting_s(time.monotonic()),
        )


async def serve(socket_path: Path, parent: int) -> None:
    settings = load_settings()
    db = await open_database(
        settings.db,
        busy_timeout_ms=settings.busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
        pg_synchronous_commit=settings.pg_synchronous_commit,
    )
    tuning = settings.collector
    rollups = RollupRecorder()
    writer = GroupCommitWriter.tuned(db, rollups, tuning)
    writer.start()
    # The flush metrics are recorded here: batched, applied every 0.1 s (ingest.metrics).
    flushing = metrics.start_flushing()
    service = WriterService(writer, rollups)
    loop = asyncio.get_running_loop()
    # Bound under another name and renamed: the supervisor takes the path's existence as
    # "ready", so it must never name a socket that does not accept yet.
    staging = socket_path.with_name(socket_path.name + ".new")
    staging.unlink(missing_ok=True)
    server = await loop.create_unix_server(lambda: Link(service), str(staging))
    staging.chmod(0o600)
    staging.rename(socket_path)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watch = loop.create_task(_watch_parent(parent, stop))
    await stop.wait()
    if os.getppid() == parent:  # an orderly stop: the workers finish their requests first
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_left_or_orphaned(service, parent), CLIENTS_GRACE_S)
    watch.cancel()
    server.close()
    await writer.close()  # everything queued is committed, and the last rollups
    for _ in range(3):  # the last commit's answers: its futures' callbacks, then each _send
        await asyncio.sleep(0)
    for link in list(service.clients):
        link.close()
    await db.close()
    flushing.cancel()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Besides PR_SET_PDEATHSIG, in case the signal was missed: a poll, nothing to wait on."""
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL_S)


async def _left_or_orphaned(service: WriterService, parent: int) -> None:
    while service.clients and os.getppid() == parent:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.all_left.wait(), PARENT_POLL_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.writer")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="optiview: %(levelname)s: %(message)s")
    _prctl(_PR_SET_NAME, ctypes.c_char_p(PROCESS_NAME))
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != args.parent:  # it died before the line above could take effect
        return 0
    try:
        uvloop.run(serve(args.socket, args.parent))
    except Exception as exc:
        print(f"optiview: writer process failed: {exc!r}", file=sys.stderr, flush=True)
        return 1
    finally:
        metrics.flush_pending()
        metrics.process_exited(os.getpid())
    return 0
