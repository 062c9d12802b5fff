"""Shared fixtures: a real `optiview serve` process on a temporary SQLite file or a fresh
PostgreSQL database (the `db_location` fixture runs a module on both), and clients."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import postgres, redis_server

ADMIN_TOKEN = "test-admin-token-0123456789abcdefghij"  # production needs 32+
KEY_HASH_SECRET = "test-key-hash-secret-0123456789abcdef"
# A server starts in about 2 s on an idle 2-core box; with the suite's processes and other
# work sharing the cores it has taken over 30 s. Waiting longer costs a passing test nothing.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# For the servers of tests about neither the writer process nor how serve runs end to end:
# each worker commits itself, and serve starts (and stops) no second process. The writer
# process is the default on SQLite, and the tests that do not pass this run it.
INLINE_WRITER = {"OPTIVIEW_WRITER": "inline"}


def service_env(db: Path | str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIVIEW_", "KEY_HASH"))}
    env.update(
        OPTIVIEW_DB=str(db),
        OPTIVIEW_ADMIN_TOKEN=ADMIN_TOKEN,
        KEY_HASH_SECRET=KEY_HASH_SECRET,
        OPTIVIEW_ENV_FILE=os.devnull,
        # Tests that want the in-process cron jobs turn them on themselves.
        OPTIVIEW_SCHEDULER="off",
        # Tests read their own writes at once; the answer cache has a test of its own.
        OPTIVIEW_STATS_CACHE_MS="0",
    )
    env.update(extra)
    return env


def optiview(
    *args: str, env: dict[str, str], check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


@dataclass
class Server:
    url: str
    db: Path | str  # a SQLite path or a postgresql:// URL (tests/dbprobe.py reads either)
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path | None = None  # the server's stdout and stderr (start_server sets it)

    def log_text(self) -> str:
        assert self.log is not None, "this server was not started by start_server"
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def log_folder(db: Path | str) -> Path:
    """Where a server's log goes: beside its SQLite file, or a temporary folder."""
    if isinstance(db, Path):
        return db.parent
    return Path(tempfile.mkdtemp(prefix="optiview-server-"))


def start_server(db: Path | str, *args: str, **env_extra: str) -> Server:
    port = free_port()
    env = service_env(db, **env_extra)
    log = log_folder(db) / f"server-{port}.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", db, env, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(server.url + "/health", timeout=1).status_code < 500:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.02)  # a refused connection costs next to nothing; a late start costs a test
    server.stop()
    raise RuntimeError(f"server did not answer within {START_TIMEOUT_S:g} s: {log.read_text()}")


def serving(db: Path | str, *args: str, **env_extra: str) -> Iterator[Server]:
    """Body of a fixture: a server of the test module's own, stopped afterwards."""
    running = start_server(db, *args, **env_extra)
    try:
        yield running
    finally:
        running.stop()


def serving_two(db: Path | str, **env_extra: str) -> Iterator[tuple[Server, Server]]:
    """Body of a fixture: two nodes (servers) on one database, both stopped afterwards."""
    with contextlib.ExitStack() as stack:
        first = start_server(db, **env_extra)
        stack.callback(first.stop)
        second = start_server(db, **env_extra)  # the first applied the migrations
        stack.callback(second.stop)
        yield first, second


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(tmp_path_factory.mktemp("service") / "optiview.db")


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def anon(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


# PostgreSQL: the server on 127.0.0.1:5432, or a throwaway cluster (tests/postgres.py). A test
# that needs it fails when there is none: never a silent skip.
POSTGRES_USED: list[str] = []


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """postgresql://user@127.0.0.1:port, no database: per OPTIVIEW_TEST_PG."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres.postgres_server())
        except postgres.PostgresUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        POSTGRES_USED.append(server.source)
        yield server.url


@pytest.fixture(scope="module")
def postgres_db(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database of the test module's own: postgresql://user@127.0.0.1:port/name."""
    with postgres.fresh_database(postgres_server, request.module.__name__.split(".")[-1]) as url:
        yield url


BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend a module runs on: every test of a module that asks for it (or for
    `db_location`) runs once on SQLite and once on PostgreSQL."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def db_location(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Path | str]:
    """A fresh database of the module's own, on `backend`: a SQLite path (not yet created)
    or the URL of a new, empty PostgreSQL database."""
    label = request.module.__name__.split(".")[-1]
    if backend == "sqlite":
        yield tmp_path_factory.mktemp(label) / "optiview.db"
        return
    server_url: str = request.getfixturevalue("postgres_server")
    with postgres.fresh_database(server_url, label) as url:
        yield url


# Redis: the server on 127.0.0.1:6379, or a throwaway redis-server (tests/redis_server.py);
# never a silent skip either.
REDIS_USED: list[str] = []


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """redis://127.0.0.1:port/0 of a Redis the tests may share (keys are the tests' own)."""
    with contextlib.ExitStack() as stack:
        try:
            url, source = stack.enter_context(redis_server.redis_server())
        except redis_server.RedisUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        REDIS_USED.append(source)
        yield url


# The longest modules (per-test durations summed per module, the longest first), collected
# first: scripts/check runs pytest-xdist with --dist loadfile, which hands out whole modules
# in collection order, so one of these started last is the tail of the whole run.
LONGEST_FIRST = (
    "tests/ingest/test_cli_onboarding.py",
    "tests/ingest/test_changes_cli.py",
    "tests/alerts/test_cli.py",
    "tests/ingest/test_cli.py",
    "tests/ingest/storage/test_pg_copy.py",
    "tests/fuzz/test_fuzz.py",
    "tests/purge/test_cli.py",
    "tests/loadtests/test_bench_callgrind.py",
    "tests/purge/test_runner.py",
    "tests/docs/test_operator_guide.py",
    "tests/ingest/collect/test_storage_failures.py",
    "tests/ingest/test_malformed_input.py",
    "tests/ingest/collect/test_durability.py",
    "tests/ingest/writer/test_writer_process.py",
    "tests/ingest/collect/test_workers.py",
)


@pytest.hookimpl(trylast=True)  # after pytest's own ordering by fixture, kept within a module
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a test process of several (scripts/check runs pytest-xdist), hand what this one
    used to the main process, which prints the summary."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["postgres_used"] = POSTGRES_USED
        output["redis_used"] = REDIS_USED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist, in the main process: a test process finished; keep what it used."""
    output = getattr(node, "workeroutput", {})
    for used, found in ((POSTGRES_USED, output.get("postgres_used", [])),
                        (REDIS_USED, output.get("redis_used", []))):  # fmt: skip
        used.extend(source for source in found if source not in used)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for source in POSTGRES_USED:
        terminalreporter.write_line(f"PostgreSQL for the tests: {source}")
    for source in REDIS_USED:
        terminalreporter.write_line(f"Redis for the tests: {source}")
