"""PostgresDatabase against a real server: whole transactions, and StorageUnavailable for a
held lock, a killed connection, a deadlock and a serialization failure, with reconnects."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ingest.storage.backend import Storage, is_postgres_url, open_database
from ingest.storage.database import CommitOutcomeUnknown, Database, StorageUnavailable
from ingest.storage.migrations import migrate_database as migrate_sqlite
from ingest.storage.pg_migrations import migrate_database
from ingest.storage.postgres_database import WRITER_NAME, PostgresDatabase
from ingest.storage.sql import Conn
from tests.postgres import fresh_database

# Work functions get the seam's connection (PgConn): SQL with `?`, as on SQLite.


@pytest.fixture(scope="module")
def pg_url(postgres_db: str) -> str:
    migrate_database(postgres_db)
    return postgres_db


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    yield pg_url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE orgs CASCADE")


def insert_org(conn: Conn, org_id: str, name: str = "A") -> None:
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, ?, 'a.com', 'pro', 0)",
        (org_id, name),
    )


def org_names(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {row[0]: row[1] for row in conn.execute("SELECT id, name FROM orgs")}


def backend_pid(conn: Conn) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Wait until the backend is gone, so the next statement meets a dead connection.
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            time.sleep(0.01)


@pytest.mark.asyncio
async def test_commit_is_visible_to_others_and_a_failure_writes_nothing(url: str) -> None:
    db = await PostgresDatabase.open(url)
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_a"))
        assert org_names(url) == {"org_a": "A"}  # another connection sees it: committed

        def half_then_fail(conn: Conn) -> None:
            insert_org(conn, "org_b")
            insert_org(conn, "org_b")  # primary key clash

        with pytest.raises(psycopg.errors.UniqueViolation):  # a bug, not the server's state
            await db.transaction(half_then_fail)
        assert org_names(url) == {"org_a": "A"}
        await db.transaction(lambda conn: insert_org(conn, "org_c"))  # the writer still works
        assert set(org_names(url)) == {"org_a", "org_c"}
        rows = await db.read(lambda conn: conn.execute("SELECT count(*) FROM orgs").fetchall())
        assert rows == [(2,)]
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_reads_are_read_only_snapshots(url: str) -> None:
    db = await PostgresDatabase.open(url)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            await db.read(lambda conn: insert_org(conn, "org_r"))
        assert org_names(url) == {}
        counts = await db.read_analytics(
            lambda conn: conn.execute("SELECT count(*) FROM orgs").fetchone()
        )
        assert counts == (0,)
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_held_lock_is_unavailable_within_the_deadline(url: str) -> None:
    db = await PostgresDatabase.open(url)
    holder = psycopg.connect(url)
    try:
        holder.execute("LOCK TABLE orgs IN ACCESS EXCLUSIVE MODE")  # held until rollback
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="lock timeout"):
            await db.transaction(lambda conn: insert_org(conn, "org_l"), started + 0.3)
        waited = time.monotonic() - started
        assert 0.25 <= waited < 1.0
        holder.rollback()
        await db.transaction(lambda conn: insert_org(conn, "org_l"))
        assert org_names(url) == {"org_l": "A"}
    finally:
        holder.close()
        await db.close()


@pytest.mark.asyncio
async def test_a_connection_killed_mid_transaction_is_unavailable_then_reconnected(
    url: str,
) -> None:
    db = await PostgresDatabase.open(url)
    try:

        def killed_midway(conn: Conn) -> None:
            insert_org(conn, "org_k")
            terminate(url, backend_pid(conn))
            insert_org(conn, "org_k2")

        with pytest.raises(StorageUnavailable, match="write failed"):
            await db.transaction(killed_midway)
        assert org_names(url) == {}  # the half-done transaction died with its connection
        await db.transaction(lambda conn: insert_org(conn, "org_after"))
        assert org_names(url) == {"org_after": "A"}
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_an_idle_connection_killed_is_replaced_before_the_next_transaction(
    url: str,
) -> None:
    db = await PostgresDatabase.open(url)
    try:
        first = await db.transaction(backend_pid)
        terminate(url, first)
        # Nothing of the next transaction had been sent: it runs on a new connection at once.
        second = await db.transaction(lambda conn: (insert_org(conn, "org_i"), backend_pid(conn)))
        assert second[1] != first
        assert org_names(url) == {"org_i": "A"}
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_database_that_is_gone_is_unavailable_not_a_crash(postgres_server: str) -> None:
    with fresh_database(postgres_server, "pg_database_gone") as doomed:
        db = await PostgresDatabase.open(doomed)
        await db.transaction(backend_pid)
    try:
        # Dropped WITH (FORCE): the connection is killed and reconnecting is refused.
        for _ in range(2):
            with pytest.raises(StorageUnavailable, match="cannot connect"):
                await db.transaction(backend_pid)
    finally:
        await db.close()


def wait_for_lock_wait(url: str, application_name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(500):
            if conn.execute(
                "SELECT 1 FROM pg_stat_activity"
                " WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application_name,),
            ).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError(f"{application_name} never waited for a lock")


@pytest.mark.asyncio
async def test_a_deadlock_is_unavailable_and_the_other_side_proceeds(url: str) -> None:
    db = await PostgresDatabase.open(url)
    for org_id in ("org_x", "org_y"):
        await db.transaction(lambda conn, org_id=org_id: insert_org(conn, org_id))
    other = psycopg.connect(url, application_name="deadlock-peer")
    try:
        # The writer checks for the deadlock first, so it is the side PostgreSQL rolls back.
        other.execute("SET deadlock_timeout = '10s'")
        other.execute("UPDATE orgs SET name = 'peer' WHERE id = 'org_x'")

        def opposite_order(conn: Conn) -> None:
            conn.execute("SET LOCAL deadlock_timeout = '100ms'")
            conn.execute("UPDATE orgs SET name = 'writer' WHERE id = 'org_y'")
            conn.execute("UPDATE orgs SET name = 'writer' WHERE id = 'org_x'")  # waits: peer

        writing = asyncio.ensure_future(db.transaction(opposite_order))
        await asyncio.to_thread(wait_for_lock_wait, url, WRITER_NAME)
        peer = threading.Thread(
            target=other.execute, args=("UPDATE orgs SET name = 'peer' WHERE id = 'org_y'",)
        )
        peer.start()
        with pytest.raises(StorageUnavailable, match="deadlock detected"):
            await writing
        await asyncio.to_thread(peer.join, 5)
        other.commit()
        assert org_names(url) == {"org_x": "peer", "org_y": "peer"}
        await db.transaction(lambda conn: insert_org(conn, "org_z"))  # the writer goes on
    finally:
        other.close()
        await db.close()


@pytest.mark.asyncio
async def test_a_serialization_failure_is_unavailable(url: str) -> None:
    # REPEATABLE READ for every new session of this database: the writer's BEGIN runs a query
    # (the transaction id), so a SET TRANSACTION inside the work would come too late, and a
    # worker has two writer connections, so a session setting on one would miss the other.
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL(
                "ALTER DATABASE {} SET default_transaction_isolation = 'repeatable read'"
            ).format(sql.Identifier(database))
        )
    db = await PostgresDatabase.open(url)
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_s"))

        def lost_race(conn: Conn) -> None:
            conn.execute("SELECT name FROM orgs WHERE id = 'org_s'")  # the snapshot is taken
            with psycopg.connect(url, autocommit=True) as other:
                other.execute("UPDATE orgs SET name = 'other' WHERE id = 'org_s'")
            conn.execute("UPDATE orgs SET name = 'mine' WHERE id = 'org_s'")

        with pytest.raises(StorageUnavailable, match="could not serialize"):
            await db.transaction(lost_race)
        assert org_names(url) == {"org_s": "other"}
    finally:
        await db.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} RESET default_transaction_isolation").format(
                    sql.Identifier(database)
                )
            )


@pytest.mark.asyncio
async def test_a_commit_whose_connection_dies_is_told_apart_by_its_outcome(url: str) -> None:
    """A backend that dies during COMMIT: here a deferred trigger kills its own backend at
    COMMIT, before the commit record, so the outcome is 'aborted' and the caller may retry."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "CREATE OR REPLACE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON orgs"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = 'doomed')"
            " EXECUTE FUNCTION die()"
        )
    db = await PostgresDatabase.open(url)
    try:
        with pytest.raises(StorageUnavailable, match="rolled back") as raised:
            await db.transaction(lambda conn: insert_org(conn, "org_d", "doomed"))
        assert not isinstance(raised.value, CommitOutcomeUnknown)
        assert org_names(url) == {}
        await db.transaction(lambda conn: insert_org(conn, "org_e"))  # a new connection
        assert org_names(url) == {"org_e": "A"}
    finally:
        await db.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DROP TRIGGER die_at_commit ON orgs")


