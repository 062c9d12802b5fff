"""Headers streamed without end are cut off at the limit, not buffered: the server's memory
stays flat while clients each send tens of MiB of headers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.server.rawhttp import connect

CLIENTS = 4
FLOOD = 32 * 1024 * 1024  # per client
MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:  # fmt: skip
    db = tmp_path_factory.mktemp(request.param) / "optiview.db"
    yield from serving(db, "--server", request.param, **INLINE_WRITER)


def rss_bytes(pid: int) -> int:
    """The resident memory of a process and all its descendants (the workers)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) * 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_bytes(int(child))
    return total


def flood(sock: socket.socket) -> int:
    """Send a request whose headers never end; the bytes sent before the server hung up."""
    sent = 0
    line = b"X-Flood: " + b"a" * (MIB - 11) + b"\r\n"
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        while sent < FLOOD:
            sock.sendall(line)
            sent += len(line)
    except OSError:
        pass
    return sent


def test_streamed_headers_are_cut_off_and_memory_stays_flat(server: Server):
    before = rss_bytes(server.process.pid)
    socks = [connect(server.url) for _ in range(CLIENTS)]
    try:
        sent = [flood(sock) for sock in socks]
        time.sleep(0.2)
        after = rss_bytes(server.process.pid)  # while the flooding connections are still open
    finally:
        for sock in socks:
            sock.close()
    # Cut off long before the end (what the kernel's buffers took in meanwhile aside).
    assert all(total < FLOOD // 2 for total in sent), sent
    assert after - before < 30 * MIB, (before // MIB, after // MIB)


def test_a_server_still_answers_after_the_flood(server: Server):
    sock: socket.socket = connect(server.url)
    with sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
