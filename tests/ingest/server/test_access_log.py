"""`optiview serve --access-log`: one line per request at INFO under uvicorn and hypercorn, in
every worker; none without the flag."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.server.rawhttp import connect

LINE = re.compile(
    r'^\S+ \S+ optiview: INFO: access 127\.0\.0\.1:\d+ "(?P<method>\S+) (?P<target>\S+)'
    r' HTTP/1\.1" (?P<status>\d{3}) (?P<ms>\d+\.\d) ms$'
)


def server_log(server: Server) -> str:
    port = server.url.rsplit(":", 1)[1]
    return (server.db.parent / f"server-{port}.log").read_text()


def access_lines(server: Server, expected: int) -> list[re.Match[str]]:
    """The access lines once `expected` are there (a worker writes its line after the answer)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            line for line in server_log(server).splitlines() if "optiview: INFO: access " in line
        ]
        if len(lines) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


def own_lines(server: Server, count: int) -> list[re.Match[str]]:
    """The test's `count` lines, from its marked request on, leaving out start-up health
    checks that reach the log late."""
    deadline = time.monotonic() + 5
    while True:
        lines = access_lines(server, 0)
        targets = [m["target"] for m in lines]
        start = targets.index("/health?from=test") if "/health?from=test" in targets else None
        own = [] if start is None else [m for m in lines[start:] if m["target"] != "/health"]
        if len(own) >= count or time.monotonic() > deadline:
            return own
        time.sleep(0.05)


def requests(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # Marked: start-up health checks may still be reaching the log (a worker writes its
        # line after the answer), so the test's own lines are found by this one, not counted.
        assert client.get("/health", params={"from": "test"}).status_code == 200
        assert client.get("/no/such/page", params={"a": "1 2"}).status_code == 404
        refused = client.post(
            "/v1/events?debug=1", content=b"{", headers={"Origin": "https://x.com"}
        )
        assert refused.status_code == 400


@pytest.mark.parametrize(
    "args",
    [["--server", "uvicorn"], ["--server", "hypercorn"], ["--server", "uvicorn", "--workers", "2"]],
    ids=["uvicorn", "hypercorn", "uvicorn-2-workers"],
)
def test_one_line_per_request_with_the_flag(tmp_path: Path, args: list[str]):
    for server in serving(tmp_path / "optiview.db", *args, "--access-log", **INLINE_WRITER):
        requests(server)
        lines = own_lines(server, 3)

        assert [(m["method"], m["target"], m["status"]) for m in lines] == [
            ("GET", "/health?from=test", "200"),
            ("GET", "/no/such/page?a=1+2", "404"),
            ("POST", "/v1/events?debug=1", "400"),
        ]
        assert "access log:  one line per request" in server_log(server)


def test_a_hostile_target_stays_on_one_line(tmp_path: Path):
    for server in serving(tmp_path / "optiview.db", "--access-log", **INLINE_WRITER):
        before = len(access_lines(server, 0))
        with connect(server.url) as sock:
            sock.sendall(b'GET /a%0A"b\\c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            while sock.recv(65536):
                pass
        deadline = time.monotonic() + 5
        while True:  # a start-up health check may reach the log after `before` was counted
            own = [m for m in access_lines(server, before + 1)[before:] if m["target"] != "/health"]
            if own or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        (line,) = own
        assert line["target"] == "/a%0A\\x22b\\x5cc"


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_no_access_log_by_default(tmp_path: Path, server_name: str):
    for server in serving(tmp_path / "optiview.db", "--server", server_name, **INLINE_WRITER):
        requests(server)
        time.sleep(0.3)
        log = server_log(server)
        assert "optiview: INFO: access" not in log
        assert "GET /health" not in log
        assert "access log:" not in log
