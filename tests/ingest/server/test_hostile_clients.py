"""Clients that send too slowly, too much, or not what they declared, over raw sockets, against
both servers: each gets its documented answer, nothing of theirs is stored, and a legitimate
client beside them is served."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.collect.conftest import Site, provision_on
from tests.ingest.server.rawhttp import closed, read_answer

Raw = Callable[[str], socket.socket]

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
MAX_HEADER_BYTES = 16 * 1024
SLACK_S = 1.5  # the server's timer, the event loop and this machine's other work


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def hostile_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Server]:  # fmt: skip
    db = tmp_path_factory.mktemp(request.param) / "optiview.db"
    yield from serving(
        db,
        "--server",
        request.param,
        OPTIVIEW_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        OPTIVIEW_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        **INLINE_WRITER,
    )


@pytest.fixture(scope="module")
def victim(hostile_server: Server) -> Site:
    return provision_on(hostile_server)


def head(site: Site, length: int | None, *extra: str) -> bytes:
    lines = [
        "POST /v1/events HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: text/plain",
        f"Origin: {site.origin}",
        *([f"Content-Length: {length}"] if length is not None else []),
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def body(site: Site) -> bytes:
    return orjson.dumps(site.payload(site.pageview("/hostile")))


def stored(site: Site) -> int:
    return len(site.rows("SELECT 1 FROM events WHERE path = '/hostile'"))


def test_slow_headers_are_cut_off_and_legit_traffic_is_served(raw: Raw, victim: Site):
    sock = raw(victim.server.url)
    started = time.monotonic()
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
    while time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S:
        assert victim.send().status_code == 202
        try:
            sock.sendall(b"X-Slow: 1\r\n")  # a header now and then does not reset the clock
        except OSError:
            break
        if closed(sock):
            break
        time.sleep(0.2)
    answer = read_answer(sock, started)
    assert answer.status in (408, None)
    assert closed(sock, within=2)
    assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S


def test_an_idle_connection_is_closed_after_the_header_timeout(raw: Raw, victim: Site):
    sock = raw(victim.server.url)
    answer = read_answer(sock)
    assert answer.status in (408, None)
    assert HEADER_TIMEOUT_S - 0.2 < answer.after_s < HEADER_TIMEOUT_S + SLACK_S


def test_a_stalled_body_times_out_and_nothing_is_stored(raw: Raw, victim: Site):
    sent = body(victim)
    sock = raw(victim.server.url)
    sock.sendall(head(victim, len(sent)) + sent[: len(sent) // 2])
    answer = read_answer(sock)
    assert answer.status in (408, None), answer.head
    if answer.status == 408:
        assert answer.json()["error"] == "request_timeout"
    assert answer.after_s < BODY_TIMEOUT_S + SLACK_S
    assert victim.send().status_code == 202
    assert stored(victim) == 0


def test_a_trickled_body_is_cut_off_at_the_body_deadline(raw: Raw, victim: Site):
    sent = body(victim)
    sock = raw(victim.server.url)
    started = time.monotonic()
    sock.sendall(head(victim, len(sent)))
    for byte in sent[:-1]:
        if time.monotonic() - started > BODY_TIMEOUT_S + SLACK_S:
            break
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.1)
    answer = read_answer(sock, started)
    assert answer.status == 408, answer.head
    assert answer.json()["error"] == "request_timeout"
    assert answer.after_s < BODY_TIMEOUT_S + SLACK_S
    assert stored(victim) == 0


def test_a_content_length_larger_than_the_body_times_out(raw: Raw, victim: Site):
    sent = body(victim)
    sock = raw(victim.server.url)
    sock.sendall(head(victim, len(sent) + 100) + sent)
    answer = read_answer(sock)
    assert answer.status in (408, None), answer.head
    assert answer.after_s < BODY_TIMEOUT_S + SLACK_S
    assert stored(victim) == 0


def test_a_content_length_smaller_than_the_body_is_a_400_never_a_500(raw: Raw, victim: Site):
    sent = body(victim)
    sock = raw(victim.server.url)
    sock.sendall(head(victim, len(sent) - 10) + sent)
    # The body as declared is cut short (invalid JSON) and the ten bytes left over are read as
    # the next request (not HTTP): either may be answered first, then the connection closes.
    first = read_answer(sock)
    assert first.status == 400, first.head
    assert first.json()["error"] in ("invalid_json", "malformed_request")
    second = read_answer(sock)
    assert second.status in (400, None), second.head
    assert stored(victim) == 0


def test_a_chunked_body_without_its_last_chunk_times_out(raw: Raw, victim: Site):
    sent = body(victim)
    sock = raw(victim.server.url)
    sock.sendall(
        head(victim, None, "Transfer-Encoding: chunked") + b"%x\r\n%s\r\n" % (len(sent), sent)
    )
    answer = read_answer(sock)
    assert answer.status in (408, None), answer.head
    assert answer.after_s < BODY_TIMEOUT_S + SLACK_S
    assert stored(victim) == 0


def test_headers_over_the_limit_get_431(raw: Raw, victim: Site, hostile_server: Server):
    sock = raw(victim.server.url)
    # hypercorn (h11) measures a head only while it is incomplete, and reads 64 KiB at a time.
    size = 20 if hostile_server.process.args[-1] == "uvicorn" else 100  # type: ignore[index]
    flood = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"a" * 1000) for i in range(size))
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + flood + b"\r\n")
    answer = read_answer(sock)
    assert answer.status == 431, answer.head
    assert closed(sock, within=2)
    if answer.body:  # hypercorn answers without a body
        assert answer.json()["error"] == "headers_too_large"


def test_one_header_streamed_past_the_limit_gets_431_before_it_ends(raw: Raw, victim: Site):
    sock = raw(victim.server.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (MAX_HEADER_BYTES + 1))
    answer = read_answer(sock)
    assert answer.status == 431, answer.head


def test_headers_just_under_the_limit_are_served(raw: Raw, victim: Site):
    filler = b"a" * (MAX_HEADER_BYTES - 1024)
    sock = raw(victim.server.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + filler + b"\r\n\r\n")
    assert read_answer(sock).status == 200
