"""A client that speaks HTTP/1.1 over a plain socket, to send what no polite client would."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson


@dataclass
class Answer:
    status: int | None  # None: closed without a word
    head: bytes
    body: bytes
    after_s: float

    def json(self) -> dict[str, object]:
        parsed: dict[str, object] = orjson.loads(self.body)
        return parsed


def connect(url: str, timeout: float = 10) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket, started: float | None = None) -> Answer:
    """Read one answer (or the close) from the server; the time is from `started`."""
    started = time.monotonic() if started is None else started
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = _content_length(head)
        while length is not None and len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None
    return Answer(status, head, body, time.monotonic() - started)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def closed(sock: socket.socket, within: float = 0.0) -> bool:
    """Whether the server closes the connection within `within` seconds (reading what it may
    have said first)."""
    sock.settimeout(within or None)
    if not within:
        sock.setblocking(False)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (BlockingIOError, TimeoutError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(10)
