"""Frames between the workers and the writer process: a 4-byte length, then msgpack.

A frame is a list of messages, so that one read or write serves every request that arrived
in the same turn of the event loop. Workers send Submit (one request's rows), Counts (their
request rollups and key touches) and Ask (the writer's state, for /health); the writer answers
with Done (after the COMMIT of each one's batch, or its refusal) and State. No pickle: only
these types decode.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

import msgspec

from ingest.collect.rows import Prepared
from ingest.collect.writer import Overloaded
from ingest.storage.database import CommitOutcomeUnknown, StorageLost, StorageUnavailable

log = logging.getLogger("optiview.writer")

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024  # far above any queue's worth; a larger length is garbage


class ProtocolError(Exception):
    """The other side sent something that is no frame of ours."""


class Submit(msgspec.Struct, array_like=True, tag=0):
    seq: int
    count: int
    events: list[tuple[Any, ...]]
    sessions: list[tuple[Any, ...]]
    content: list[tuple[Any, ...]]
    referrals: list[tuple[Any, ...]]

    @classmethod
    def of(cls, seq: int, prepared: Prepared) -> Submit:
        p = prepared
        return cls(seq, p.count, p.events, p.sessions, p.content, p.referrals)

    def prepared(self) -> Prepared:
        return Prepared(self.count, self.events, self.sessions, self.content, self.referrals)


class Counts(msgspec.Struct, array_like=True, tag=1):
    """A worker's request rollups (RollupRecorder.take()) and key touches since the last ones;
    acknowledged after the COMMIT that wrote them."""

    seq: int
    rollups: dict[int, list[float]]
    touches: dict[str, int]


class Ask(msgspec.Struct, array_like=True, tag=2):
    seq: int


class Done(msgspec.Struct, array_like=True, tag=3):
    ok: list[int]
    failed: list[tuple[int, str, str]]  # seq, error kind (KINDS), message


class State(msgspec.Struct, array_like=True, tag=4):
    """What /health says about the writer (GroupCommitWriter's own fields)."""

    seq: int
    failed: bool
    last_error: str | None
    pending_events: int
    max_pending: int
    waited_s: float


ToWriter = list[Submit | Counts | Ask]
ToWorker = list[Done | State]

# The refusals a worker turns into the same answers as when it commits itself.
KINDS: dict[str, type[Exception]] = {
    "overloaded": Overloaded,
    "lost": StorageLost,
    "commit-unknown": CommitOutcomeUnknown,
    "unavailable": StorageUnavailable,
}


class WriteFailed(Exception):
    """The rows themselves failed to write (not the database's state): the request's 500."""


def kind_of(exc: BaseException) -> str:
    for kind, cls in KINDS.items():  # subclasses first: StorageLost is a StorageUnavailable
        if isinstance(exc, cls):
            return kind
    return "error"


def error_for(kind: str, message: str) -> Exception:
    return KINDS.get(kind, WriteFailed)(message)


_encoder = msgspec.msgpack.Encoder()


def encode(messages: list[Any]) -> list[bytes]:
    """One frame, as the pieces for transport.writelines (no copy to join them)."""
    body = _encoder.encode(messages)
    return [HEADER.pack(len(body)), body]


class FrameReader:
    """Whole frames out of a stream's chunks, decoded as `kind` (ToWriter or ToWorker)."""

    def __init__(self, kind: Any) -> None:
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(kind)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[list[Any]]:
        self._buffer += data
        buffer = self._buffer
        frames: list[list[Any]] = []
        start = 0
        with memoryview(buffer) as view:
            while len(buffer) - start >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer, start)
                if size > MAX_FRAME_BYTES:
                    raise ProtocolError(f"a frame of {size} bytes")
                end = start + HEADER.size + size
                if end > len(buffer):
                    break
                try:
                    frames.append(self._decoder.decode(view[start + HEADER.size : end]))
                except msgspec.DecodeError as exc:
                    raise ProtocolError(str(exc)) from None
                start = end
        del buffer[:start]
        return frames

    def frames_or_close(
        self, data: bytes, transport: asyncio.BaseTransport | None, sender: str
    ) -> list[list[Any]]:
        """The whole frames in `data`; a broken one closes the connection (nothing after it
        can be framed again) and yields none."""
        try:
            return self.feed(data)
        except ProtocolError as exc:
            log.error("%s sent a broken frame (%s): closing the connection", sender, exc)
            if transport is not None:
                transport.close()
            return []
