import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.health import overall
from ingest.storage.migrations import CREATE_TABLE, available
from tests.conftest import ADMIN_TOKEN, Server, serving


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "ok"),
        (["ok", "ok"], "ok"),
        (["ok", "degraded"], "degraded"),
        (["degraded", "down", "ok"], "down"),
    ],
)
def test_overall_is_the_worst_check(statuses: list[str], expected: str):
    assert overall({str(i): {"status": s} for i, s in enumerate(statuses)}) == expected


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db: Path = tmp_path_factory.mktemp("health") / "optiview.db"
    yield from serving(db, OPTIVIEW_BUSY_TIMEOUT_MS="300")


def test_health_is_ok_when_migrated(own_server: Server):
    response = httpx.get(own_server.url + "/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "migrations": {"status": "ok", "applied": len(available()), "pending": []},
            "writer": {"status": "ok", "queued_events": 0, "queue_limit": 20000},
            "rate_limits": {"status": "ok", "shared": False},
            "crons": {
                "status": "ok",
                "jobs": {
                    job: {
                        "status": "ok",
                        "period_minutes": minutes,
                        "last_success_at": None,
                        "last_run_at": None,
                        "last_status": "never run",
                        "last_error": None,
                        "running_since": None,
                    }
                    for job, minutes in (("purge", 1440), ("alerts", 1))
                },
            },
        },
    }


def test_health_is_degraded_with_a_pending_migration(own_server: Server):
    with sqlite3.connect(own_server.db) as conn:
        conn.execute("DELETE FROM d1_migrations WHERE name = '0001_provisioning.sql'")
    try:
        response = httpx.get(own_server.url + "/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["checks"]["migrations"]["pending"] == ["0001_provisioning.sql"]
    finally:
        with sqlite3.connect(own_server.db) as conn:
            conn.execute("INSERT INTO d1_migrations (name) VALUES ('0001_provisioning.sql')")
    assert httpx.get(own_server.url + "/health").json()["status"] == "ok"


def test_health_is_down_503_when_the_database_is_unusable(own_server: Server):
    with sqlite3.connect(own_server.db) as conn:
        rows = conn.execute("SELECT id, name, applied_at FROM d1_migrations").fetchall()
        conn.execute("DROP TABLE d1_migrations")
    try:
        response = httpx.get(own_server.url + "/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        detail = response.json()["checks"]["database"]["detail"]
        assert detail.startswith("cannot read the database")
        assert "d1_migrations" in detail
    finally:
        with sqlite3.connect(own_server.db) as conn:
            conn.execute(CREATE_TABLE)
            conn.executemany("INSERT INTO d1_migrations VALUES (?, ?, ?)", rows)
    assert httpx.get(own_server.url + "/health").status_code == 200


def test_admin_health_reports_environment(own_server: Server):
    response = httpx.get(
        own_server.url + "/api/admin/health", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["environment"] == "development"
    assert body["database"] == str(own_server.db)
