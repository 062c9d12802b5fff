"""A cron job that never ran is stalled once the service has run for its period and 90 minutes:
the service's start is the first migration's applied_at, read from real databases (SQLite files
and PostgreSQL), and /health of a real server says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ingest.clock import now_ms, to_iso
from ingest.cron.bookkeeping import applied_at_ms, job_state
from ingest.storage.backend import migrate
from ingest.storage.sql import Location, connect
from tests import dbprobe
from tests.conftest import Server, serving
from tests.ingest.cron.job_databases import own_database

MIN = 60_000
DAY = 24 * 60 * MIN


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param("2027-01-15 08:00:00", 1_800_000_000_000, id="sqlite-current-timestamp"),
        pytest.param("2027-01-15T08:00:00Z", 1_800_000_000_000, id="iso-z"),
        pytest.param("2027-01-15T09:00:00+01:00", 1_800_000_000_000, id="iso-offset"),
        pytest.param("2027-01-15 08:00:00.250", 1_800_000_000_250, id="fraction"),
        pytest.param("", None, id="empty"),
        pytest.param("yesterday", None, id="unreadable"),
        pytest.param(1_800_000_000, None, id="a-number"),
        pytest.param(None, None, id="null"),
    ],
)
def test_applied_at_ms(stored: object, expected: int | None):
    assert applied_at_ms(stored) == expected


@pytest.fixture
def db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Location]:
    """Migrated by the test itself: its migration time is what the tests read."""
    with own_database(backend, tmp_path, request, "never_run") as location:
        yield location


def test_the_service_start_is_the_first_migration(db: Location):
    migrate(db)
    conn = connect(db, create=False)
    try:
        conn.execute("UPDATE d1_migrations SET applied_at = '2026-01-02 03:04:05' WHERE id = 1")
        conn.execute("UPDATE d1_migrations SET applied_at = '2026-06-01 00:00:00' WHERE id > 1")
        state = job_state(conn, "purge")
    finally:
        conn.close()
    assert to_iso(state.service_since) == "2026-01-02T03:04:05.000Z"
    assert state.last_status is None


def test_a_fresh_database_knows_when_it_was_migrated(db: Location):
    before = now_ms()
    migrate(db)
    conn = connect(db, create=False)
    try:
        since = job_state(conn, "alerts").service_since
    finally:
        conn.close()
    assert since is not None
    assert before - 1000 <= since <= now_ms()  # CURRENT_TIMESTAMP has whole seconds


@pytest.fixture(scope="module")
def migrated_two_days_ago(db_location: Location) -> Iterator[Server]:
    db = db_location
    migrate(db)
    two_days_ago = datetime.fromtimestamp((now_ms() - 2 * DAY) / 1000, tz=UTC)
    dbprobe.execute(
        db,
        "UPDATE d1_migrations SET applied_at = ? WHERE id = 1",
        (two_days_ago.strftime("%Y-%m-%d %H:%M:%S"),),
    )
    yield from serving(db)  # the test environment turns the scheduler off: nothing ever runs


def test_health_says_a_job_never_run_on_a_two_day_old_service_is_stalled(
    migrated_two_days_ago: Server,
):
    response = httpx.get(migrated_two_days_ago.url + "/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    crons = body["checks"]["crons"]
    assert crons["status"] == "degraded"
    for name in ("purge", "alerts"):
        job = crons["jobs"][name]
        assert (job["status"], job["last_status"]) == ("degraded", "never run")
        assert job["detail"].startswith("stalled: never run; the service started 4")
