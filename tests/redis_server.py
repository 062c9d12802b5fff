"""Redis for the tests: the server on 127.0.0.1:6379 when it answers, otherwise a throwaway
`redis-server` of Debian's package on a free port, nothing saved. Never a skip: when neither
works, the caller fails with the reasons both ways gave.

Tests that stop Redis on purpose start a throwaway server of their own (`throwaway`).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 6379
START_TIMEOUT_S = 10


class RedisUnavailable(RuntimeError):
    """No Redis could be found or started; the message says what was tried."""


def answers(url: str) -> str | None:
    """None when `url` answers PING, else why not."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ThrowawayRedis:
    """A redis-server on a free port of 127.0.0.1; `stop` and `start` again on the same port."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOCAL_HOST}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "no redis-server on PATH: apt-get install redis-server"
                " (./scripts/test does it as root)"
            )
        log = self.folder / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", LOCAL_HOST, "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        refusal = answers(self.url)
        while refusal is not None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                text = log.read_text() if log.exists() else ""
                raise RedisUnavailable(f"redis-server did not start: {refusal} {text}".strip())
            time.sleep(0.05)
            refusal = answers(self.url)

    def stop(self) -> None:
        """Kill it at once, as a crash or a lost host would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def throwaway() -> Iterator[ThrowawayRedis]:
    with tempfile.TemporaryDirectory(prefix="optiview-redis-") as folder:
        server = ThrowawayRedis(free_port(), Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def redis_server(local_port: int = LOCAL_PORT) -> Iterator[tuple[str, str]]:
    """(url, how it was found): 127.0.0.1:6379 when it answers, else a throwaway server."""
    local = f"redis://{LOCAL_HOST}:{local_port}/0"
    refusal = answers(local)
    if refusal is None:
        yield local, f"the server on {LOCAL_HOST}:{local_port}"
        return
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway())
        except RedisUnavailable as exc:
            raise RedisUnavailable(f"no Redis for the tests ({local}: {refusal}; {exc})") from exc
        yield server.url, f"a throwaway redis-server on {LOCAL_HOST}:{server.port}"
