"""PostgreSQL for the tests: the server on 127.0.0.1:5432 when it answers, otherwise a throwaway
cluster of Debian's binaries in a temporary folder. Never a skip: when neither works, the
caller fails with the reasons both ways gave.

OPTIVIEW_TEST_PG picks the source: unset or `auto` (5432, else a throwaway cluster),
`throwaway` (always a cluster of our own), or a `postgresql://user@host:port` URL (that server
only).
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

SETTING = "OPTIVIEW_TEST_PG"
LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5432
CONNECT_TIMEOUT_S = 3
START_TIMEOUT_S = 60
# Database names are at most 63 bytes in PostgreSQL.
MAX_NAME = 63


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be found or started; the message says what was tried."""


@dataclass(frozen=True)
class PostgresServer:
    url: str  # postgresql://user@host:port, no database
    source: str  # how it was found, for the test run's summary


def answers(url: str, database: str = "postgres") -> str | None:
    """None when `url` accepts a connection to `database`, else why not."""
    try:
        with psycopg.connect(f"{url}/{database}", connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def local_server(port: int = LOCAL_PORT) -> tuple[str | None, list[str]]:
    """The URL of 127.0.0.1:5432 under the first user it trusts, and the refusals met."""
    refusals = []
    for user in dict.fromkeys(["postgres", getpass.getuser()]):
        url = f"postgresql://{user}@{LOCAL_HOST}:{port}"
        refusal = answers(url)
        if refusal is None:
            return url, refusals
        refusals.append(f"{url}: {refusal}")
    return None, refusals


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def debian_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding initdb, else initdb's folder on PATH."""

    def version(path: str) -> int:
        return int(Path(path).parts[-3])

    found = [p for p in glob.glob("/usr/lib/postgresql/*/bin/initdb") if p.split("/")[-3].isdigit()]
    if found:
        return Path(max(found, key=version)).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


@dataclass(frozen=True)
class RunAs:
    """initdb refuses root: as root, the cluster runs as `postgres` (or `nobody`)."""

    user: str | None
    uid: int
    gid: int

    @classmethod
    def for_cluster(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(None, os.geteuid(), os.getegid())
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(name, entry.pw_uid, entry.pw_gid)
        raise PostgresUnavailable("running as root and neither user postgres nor nobody exists")

    def run(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        switching = self.user is not None
        return subprocess.run(
            args,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            user=self.uid if switching else None,
            group=self.gid if switching else None,
            extra_groups=[] if switching else None,
        )


class ThrowawayCluster:
    """A cluster in a temporary folder on a free port of 127.0.0.1, trust auth, no fsync."""

    def __init__(self, bin_dir: Path | None = None, port: int | None = None) -> None:
        found = bin_dir or debian_bin_dir()
        if found is None or not (found / "initdb").exists():
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin"
                " or on PATH: apt-get install postgresql (./scripts/test does it as root)"
            )
        self.bin_dir = found
        self.port = port or free_port()
        self.run_as = RunAs.for_cluster()
        self.folder = Path(tempfile.mkdtemp(prefix="optiview-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.url = f"postgresql://postgres@{LOCAL_HOST}:{self.port}"

    def start(self) -> None:
        os.chown(self.folder, self.run_as.uid, self.run_as.gid)
        steps = [
            [
                str(self.bin_dir / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--no-locale", "--no-sync"),
            ],
            [
                str(self.bin_dir / "pg_ctl"),
                *("start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(self.data)),
                *("-l", str(self.log)),
                "-o",
                # Durability is not under test here; the service sets synchronous_commit itself.
                f"-c listen_addresses={LOCAL_HOST} -c port={self.port} -c fsync=off"
                f" -c full_page_writes=off -c unix_socket_directories={self.folder}",
            ],
        ]
        for args in steps:
            done = self.run_as.run(args, cwd=self.folder)
            if done.returncode != 0:
                log = self.log.read_text() if self.log.exists() else ""
                self.remove()
                raise PostgresUnavailable(
                    f"{Path(args[0]).name} failed with exit code {done.returncode}:"
                    f" {done.stdout}{done.stderr}{log}".strip()
                )
        refusal = answers(self.url)
        if refusal is not None:
            self.stop()
            raise PostgresUnavailable(f"the throwaway cluster does not answer: {refusal}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run_as.run(
                [str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data)],
                cwd=self.folder,
            )
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server(
    setting: str | None = None, local_port: int = LOCAL_PORT
) -> Iterator[PostgresServer]:
    """The server the tests use, per OPTIVIEW_TEST_PG (see the module's docstring)."""
    choice = (os.environ.get(SETTING, "") if setting is None else setting).strip() or "auto"
    tried: list[str] = []
    if choice.startswith(("postgresql://", "postgres://")):
        url = choice.rstrip("/")
        refusal = answers(url)
        if refusal is not None:
            raise PostgresUnavailable(f"{SETTING}={choice} does not answer: {refusal}")
        yield PostgresServer(url, f"{url} ({SETTING})")
        return
    if choice not in ("auto", "throwaway"):
        raise PostgresUnavailable(
            f"{SETTING}={choice!r}: expected auto, throwaway or a postgresql:// URL"
        )
    if choice == "auto":
        url, tried = local_server(local_port)
        if url is not None:
            yield PostgresServer(url, f"the server on {LOCAL_HOST}:{local_port} as {url}")
            return
    try:
        cluster = ThrowawayCluster()
        cluster.start()
    except PostgresUnavailable as exc:
        reasons = "; ".join([*tried, f"throwaway cluster: {exc}"])
        raise PostgresUnavailable(f"no PostgreSQL for the tests ({reasons})") from exc
    try:
        yield PostgresServer(
            cluster.url,
            f"a throwaway cluster ({cluster.bin_dir.parent.name}) on {LOCAL_HOST}:{cluster.port}"
            f" in {cluster.folder}",
        )
    finally:
        cluster.stop()


def database_name(label: str) -> str:
    """A unique, valid database name that says which tests made it."""
    suffix = secrets.token_hex(4)
    stem = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")
    head = "optiview_test_"
    return f"{head}{stem[: MAX_NAME - len(head) - len(suffix) - 1]}_{suffix}"


@contextlib.contextmanager
def fresh_database(server_url: str, label: str) -> Iterator[str]:
    """A new empty database on `server_url`, dropped afterwards (connections and all)."""
    name = database_name(label)
    admin_url = f"{server_url}/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{server_url}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # FORCE: a server process a test left running must not keep the database alive.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
