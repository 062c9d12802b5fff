"""/health on both backends (the module's server runs on SQLite, then on PostgreSQL), and
PostgreSQL's own cases: a server that refuses connections, and killed connections."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from ingest.health import overall
from ingest.storage.migrations import available
from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, Server, serving
from tests.ingest.collect.conftest import provision_on


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


FIRST = "0001_provisioning.sql"


@pytest.fixture(scope="module")
def own_server(db_location: Path | str) -> Iterator[Server]:
    yield from serving(db_location, OPTIVIEW_BUSY_TIMEOUT_MS="300")


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
    dbprobe.execute(own_server.db, "DELETE FROM d1_migrations WHERE name = ?", (FIRST,))
    try:
        response = httpx.get(own_server.url + "/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["checks"]["migrations"]["pending"] == ["0001_provisioning.sql"]
    finally:
        dbprobe.execute(own_server.db, "INSERT INTO d1_migrations (name) VALUES (?)", (FIRST,))
    assert httpx.get(own_server.url + "/health").json()["status"] == "ok"


def test_health_is_down_503_when_the_database_is_unusable(own_server: Server):
    dbprobe.execute(own_server.db, "ALTER TABLE d1_migrations RENAME TO d1_migrations_away")
    try:
        response = httpx.get(own_server.url + "/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        detail = response.json()["checks"]["database"]["detail"]
        assert detail.startswith("cannot read the database")
        assert "d1_migrations" in detail
    finally:
        dbprobe.execute(own_server.db, "ALTER TABLE d1_migrations_away RENAME TO d1_migrations")
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


# PostgreSQL only: a server of its own on a database of its own (`postgres_db`), so refusing
# its connections leaves the module's other server alone.
@pytest.fixture(scope="module")
def pg_server(postgres_db: str) -> Iterator[Server]:
    yield from serving(postgres_db, OPTIVIEW_BUSY_TIMEOUT_MS="1000")


def database_admin(server: Server) -> psycopg.Connection[tuple[object, ...]]:
    """A connection to the server's `postgres` database, to act on the service's one."""
    base, _, _ = str(server.db).rpartition("/")
    return psycopg.connect(f"{base}/postgres", autocommit=True)


def terminate_backends(admin: psycopg.Connection[tuple[object, ...]], name: str) -> int:
    killed = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
        (name,),
    ).fetchone()
    assert killed is not None
    return int(str(killed[0]))


def test_postgresql_refusing_connections_is_down_503_and_then_recovers_by_itself(
    pg_server: Server,
):
    site = provision_on(pg_server)
    assert site.send().status_code == 202
    name = str(pg_server.db).rpartition("/")[2]
    with database_admin(pg_server) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            assert terminate_backends(admin, name) >= 2  # the writer, a reader, the listener
            down = httpx.get(pg_server.url + "/health", timeout=10)
            assert down.status_code == 503
            assert down.json()["status"] == "down"
            detail = down.json()["checks"]["database"]["detail"]
            assert detail.startswith("cannot read the database"), detail
            assert "not currently accepting connections" in detail, detail
            refused = site.send()
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "unavailable"
            assert refused.headers["retry-after"]
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    # No restart: the next requests open new connections (the writer's breaker may hold a
    # request or two for its second).
    deadline = time.monotonic() + 5
    while httpx.get(pg_server.url + "/health").status_code != 200:
        assert time.monotonic() < deadline, "health did not recover"
        time.sleep(0.05)
    while (answer := site.send()).status_code != 202:
        assert answer.status_code == 503, answer.text
        assert time.monotonic() < deadline, "the collector did not recover"
        time.sleep(0.05)
    assert site.rows("SELECT count(*) FROM events WHERE property_id = ?", site.property_id) == [
        (2,)
    ]


def test_killed_connections_are_replaced_before_the_next_request(pg_server: Server):
    site = provision_on(pg_server)
    assert site.send().status_code == 202
    with database_admin(pg_server) as admin:
        assert terminate_backends(admin, str(pg_server.db).rpartition("/")[2]) >= 2
    # Idle connections that died are replaced as a transaction starts: no request fails.
    assert httpx.get(pg_server.url + "/health").json()["status"] == "ok"
    assert site.send().status_code == 202
    assert site.rows("SELECT count(*) FROM events WHERE property_id = ?", site.property_id) == [
        (2,)
    ]
