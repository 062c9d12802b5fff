"""The in-process scheduler of `optiview serve`: it runs the purge by itself when on; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.clock import now_ms
from ingest.config import load_settings
from ingest.cron import bookkeeping
from ingest.cron.scheduler import Scheduler
from ingest.serve import scheduled_jobs
from ingest.storage.backend import migrate
from ingest.storage.sql import Location
from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, Server, service_env, serving
from tests.ingest.cron.job_databases import own_database
from tests.purge.seed import DAY_MS, add_events, add_org, open_db

HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def seeded_db(path: Location) -> int:
    """A starter org with one expired event (100 days old) and one fresh; returns the fresh
    event's time."""
    migrate(path)
    conn = open_db(path)
    try:
        org = add_org(conn, "org_starter", "starter", properties=1)
        fresh = now_ms() - DAY_MS
        add_events(conn, org, org.property_ids[0], [now_ms() - 100 * DAY_MS, fresh])
    finally:
        conn.close()
    return fresh


@pytest.fixture(scope="module")
def scheduled(db_location: Location) -> Iterator[tuple[Server, int]]:
    fresh = seeded_db(db_location)
    for running in serving(db_location, OPTIVIEW_SCHEDULER="on", OPTIVIEW_SCHEDULER_TICK_S="0.2"):
        yield running, fresh


@pytest.fixture(scope="module")
def unscheduled(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    with own_database(
        backend, tmp_path_factory.mktemp("unscheduled"), request, "unscheduled"
    ) as db:
        seeded_db(db)
        yield from serving(db)  # the test environment turns the scheduler off


def rows(db: Location, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in dbprobe.rows(db, sql, params)]


def purge_check(server: Server) -> dict[str, Any]:
    body = httpx.get(server.url + "/health", timeout=5).json()
    job: dict[str, Any] = body["checks"]["crons"]["jobs"]["purge"]
    return job


def onboarding(server: Server) -> dict[str, Any]:
    with httpx.Client(base_url=server.url + "/api/admin", headers=HEADERS, timeout=10) as admin:
        org = admin.post(
            "/orgs", json={"name": "Acme", "domain": "acme-sched.com", "plan": "growth"}
        )
        assert org.status_code == 201, org.text
        project = admin.post(
            f"/orgs/{org.json()['id']}/projects", json={"name": "Main", "domain": "acme-sched.com"}
        )
        assert project.status_code == 201, project.text
        status = admin.get(f"/projects/{project.json()['id']}/onboarding-status")
        assert status.status_code == 200, status.text
        (item,) = [i for i in status.json()["items"] if i["id"] == "purge_running"]
        return item


def test_the_scheduler_runs_the_purge_by_itself(scheduled: tuple[Server, int]):
    server, fresh = scheduled
    deadline = time.monotonic() + 10
    job = purge_check(server)
    while job["last_success_at"] is None:
        assert time.monotonic() < deadline, f"no purge within 10 s: {job}"
        time.sleep(0.1)
        job = purge_check(server)

    assert job["status"] == "ok"
    assert job["last_status"] == "ok"
    assert job["running_since"] is None
    assert "detail" not in job
    runs = rows(server.db, "SELECT job, status, error, summary FROM cron_runs WHERE job = 'purge'")
    assert runs == [("purge", "ok", None, "deleted 1 rows (events 1)")]
    assert rows(server.db, "SELECT received_at FROM events") == [(fresh,)]
    assert rows(server.db, "SELECT * FROM cron_leases") == []
    body = httpx.get(server.url + "/health", timeout=5).json()
    assert body["checks"]["crons"]["status"] == "ok"

    item = onboarding(server)
    assert item["done"] is True
    assert item["detail"].startswith("last success 20")
    assert item["hint"] is None


def test_with_the_scheduler_off_nothing_runs(unscheduled: Server):
    time.sleep(1.5)  # several ticks' worth, and past the first tick of a 5 s scheduler
    assert rows(unscheduled.db, "SELECT * FROM cron_runs") == []
    assert rows(unscheduled.db, "SELECT count(*) FROM events") == [(2,)]
    job = purge_check(unscheduled)
    assert (job["last_status"], job["last_success_at"], job["status"]) == ("never run", None, "ok")
    item = onboarding(unscheduled)
    assert item["done"] is False
    assert item["detail"] == "the retention purge has never run"
    assert "optiview purge run" in item["hint"]


def test_a_tick_takes_over_from_a_purge_whose_process_died(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """A purge killed midway (the server or a cron run crashed) leaves its heartbeat running
    and its lease; the next scheduled run is to take over at once."""
    with own_database(backend, tmp_path, request, "tick_takes_over") as db:
        takes_over(db)


def takes_over(db: Location) -> None:
    fresh = seeded_db(db)
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    dead = f"{socket.gethostname()}:{process.pid}"
    started = now_ms() - 60 * 60_000  # an hour ago
    # The dead run's own connection (its session, on PostgreSQL) is gone with it.
    gone = open_db(db)
    try:
        assert bookkeeping.acquire(gone, "purge", dead, started) is None
        dead_run = bookkeeping.start_run(gone, "purge", dead, started)
    finally:
        gone.close()
    conn = open_db(db)
    try:
        settings = load_settings(service_env(db))

        Scheduler(settings, {"purge": scheduled_jobs(settings)["purge"]}, tick_s=0.2).tick(conn)

        runs = conn.execute("SELECT id, status, error FROM cron_runs ORDER BY id").fetchall()
        assert runs[0][:2] == (dead_run, "failed"), runs
        assert runs[0][2].startswith(f"interrupted: {dead}")
        assert [status for _, status, _ in runs[1:]] == ["ok"]
        assert conn.execute("SELECT received_at FROM events").fetchall() == [(fresh,)]
    finally:
        conn.close()
