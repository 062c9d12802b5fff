"""hypercorn with our limits. It has some of them already: its keep-alive timeout runs from the
connection's start (or the last response) until a request's headers are complete, and h11
refuses with 431 a head that grows past its incomplete-event size while it streams in. What
it lacks is a deadline for the body and a bound on connections: both are added here, in the
connection handler that its workers look up by name each time they accept a connection."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from typing import Any

import h11
from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.protocol.h11 import H11Protocol

from ingest.server import answers
from ingest.server.limits import Limits


def hypercorn_config(factory: str, host: str, port: int, workers: int, limits: Limits) -> Config:
    config = Config()
    # Evaluated by hypercorn in each worker (so without a colon of its own in the call):
    # install the guarded connection handler there, then build the app.
    module, _, function = factory.partition(":")
    config.application_path = (
        f"{__name__}:guarded_app({module!r}, {function!r},"
        f" {limits.max_connections}, {limits.body_timeout_s})"
    )
    config.bind = [f"{host}:{port}"]
    config.workers = workers
    config.worker_class = "uvloop"
    config.graceful_timeout = 10
    config.loglevel = "WARNING"
    config.keep_alive_timeout = limits.header_timeout_s
    config.h11_max_incomplete_size = limits.max_header_bytes
    return config


def guarded_app(module: str, function: str, max_connections: int, body_timeout_s: float) -> Any:
    """The app `module`.`function`() builds, in a worker whose connections are guarded."""
    GuardedTCPServer.max_connections = max_connections
    GuardedTCPServer.body_timeout_s = body_timeout_s
    hypercorn_run.TCPServer = GuardedTCPServer  # type: ignore[attr-defined]
    return getattr(importlib.import_module(module), function)()


class GuardedTCPServer(TCPServer):
    max_connections = 0
    body_timeout_s = 10.0
    open = 0  # connections of this worker

    async def run(self) -> None:
        cls = GuardedTCPServer
        if cls.open >= cls.max_connections:
            self.writer.write(answers.too_many_connections(cls.max_connections))
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            return
        cls.open += 1
        try:
            await super().run()
        finally:
            cls.open -= 1

    async def _read_data(self) -> None:
        """hypercorn's read loop, with a deadline while a request body is coming in."""
        body_since: float | None = None
        while not self.reader.at_eof():
            receiving = self._receiving_body()
            if not receiving:
                body_since = None
            elif body_since is None:
                body_since = time.monotonic()
            timeout = (
                None if body_since is None else body_since + self.body_timeout_s - time.monotonic()
            )
            try:
                data = await asyncio.wait_for(self.reader.read(MAX_RECV), timeout)
            except TimeoutError:
                self._body_late()
                break
            except (ConnectionError, OSError):
                break
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())

    def _receiving_body(self) -> bool:
        protocol = self.protocol.protocol
        return (
            isinstance(protocol, H11Protocol)
            and isinstance(protocol.connection, h11.Connection)
            and protocol.connection.their_state is h11.SEND_BODY
        )

    def _body_late(self) -> None:
        protocol = self.protocol.protocol
        assert isinstance(protocol, H11Protocol)  # only h11 receives a body here
        if protocol.connection.our_state is h11.SEND_RESPONSE:  # the app has not answered yet
            self.writer.write(answers.body_timeout(self.body_timeout_s))
        # Closed before the app hears of the disconnect, so its answer to that goes nowhere.
        self.writer.close()
