"""1,100 idle partial requests, more than the common soft open-file limit of 1,024, do not keep
a legitimate client from being served: the server raises its limit to the hard one at start,
and closes the idle ones at the header timeout (the attacker opens them again)."""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, service_env
from tests.ingest.collect.conftest import provision_on

IDLE = 1100
SOFT, HARD = 1024, 8192
PARTIAL = b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"


@contextlib.contextmanager
def under_prlimit(db: Path, server: str, **env_extra: str) -> Iterator[Server]:
    port = free_port()
    env = service_env(db, **env_extra)
    log = db.parent / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["prlimit", f"--nofile={SOFT}:{HARD}", sys.executable, "-m", "ingest", "serve",
             "--port", str(port), "--server", server],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Server(f"http://127.0.0.1:{port}", db, env, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(running.url + "/health", timeout=1).status_code < 500:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@pytest.fixture
def many_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * IDLE)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_idle_partial_requests_do_not_deny_service(
    tmp_path: Path, many_fds: None, server_name: str
):
    with under_prlimit(
        tmp_path / "optiview.db", server_name, OPTIVIEW_HEADER_TIMEOUT_S="2"
    ) as server:
        assert open_files_limit(server.process.pid) == HARD
        site = provision_on(server)
        idle = selectors.DefaultSelector()
        opened = 0

        def open_idle() -> None:
            nonlocal opened
            sock = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
            sock.sendall(PARTIAL)
            idle.register(sock, selectors.EVENT_READ)
            opened += 1

        try:
            for _ in range(IDLE):
                open_idle()
            served, started = [], time.monotonic()
            while time.monotonic() - started < 6:  # three header timeouts
                for key, _ in idle.select(timeout=0):  # closed (or told 408): open another
                    idle.unregister(key.fileobj)
                    key.fileobj.close()  # type: ignore[union-attr]
                    open_idle()
                held = len(idle.get_map())
                sent = time.monotonic()
                status = site.send().status_code
                served.append((status, time.monotonic() - sent, held))
            assert served and all(status == 202 for status, _, _ in served), served
            assert max(took for _, took, _ in served) < 2, served
            assert min(held for _, _, held in served) >= IDLE
            assert opened > IDLE  # the server did close idle ones, and they came back
        finally:
            for key in list(idle.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            idle.close()
