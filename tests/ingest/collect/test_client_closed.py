"""A client that hangs up mid-body is no server error: counted as client_closed, logged without a
traceback, and left out of the rollups the alerts read. On both HTTP servers.

SQLite only: this is about the HTTP servers' handling of a hang-up, which happens before any
storage is touched; the rollups' write path is the same group commit the PostgreSQL tests
cover (test_rollups_and_country.py runs on both)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, Server, serving
from tests.ingest.collect.conftest import provision_on

ABORTS = 3


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def own_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp(f"closed-{request.param}") / "optiview.db"
    yield from serving(db, "--server", request.param)


def abort_upload(server: Server, path: str, header: str) -> None:
    """Headers promising 1000 bytes, then 10 of them, then the connection closes."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{header}\r\n".encode()
            + b"Content-Type: text/plain\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"key_id":'
        )
        time.sleep(0.05)  # let the server start reading the body before the hang-up


def metric(text: str, name: str, label: str) -> float:
    found = re.search(rf"^{name}\{{{label}\}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def rollup_totals(db: Path | str) -> tuple[int, int]:
    (requests, errors), *_ = dbprobe.rows(
        db, "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(errors), 0) FROM request_rollups"
    )
    return int(requests), int(errors)


def server_log(server: Server) -> str:
    return server.log_text()


@pytest.fixture(scope="module")
def aborted(own_server: Server) -> Iterator[tuple[Server, str]]:
    site = provision_on(own_server)
    for _ in range(ABORTS):
        abort_upload(own_server, "/v1/events", f"Origin: {site.origin}")
    abort_upload(own_server, "/api/admin/orgs", f"Authorization: Bearer {ADMIN_TOKEN}")
    assert site.send().status_code == 202  # one answered request, flushed with the rollups
    deadline = time.monotonic() + 10
    while rollup_totals(own_server.db)[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield own_server, httpx.get(own_server.url + "/metrics", timeout=5).text


def test_counted_as_client_closed_not_500(aborted: tuple[Server, str]):
    _, metrics = aborted
    requests = "optiview_collector_requests_total"
    assert metric(metrics, requests, 'status="client_closed"') == ABORTS
    assert metric(metrics, requests, 'status="500"') == 0
    assert metric(metrics, requests, 'status="202"') == 1
    rejections = "optiview_collector_rejections_total"
    assert metric(metrics, rejections, 'reason="client_closed"') == ABORTS
    assert metric(metrics, rejections, 'reason="internal_error"') == 0


def test_logged_without_traceback(aborted: tuple[Server, str]):
    server, _ = aborted
    log = server_log(server)
    assert "Traceback" not in log
    assert "ClientDisconnect" not in log
    assert "ERROR" not in log


def test_not_an_error_in_the_rollups_the_alerts_read(aborted: tuple[Server, str]):
    server, _ = aborted
    assert rollup_totals(server.db) == (1, 0)
