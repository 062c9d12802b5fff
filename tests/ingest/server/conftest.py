"""Raw sockets for hostile clients, all closed after the test."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.ingest.server.rawhttp import connect


@pytest.fixture
def raw() -> Iterator[Callable[[str], socket.socket]]:
    opened: list[socket.socket] = []

    def open_to(url: str) -> socket.socket:
        opened.append(connect(url))
        return opened[-1]

    yield open_to
    for sock in opened:
        sock.close()