@pytest.mark.asyncio
async def test_a_lost_commits_outcome_is_read_from_the_server(url: str) -> None:
    """The question asked after a lost COMMIT, for each answer the server can give."""
    db = await PostgresDatabase.open(url)
    other = psycopg.connect(url, autocommit=True)
    try:
        lost = OSError("connection lost")
        for end, committed in (("COMMIT", True), ("ROLLBACK", False)):
            cursor = other.execute("BEGIN; SELECT pg_current_xact_id()::text")
            cursor.nextset()
            row = cursor.fetchone()
            assert row is not None
            other.execute(end)
            assert await asyncio.to_thread(db._committed, str(row[0]), lost) is committed
        # A transaction still open is asked about until the wait runs out.
        cursor = other.execute("BEGIN; SELECT pg_current_xact_id()::text")
        cursor.nextset()
        row = cursor.fetchone()
        assert row is not None
        with pytest.raises(CommitOutcomeUnknown, match="in progress"):
            await asyncio.to_thread(db._committed, str(row[0]), lost)
        other.execute("ROLLBACK")
    finally:
        other.close()
        await db.close()


@pytest.mark.asyncio
async def test_synchronous_commit_is_on_unless_turned_off(url: str) -> None:
    def setting(conn: Conn) -> Any:
        row = conn.execute("SHOW synchronous_commit").fetchone()
        return row[0] if row else None

    for turned_on, expected in ((True, "on"), (False, "off")):
        db = await PostgresDatabase.open(url, synchronous_commit=turned_on)
        try:
            assert await db.transaction(setting) == expected
        finally:
            await db.close()


@pytest.mark.asyncio
async def test_open_database_picks_the_backend_by_scheme(url: str, tmp_path: Path) -> None:
    assert is_postgres_url(url)
    assert not is_postgres_url(tmp_path / "o.db")
    path = tmp_path / "o.db"
    migrate_sqlite(path)
    backends = ((url, "postgres", PostgresDatabase), (path, "sqlite", Database))
    for location, dialect, kind in backends:
        db = await open_database(location)
        try:
            assert isinstance(db, kind)
            assert isinstance(db, Storage)
            assert db.dialect == dialect
            assert db.check_file() is None
            assert db.busy_timeout_ms == 5000
            assert await db.read(lambda conn: conn.execute("SELECT 1").fetchone()) == (1,)
        finally:
            await db.close()
