"""Shared pieces of the alert tests: a real local HTTP server standing in for Slack's incoming
webhook, and rollup rows written straight into a migrated database: a SQLite file or the
module's PostgreSQL database (`db` runs a test on both backends)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingest.clock import now_ms
from ingest.collect.rollups import BUCKET_COLUMNS, COLUMNS, MINUTE_MS
from ingest.storage.migrations import migrate_database
from ingest.storage.sql import Conn, Location, connect
from tests.ingest.cron.job_databases import fresh

# What the stand-in answers, the way Slack (or its absence) would.
OK = "ok"  # 200 "ok"
ERROR_500 = "500"  # 500 "internal_error"
RATE_LIMITED = "429"  # 429 "rate_limited" with Retry-After: 1
NOT_FOUND = "404"  # 404 "no_service" (a revoked webhook)
DOWN = "down"  # nothing listens on the port
MODES = (OK, ERROR_500, RATE_LIMITED, NOT_FOUND, DOWN)

_ANSWERS: dict[str, tuple[int, bytes, dict[str, str]]] = {
    OK: (200, b"ok", {}),
    ERROR_500: (500, b"internal_error", {}),
    RATE_LIMITED: (429, b"rate_limited", {"Retry-After": "1"}),
    NOT_FOUND: (404, b"no_service", {}),
}


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    answered: int  # the status it was answered with
    at: float  # time.monotonic() when it arrived


class SlackStandIn:
    """A ThreadingHTTPServer on 127.0.0.1 that records every POSTed JSON body.

    `mode` is what it answers from now on; `script` lists answers for the next requests, one
    each, before `mode` applies again. DOWN closes the listening socket; any other mode opens it
    again on the same port, so the webhook URL stays the same.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._script: list[str] = []
        self._delays: list[float] = []
        self._mode = OK
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}/services/T000/B000/XXXX"

    # -- control -------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if mode == DOWN:
            self._close()
        elif self._server is None:
            self._listen()
        self._mode = mode

    def script(self, *answers: str) -> None:
        assert all(a in _ANSWERS for a in answers), answers
        with self._lock:
            self._script = list(answers)

    def delay(self, *seconds: float) -> None:
        """Hold the answers to the next requests this long, one each (a slow Slack)."""
        assert all(0 <= s <= 5 for s in seconds), seconds
        with self._lock:
            self._delays = list(seconds)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """The requests received, once there are at least `count` (bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} requests"
            time.sleep(0.01)
        return self.received

    def reset(self) -> None:
        self.mode = OK
        with self._lock:
            self._script = []
            self._delays = []
            self._received = []

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.received]

    def texts(self) -> list[str]:
        return [str(b.get("text")) for b in self.bodies]

    def stop(self) -> None:
        self._close()

    # -- the server ----------------------------------------------------------------------

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            mode = self._script.pop(0) if self._script else self._mode
            delay = self._delays.pop(0) if self._delays else 0.0
            answer = _ANSWERS[mode]
            self._received.append(Received(path, body, answer[0], time.monotonic()))
        time.sleep(delay)
        return answer

    def _listen(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack does

            def setup(self) -> None:
                super().setup()
                with stand_in._lock:
                    stand_in._connections.add(self.connection)

            def finish(self) -> None:
                with stand_in._lock:
                    stand_in._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode(errors="replace")}
                status, text, headers = stand_in._answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:  # kept-alive connections go down too
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)


@pytest.fixture(scope="module")
def slack_module() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def slack(slack_module: SlackStandIn) -> SlackStandIn:
    """The module's stand-in, answering 200 "ok", with nothing received yet."""
    slack_module.reset()
    return slack_module


# -- rollups ---------------------------------------------------------------------------------


def rollup_row(
    minute: int, requests: int, errors: int = 0, buckets: Mapping[str, int] | None = None
) -> tuple[float, ...]:
    """(minute, *COLUMNS): per-bucket counts (not cumulative); by default every request in
    le_10."""
    counts = dict(buckets) if buckets is not None else {"le_10": requests}
    assert set(counts) <= set(BUCKET_COLUMNS), counts
    values = {c: 0.0 for c in COLUMNS}
    values.update(requests=requests, errors=errors, events=requests)
    values.update(counts)
    values["latency_ms_sum"] = 5.0 * requests
    return (minute, *(values[c] for c in COLUMNS))


def insert_rollups(conn: Conn, rows: list[tuple[float, ...]]) -> None:
    conn.executemany(
        f"INSERT INTO request_rollups (minute, {', '.join(COLUMNS)})"
        f" VALUES (?{', ?' * len(COLUMNS)})",
        rows,
    )


def current_minute() -> int:
    now = now_ms()
    return now - now % MINUTE_MS


def new_db(folder: Path, name: str = "optiview.db") -> Path:
    path = folder / name
    migrate_database(path)
    return path


@pytest.fixture
def db(db_location: Location, tmp_path: Path) -> Location:
    """A migrated database of the test's own, on the module's backend."""
    return fresh(db_location, tmp_path)


@pytest.fixture
def conn(db: Location) -> Iterator[Conn]:
    connection = connect(db, create=False)
    try:
        yield connection
    finally:
        connection.close()


def rows(conn: Conn, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()
