"""The 202 promise under real load: an acknowledged event is committed, whether the server is
then killed with SIGKILL or stopped with SIGTERM (drain), and a crashed database serves again.
Both backends (the module's database on each in turn; each test provisions its own site)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from tests import dbprobe
from tests.conftest import Server, start_server
from tests.ingest.collect.conftest import CHROME, Site, provision_on

SENDERS = 8
MAX_REQUESTS_PER_SENDER = 4000  # a bound on each loop, far above what the test waits for
MIN_ACKNOWLEDGED = 300  # the load the SIGKILL must interrupt for the test to mean anything
# Off, so that the load measures the write path rather than the per-key token bucket.
NO_RATE_LIMIT = {"OPTIVIEW_RATE_LIMIT_PER_KEY": "0"}


@pytest.fixture
def db(db_location: Path | str) -> Path | str:
    return db_location


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """TMPDIR for the servers: `serve` makes its metrics folder there (tempfile honours it),
    so a folder a killed server cannot remove stays out of the shared /tmp."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Every server a test starts, stopped (or reaped) at the end whatever happened."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait(timeout=15)


@dataclass
class Load:
    """Single-event pageviews with a unique path each, from several threads with keep-alive."""

    site: Site
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: list[str] = field(default_factory=list)  # markers answered 202
    statuses: list[int] = field(default_factory=list)  # every HTTP answer
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(SENDERS):
            thread = threading.Thread(target=self._send, args=(n,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        assert not any(t.is_alive() for t in self.threads), "a sender did not stop"

    def _send(self, n: int) -> None:
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": CHROME,
            "Origin": self.site.origin,
        }
        url = self.site.server.url + "/v1/events"
        with httpx.Client(timeout=httpx.Timeout(10, connect=2)) as client:
            for i in range(MAX_REQUESTS_PER_SENDER):
                if self.stop.is_set():
                    return
                marker = f"/m/{n}-{i}"
                body = orjson.dumps(self.site.payload(self.site.pageview(marker)))
                try:
                    answer = client.post(url, content=body, headers=headers)
                except httpx.TransportError:
                    with self.lock:
                        self.transport_errors += 1
                    time.sleep(0.02)  # the server is gone or going: do not spin
                    continue
                with self.lock:
                    self.statuses.append(answer.status_code)
                    if answer.status_code == 202:
                        self.acknowledged.append(marker)


def stored_paths(db: Path | str, property_id: int) -> set[str]:
    rows = dbprobe.rows(db, "SELECT path FROM events WHERE property_id = ?", (property_id,))
    return {row[0] for row in rows}


def stored_once(db: Path | str, property_id: int) -> bool:
    """No event was written twice (a retried group commit must not double anything)."""
    return not dbprobe.rows(
        db,
        "SELECT path FROM events WHERE property_id = ? GROUP BY path HAVING count(*) > 1",
        (property_id,),
    )


def test_every_202_survives_sigkill_under_concurrent_load_and_the_db_serves_again(
    db: Path | str, scratch: Path, servers: list[Server]
):
    server = start_server(db, TMPDIR=str(scratch), **NO_RATE_LIMIT)
    servers.append(server)
    site = provision_on(server)
    load = Load(site)
    load.start()
    # Kill once the load means something, however slow the machine is today.
    deadline = time.monotonic() + 30
    while len(load.acknowledged) < MIN_ACKNOWLEDGED and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # and with requests in flight, not at a lull
    os.kill(server.process.pid, signal.SIGKILL)  # one worker: uvicorn serves in this process
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    time.sleep(0.5)  # the senders now only meet refused connections
    load.finish()

    acknowledged = set(load.acknowledged)
    stored = stored_paths(db, site.property_id)
    lost = acknowledged - stored
    print(
        f"\nSIGKILL: {len(acknowledged)} acknowledged, {len(stored)} stored,"
        f" {len(lost)} acknowledged but lost, {load.transport_errors} transport errors"
    )
    assert len(acknowledged) >= MIN_ACKNOWLEDGED, "too little load for the test to mean anything"
    assert len(acknowledged) == len(load.acknowledged)  # markers are unique
    assert not lost, f"{len(lost)} events answered 202 are not in the database: {sorted(lost)[:5]}"
    assert set(load.statuses) == {202}
    assert stored_once(db, site.property_id)

    # Recovery: a new server on the crashed file migrates, answers and stores.
    again = start_server(db, TMPDIR=str(scratch), **NO_RATE_LIMIT)
    servers.append(again)
    health = httpx.get(again.url + "/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    site.server = again
    answer = site.send(site.pageview("/after-the-crash"))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 1}
    assert "/after-the-crash" in stored_paths(db, site.property_id)
    assert stored <= stored_paths(db, site.property_id)
    again.stop()
    assert again.process.returncode is not None


def test_sigterm_drains_every_202_and_exits_cleanly(
    db: Path | str, scratch: Path, servers: list[Server]
):
    server = start_server(db, TMPDIR=str(scratch), **NO_RATE_LIMIT)
    servers.append(server)
    site = provision_on(server)
    load = Load(site)
    load.start()
    time.sleep(1.5)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        code = server.process.wait(timeout=15)
    finally:
        load.finish()
    exit_s = time.monotonic() - signalled

    acknowledged = set(load.acknowledged)
    stored = stored_paths(db, site.property_id)
    print(
        f"\nSIGTERM: {len(acknowledged)} acknowledged, {len(stored)} stored,"
        f" exited with {code} after {exit_s:.2f} s, {load.transport_errors} transport errors"
    )
    assert len(acknowledged) >= 100, "too little load for the test to mean anything"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events were lost"
    # Whatever was answered was answered properly: no 5xx while draining.
    assert not [s for s in load.statuses if s >= 500], sorted(set(load.statuses))
    assert set(load.statuses) == {202}
    # After the stop nobody is listening any more.
    with pytest.raises(httpx.ConnectError):
        site.send()
    log = server.log_text()
    assert "Traceback" not in log
    assert "ERROR" not in log
    # A clean exit: status 0, and the atexit hook removed the workers' metrics folder.
    leftovers = sorted(p.name for p in scratch.iterdir())
    assert (code, leftovers) == (0, []), (
        f"`optiview serve` exited with {code} after SIGTERM and left {leftovers} behind"
    )
