"""The database file: created only when asked, and noticed when deleted or replaced under us."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from ingest.app import migrate
from ingest.config import load_settings
from ingest.storage.connection import connect
from ingest.storage.database import Database, StorageLost, StorageUnavailable
from ingest.storage.datafile import DatabaseFileError, ensure_database_file, identity
from tests.conftest import INLINE_WRITER, free_port, optiview, service_env, start_server

# Strong enough for any production rule on secrets.
PRODUCTION = {
    "OPTIVIEW_ENV": "production",
    "OPTIVIEW_ADMIN_TOKEN": "production-admin-token-0123456789abcdef",
    "KEY_HASH_SECRET": "production-key-hash-secret-0123456789abcdef",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "o.db"
    migrate(load_settings(service_env(path)))
    return path


def insert_org(conn: sqlite3.Connection, org_id: str) -> None:
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, 'A', 'a.com', 'pro', 0)",
        (org_id,),
    )


def orgs(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM orgs ORDER BY id")]


def test_a_missing_file_is_refused_unless_creating_it_is_allowed(tmp_path: Path):
    path = tmp_path / "data" / "o.db"
    with pytest.raises(DatabaseFileError) as refused:
        ensure_database_file(path, create=False)
    assert str(path) in str(refused.value)
    assert "OPTIVIEW_DB" in str(refused.value)
    assert "optiview migrate" in str(refused.value)
    assert not path.parent.exists()
    assert ensure_database_file(path, create=True) is True
    sqlite3.connect(path).close()
    assert ensure_database_file(path, create=False) is False


def test_a_directory_or_an_orphaned_log_is_refused_even_when_creating(tmp_path: Path):
    with pytest.raises(DatabaseFileError, match="is not a file"):
        ensure_database_file(tmp_path, create=True)
    path = tmp_path / "o.db"
    (tmp_path / "o.db-wal").write_bytes(b"frames of a database that is gone")
    with pytest.raises(DatabaseFileError, match="write-ahead log"):
        ensure_database_file(path, create=True)
    assert not path.exists()


@pytest.mark.asyncio
async def test_a_deleted_file_is_noticed_before_commit_and_stays_refused(db_path: Path):
    db = await Database.open(db_path)
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_before"))
        assert db.check_file() is None
        os.unlink(db_path)
        with pytest.raises(StorageLost, match="deleted"):
            await db.transaction(lambda conn: insert_org(conn, "org_after"))
        assert "was deleted while serving" in (db.check_file() or "")
        assert str(db_path) in (db.check_file() or "")
        # no connection put an empty database in its place
        assert identity(db_path) is None
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_replaced_file_gets_nothing_and_the_old_one_is_rolled_back(
    db_path: Path, tmp_path: Path
):
    db = await Database.open(db_path)
    other = tmp_path / "other.db"
    migrate(load_settings(service_env(other)))
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_before"))
        held: list[sqlite3.Connection] = []

        def write_then_replace(conn: sqlite3.Connection) -> None:
            insert_org(conn, "org_during")
            held.append(conn)
            os.replace(other, db_path)  # between the rows and the COMMIT

        with pytest.raises(StorageLost, match="replaced by another file"):
            await db.transaction(write_then_replace)
        assert not held[0].in_transaction  # rolled back, not committed into the old file
        with pytest.raises(StorageLost):
            await db.transaction(lambda conn: insert_org(conn, "org_after"))
    finally:
        await db.close()
    assert orgs(db_path) == []  # the replacement got nothing either


@pytest.mark.asyncio
async def test_reads_after_deletion_see_the_held_file_and_create_none(db_path: Path):
    db = await Database.open(db_path)
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_kept"))
        os.unlink(db_path)
        # Every reader thread answers from the file it holds (the collector's key lookups
        # must not fail before the write refuses), and none puts an empty file at the path.
        results = await asyncio.gather(
            *(
                db.read(lambda conn: conn.execute("SELECT id FROM orgs").fetchall())
                for _ in range(8)
            )
        )
        assert results == [[("org_kept",)]] * 8
        assert identity(db_path) is None
    finally:
        await db.close()


def test_a_connection_that_may_not_create_refuses_a_missing_file(tmp_path: Path):
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        connect(tmp_path / "o.db", create=False)
    assert identity(tmp_path / "o.db") is None


@pytest.mark.asyncio
async def test_the_write_lock_wait_is_bounded_by_the_deadline_including_queueing(db_path: Path):
    db = await Database.open(db_path, busy_timeout_ms=400)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()

        async def timed(org_id: str) -> float:
            with pytest.raises(StorageUnavailable, match="locked"):
                await db.transaction(lambda conn: insert_org(conn, org_id))
            return time.monotonic() - started

        # Three writes queue on the one writer thread; each gets the time left of its own
        # budget, so the last does not wait three timeouts.
        took = await asyncio.gather(timed("org_1"), timed("org_2"), timed("org_3"))
        print(f"\nbusy_timeout 400 ms, three queued writes refused after {took}")
        assert max(took) < 0.4 + 0.25
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await db.transaction(lambda conn: insert_org(conn, "org_4"))
    await db.close()
    assert orgs(db_path) == ["org_4"]


def test_production_serve_refuses_a_missing_database_file(tmp_path: Path):
    db = tmp_path / "gone" / "optiview.db"
    env = service_env(db, **PRODUCTION)
    started = time.monotonic()
    result = optiview("serve", "--port", str(free_port()), env=env)
    print(f"\nrefused in {time.monotonic() - started:.2f} s: {result.stderr.strip()}")
    assert result.returncode == 1
    assert f"database file {db} does not exist" in result.stderr
    assert "OPTIVIEW_DB" in result.stderr
    assert "--create-db" in result.stderr
    assert not db.exists()


def test_production_serve_creates_the_file_when_told_to(tmp_path: Path):
    db = tmp_path / "optiview.db"
    server = start_server(db, "--create-db", **PRODUCTION)
    try:
        assert db.is_file()
    finally:
        server.stop()
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert f"creating a new, empty database at {db}" in log
    # the next start finds it and says nothing about creating (serve's migrate says it,
    # before a writer process would start: none is started)
    again = start_server(db, **PRODUCTION, **INLINE_WRITER)
    again.stop()
    port = again.url.rsplit(":", 1)[1]
    assert "creating" not in (tmp_path / f"server-{port}.log").read_text()


def test_development_serve_creates_a_missing_file_and_says_so(tmp_path: Path):
    db = tmp_path / "optiview.db"
    server = start_server(db, **INLINE_WRITER)  # serve's migrate creates it, not the writer
    server.stop()
    assert db.is_file()
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert f"creating a new, empty database at {db}" in log


def test_migrate_creates_the_file_in_production(tmp_path: Path):
    db = tmp_path / "optiview.db"
    result = optiview("migrate", env=service_env(db, **PRODUCTION))
    assert result.returncode == 0, result.stderr
    assert f"creating a new, empty database at {db}" in result.stderr
    assert db.is_file()
