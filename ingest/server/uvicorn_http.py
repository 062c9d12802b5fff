"""uvicorn's httptools protocol with what it lacks against slow and greedy clients: a deadline
for the request headers, one for the body, a bound on header bytes that holds while they
stream in (httptools buffers a header until it ends), and a bound on connections."""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ingest.server import answers
from ingest.server.limits import Limits, current_limits

_limits: Limits | None = None


def process_limits() -> Limits:
    """Read once per worker process: the environment and open-file limit it inherited."""
    global _limits
    if _limits is None:
        _limits = current_limits()
    return _limits


class _Refused(Exception):
    """Stops the parser once the server has answered and closed the connection."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = process_limits()
        self.deadline: asyncio.TimerHandle | None = None
        self.in_head = False  # between the first byte of a request and the end of its headers
        self.head_bytes = 0  # bytes of that request's head received so far
        self.head_began_in_chunk = False
        self.message_ended_in_chunk = False
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.refuse(answers.too_many_connections(self.limits.max_connections))
            return
        self.arm(self.limits.header_timeout_s, self.headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        self.head_began_in_chunk = self.message_ended_in_chunk = False
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if not self.refused:
                self.refuse(answers.malformed(str(exc) or type(exc).__name__))
            return
        if self.in_head:
            # Every byte of this chunk belongs to the head, unless the previous request ended
            # inside it: then the head is counted from the next chunk (at most one chunk late).
            if not (self.head_began_in_chunk and self.message_ended_in_chunk):
                self.head_bytes += len(data)
            self.head_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_bytes = 0
        self.head_began_in_chunk = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_bytes += len(url)
        if self.head_too_large():
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self.head_too_large():
            raise _Refused

    def on_headers_complete(self) -> None:
        if self.head_too_large():
            raise _Refused
        self.in_head = False
        self.arm(self.limits.body_timeout_s, self.body_late)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.message_ended_in_chunk = True
        self.disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # A pipelined request has its headers already; otherwise the next one starts its clock.
        waiting = not self.pipeline
        super().on_response_complete()
        if waiting and not self.transport.is_closing():
            self.arm(self.limits.header_timeout_s, self.headers_late)

    def head_too_large(self) -> bool:
        if self.in_head and self.head_bytes > self.limits.max_header_bytes:
            self.refuse(answers.headers_too_large(self.limits.max_header_bytes))
            return True
        return False

    def headers_late(self) -> None:
        # An idle keep-alive connection is closed without a word; a started request is told.
        if self.in_head:
            self.refuse(answers.headers_timeout(self.limits.header_timeout_s))
        else:
            self.refuse(b"")

    def body_late(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # Written here, so the app's own answer to the disconnect below goes nowhere.
            cycle.response_started = True
            self.refuse(answers.body_timeout(self.limits.body_timeout_s))
        else:
            self.refuse(b"")

    def refuse(self, answer: bytes) -> None:
        self.refused = True
        self.disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()

    def arm(self, seconds: float, callback: Any) -> None:
        self.disarm()
        self.deadline = self.loop.call_later(seconds, callback)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
