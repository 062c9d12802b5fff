"""The single writer: whole transactions or nothing, and 503 + Retry-After while locked."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.app import migrate
from ingest.config import load_settings
from ingest.storage.database import Database, StorageUnavailable
from tests.conftest import ADMIN_TOKEN, Server, service_env, serving


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "o.db"
    migrate(load_settings(service_env(path)))
    return path


def count_orgs(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM orgs").fetchone()[0])


def insert_org(conn: sqlite3.Connection, org_id: str) -> None:
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, 'A', 'a.com', 'pro', 0)",
        (org_id,),
    )


@pytest.mark.asyncio
async def test_transaction_commits_before_returning(db_path: Path):
    db = await Database.open(db_path)
    try:
        await db.transaction(lambda conn: insert_org(conn, "org_a"))
        assert count_orgs(db_path) == 1  # visible to another connection: committed
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_failed_transaction_writes_nothing(db_path: Path):
    db = await Database.open(db_path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        insert_org(conn, "org_b")
        insert_org(conn, "org_b")  # primary key clash

    try:
        with pytest.raises(sqlite3.IntegrityError):
            await db.transaction(half_then_fail)
        assert count_orgs(db_path) == 0
        await db.transaction(lambda conn: insert_org(conn, "org_c"))  # writer still usable
        assert count_orgs(db_path) == 1
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_locked_database_raises_storage_unavailable(db_path: Path):
    db = await Database.open(db_path, busy_timeout_ms=100)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageUnavailable, match="locked"):
            await db.transaction(lambda conn: insert_org(conn, "org_d"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await db.transaction(lambda conn: insert_org(conn, "org_d"))
    assert count_orgs(db_path) == 1
    await db.close()


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(
        tmp_path_factory.mktemp("locked") / "optiview.db", OPTIVIEW_BUSY_TIMEOUT_MS="200"
    )


def test_admin_write_while_locked_is_503_with_retry_after_then_recovers(impatient_server: Server):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    payload = {"name": "Acme", "domain": "locked-acme.com", "plan": "starter"}
    url = impatient_server.url + "/api/admin/orgs"
    blocker = sqlite3.connect(impatient_server.db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=10)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "unavailable"
        assert "locked" in response.json()["detail"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert count_orgs(impatient_server.db) == 0
    assert httpx.post(url, json=payload, headers=headers, timeout=10).status_code == 201
    assert count_orgs(impatient_server.db) == 1
