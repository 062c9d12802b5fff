"""A cron job that never ran is stalled once the service has run for its period and 90 minutes:
the service's start is the first migration's applied_at, read from real SQLite files, and
/health of a real server says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ingest.clock import now_ms, to_iso
from ingest.cron.bookkeeping import applied_at_ms, job_state
from ingest.storage.connection import connect
from ingest.storage.migrations import migrate_database
from tests.conftest import Server, serving

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


def test_the_service_start_is_the_first_migration(tmp_path: Path):
    db = tmp_path / "optiview.db"
    migrate_database(db)
    conn = connect(db)
    try:
        conn.execute("UPDATE d1_migrations SET applied_at = '2026-01-02 03:04:05' WHERE id = 1")
        conn.execute("UPDATE d1_migrations SET applied_at = '2026-06-01 00:00:00' WHERE id > 1")
        state = job_state(conn, "purge")
    finally:
        conn.close()
    assert to_iso(state.service_since) == "2026-01-02T03:04:05.000Z"
    assert state.last_status is None


def test_a_fresh_database_knows_when_it_was_migrated(tmp_path: Path):
    before = now_ms()
    db = tmp_path / "optiview.db"
    migrate_database(db)
    conn = connect(db)
    try:
        since = job_state(conn, "alerts").service_since
    finally:
        conn.close()
    assert since is not None
    assert before - 1000 <= since <= now_ms()  # CURRENT_TIMESTAMP has whole seconds


@pytest.fixture(scope="module")
def migrated_two_days_ago(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("never-run") / "optiview.db"
    migrate_database(db)
    two_days_ago = datetime.fromtimestamp((now_ms() - 2 * DAY) / 1000, tz=UTC)
    with sqlite3.connect(db) as conn:
        conn.execute(
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
