"""run_purge on real databases, SQLite files and PostgreSQL (every test runs on both): what
goes, what stays, the log, heartbeat and lease."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.clock import now_ms, to_iso
from ingest.cron import bookkeeping
from ingest.storage.sql import Conn, Location, PgConn, dialect_of
from purge.runner import AlreadyRunning, run_purge
from tests.conftest import service_env
from tests.ingest.cron import job_databases
from tests.purge.seed import (
    DAY_MS,
    SeededOrg,
    add_ai_referral,
    add_content,
    add_cron_run,
    add_events,
    add_org,
    add_purge_log,
    add_rollup,
    add_session,
    dump,
    open_db,
)

HOST = socket.gethostname()

# The runbook's windows in days, written out here rather than read from the module under test.
EVENT_DAYS = {"starter": 90, "growth": 180, "pro": 365}
PROPERTY_DAYS = {"sessions": 90, "ai_referrals": 365, "content": 365}
GLOBAL_DAYS = {"request_rollups": 35, "purge_log": 365, "cron_runs": 90}
TIME_COLUMN = {
    "events": "received_at",
    "sessions": "last_seen_at",
    "ai_referrals": "landed_at",
    "content": "last_seen_at",
    "request_rollups": "minute",
    "purge_log": "logged_at",
    "cron_runs": "started_at",
}
PLANS = ("starter", "growth", "pro")

# (days old, offset in ms): every cutoff exactly, one second older and one second newer, and a
# few ages in between. The row's time is now - days + offset.
AGES = [(1, 0)] + [(d, o) for d in (35, 90, 180, 365) for o in (-1000, 0, 1000)]
AGES += [(100, 0), (400, 0)]


def at(now: int, age: tuple[int, int]) -> int:
    days, offset = age
    return now - days * DAY_MS + offset


def kept(now: int, age: tuple[int, int], retention_days: int) -> bool:
    return at(now, age) >= now - retention_days * DAY_MS


def table_days(table: str, plan: str | None) -> int:
    if table == "events":
        assert plan is not None
        return EVENT_DAYS[plan]
    return PROPERTY_DAYS.get(table) or GLOBAL_DAYS[table]


@pytest.fixture
def db(db_location: Location, tmp_path: Path) -> Location:
    return job_databases.fresh(db_location, tmp_path)


@pytest.fixture
def conn(db: Location) -> Iterator[Conn]:
    connection = open_db(db)
    yield connection
    connection.close()


@contextlib.contextmanager
def traced(conn: Conn) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """The statements run on `conn` meanwhile, with their parameters (SQLite: as run, the
    values in place)."""
    sql: list[tuple[str, tuple[Any, ...]]] = []
    if isinstance(conn, sqlite3.Connection):
        conn.set_trace_callback(lambda text: sql.append((text, ())))
        try:
            yield sql
        finally:
            conn.set_trace_callback(None)
        return
    assert isinstance(conn, PgConn)
    execute = conn.execute

    def recording(text: str, params: Any = ()) -> Any:
        sql.append((text, tuple(params)))
        return execute(text, params)

    conn.execute = recording  # type: ignore[method-assign]
    try:
        yield sql
    finally:
        del conn.execute


def assert_intact(conn: Conn) -> None:
    """SQLite's own check of the file; PostgreSQL's crash safety is the server's."""
    if isinstance(conn, sqlite3.Connection):
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def seed_matrix(conn: Conn, now: int) -> dict[str, SeededOrg]:
    """One org per plan, two properties each, rows of every age in every table."""
    orgs = {plan: add_org(conn, f"org_{plan}", plan) for plan in PLANS}
    for org in orgs.values():
        for prop in org.property_ids:
            add_events(conn, org, prop, [at(now, age) for age in AGES])
            for age in AGES:
                label = f"{age[0]}d{age[1]:+d}"
                add_session(conn, org, prop, at(now, age), f"s-{label}")
                add_ai_referral(conn, org, prop, at(now, age))
                add_content(conn, org, prop, at(now, age), f"/page/{label}")
    for age in AGES:
        add_rollup(conn, at(now, age))
        add_purge_log(conn, at(now, age))
        add_cron_run(conn, at(now, age))
    return orgs


def ages_in(conn: Conn, now: int, table: str, where: str, *params: object):
    column = TIME_COLUMN[table]
    times = [
        row[0]
        for row in conn.execute(f"SELECT {column} FROM {table} WHERE {where}", params).fetchall()
    ]
    by_time = {at(now, age): age for age in AGES}
    return sorted(by_time[t] for t in times)


def expected_ages(now: int, days: int) -> list[tuple[int, int]]:
    return sorted(age for age in AGES if kept(now, age, days))


def expired_count(now: int, days: int) -> int:
    return sum(1 for age in AGES if not kept(now, age, days))


def test_each_table_keeps_exactly_the_rows_within_its_window(conn: Conn):
    now = now_ms()
    orgs = seed_matrix(conn, now)

    report = run_purge(conn, now, pause_s=0)

    for plan, org in orgs.items():
        for prop in org.property_ids:
            for table in ("events", "sessions", "ai_referrals", "content"):
                survivors = ages_in(conn, now, table, "property_id = ?", prop)
                assert survivors == expected_ages(now, table_days(table, plan)), (
                    table,
                    plan,
                    prop,
                )
    # The seeded rows of our own tables (the run adds its own log rows and heartbeat).
    assert ages_in(conn, now, "request_rollups", "1 = 1") == expected_ages(now, 35)
    assert ages_in(conn, now, "purge_log", "table_name = 'seed'") == expected_ages(now, 365)
    assert ages_in(conn, now, "cron_runs", "job = 'alerts'") == expected_ages(now, 90)

    # Spelled out for the events of one property per plan.
    starter, growth, pro = (orgs[p].property_ids[0] for p in PLANS)
    assert ages_in(conn, now, "events", "property_id = ?", starter) == [
        (1, 0),
        (35, -1000),
        (35, 0),
        (35, 1000),
        (90, 0),
        (90, 1000),
    ]
    assert ages_in(conn, now, "events", "property_id = ?", growth) == [
        (1, 0),
        (35, -1000),
        (35, 0),
        (35, 1000),
        (90, -1000),
        (90, 0),
        (90, 1000),
        (100, 0),
        (180, 0),
        (180, 1000),
    ]
    assert ages_in(conn, now, "events", "property_id = ?", pro) == sorted(
        age for age in AGES if age not in ((365, -1000), (400, 0))
    )
    expected_total = sum(
        2 * expired_count(now, table_days(table, plan))
        for plan in PLANS
        for table in ("events", "sessions", "ai_referrals", "content")
    ) + sum(expired_count(now, days) for days in GLOBAL_DAYS.values())
    assert report.total == expected_total


@pytest.mark.parametrize(
    ("plan", "survives"), [("starter", False), ("growth", True), ("pro", True)]
)
def test_a_100_day_old_event_goes_only_under_the_90_day_plan(conn: Conn, plan: str, survives: bool):
    now = now_ms()
    orgs = {p: add_org(conn, f"org_{p}", p) for p in PLANS}
    for org in orgs.values():
        for prop in org.property_ids:
            add_events(conn, org, prop, [now - 100 * DAY_MS])

    run_purge(conn, now, pause_s=0)

    left = conn.execute(
        "SELECT count(*) FROM events WHERE project_id = ?", (orgs[plan].project_id,)
    ).fetchone()[0]
    assert left == (2 if survives else 0)


def test_purge_log_heartbeat_and_lease(conn: Conn):
    now = now_ms()
    orgs = seed_matrix(conn, now)
    lines: list[str] = []

    report = run_purge(conn, now, pause_s=0, progress=lines.append)

    assert report.run_id is not None
    logged = conn.execute(
        "SELECT table_name, org_id, plan, cutoff, rows_deleted, duration_ms, logged_at"
        " FROM purge_log WHERE run_id = ? ORDER BY id",
        (report.run_id,),
    ).fetchall()
    expected = []
    for org in sorted(orgs.values(), key=lambda o: o.id):
        for table in ("events", "sessions", "ai_referrals", "content"):
            days = table_days(table, org.plan)
            expected.append(
                (table, org.id, org.plan, now - days * DAY_MS, 2 * expired_count(now, days))
            )
    for table, days in GLOBAL_DAYS.items():
        expected.append((table, None, None, now - days * DAY_MS, expired_count(now, days)))
    assert [row[:5] for row in logged] == expected
    assert all(row[5] >= 0 for row in logged)
    assert all(row[6] >= now for row in logged)
    assert [(o.target.table, o.target.org_id, o.rows) for o in report.outcomes] == [
        (table, org_id, rows) for table, org_id, _, _, rows in expected
    ]

    heartbeat = conn.execute(
        "SELECT job, status, started_at, finished_at, error, holder, summary FROM cron_runs"
        " WHERE id = ?",
        (report.run_id,),
    ).fetchone()
    job, status, started_at, finished_at, error, holder, summary = heartbeat
    assert (job, status, error) == ("purge", "ok", None)
    assert holder.startswith(f"{HOST}:{os.getpid()}:")  # host, pid and a per-run nonce
    assert now <= started_at <= finished_at <= now_ms()
    assert summary == report.summary()
    assert summary.startswith(f"deleted {report.total} rows (events ")
    assert conn.execute("SELECT count(*) FROM cron_runs WHERE job = 'purge'").fetchone()[0] == 1
    assert conn.execute("SELECT * FROM cron_leases").fetchall() == []

    assert any(
        line.startswith("events, org org_starter (starter), older than 90 days: deleted in")
        and line.endswith(f"{2 * expired_count(now, 90)} rows")
        for line in lines
    ), lines


@pytest.mark.parametrize(
    ("expired_rows", "chunk", "statements"),
    # nothing expired: no write at all (a read finds nothing to delete)
    [(50, 7, 8), (49, 7, 8), (7, 7, 2), (3, 7, 1), (0, 7, 0), (50, 1, 51)],
)
def test_chunked_deletes_take_everything_expired(
    conn: Conn, expired_rows: int, chunk: int, statements: int
):
    now = now_ms()
    org = add_org(conn, "org_starter", "starter", properties=1)
    (prop,) = org.property_ids
    old = [now - 91 * DAY_MS - i * 1000 for i in range(expired_rows)]
    fresh = [now - i * 1000 for i in range(5)]
    add_events(conn, org, prop, old + fresh)
    with traced(conn) as sql:
        report = run_purge(conn, now, chunk_rows=chunk, pause_s=0)

    events = [o for o in report.outcomes if o.target.table == "events"]
    assert [o.rows for o in events] == [expired_rows]
    deletes = [s for s, _ in sql if s.startswith("DELETE FROM events")]
    assert len(deletes) == statements
    # Each chunk's rows are picked `LIMIT chunk`: SQLite's trace shows the values bound.
    picks = [(s, p) for s, p in sql if s.startswith("SELECT id FROM events")]
    if dialect_of(conn) == "sqlite":
        assert all(s.rstrip().endswith(f"LIMIT {chunk})") for s in deletes), deletes[:2]
    else:
        assert len(picks) == statements and all(p[-1] == chunk for _, p in picks), picks[:2]
    remaining = [r[0] for r in conn.execute("SELECT received_at FROM events ORDER BY id")]
    assert remaining == fresh
    assert conn.execute(
        "SELECT rows_deleted FROM purge_log WHERE run_id = ? AND table_name = 'events'",
        (report.run_id,),
    ).fetchall() == [(expired_rows,)]


def test_dry_run_changes_nothing_and_counts_what_would_go(conn: Conn):
    now = now_ms()
    orgs = seed_matrix(conn, now)
    before = dump(conn)
    lines: list[str] = []

    report = run_purge(conn, now, dry_run=True, progress=lines.append)

    assert dump(conn) == before
    assert report.dry_run is True
    assert report.run_id is None
    per_target = {(o.target.table, o.target.org_id): o.rows for o in report.outcomes}
    expected = {
        (table, org.id): 2 * expired_count(now, table_days(table, org.plan))
        for org in orgs.values()
        for table in ("events", "sessions", "ai_referrals", "content")
    }
    expected |= {(table, None): expired_count(now, days) for table, days in GLOBAL_DAYS.items()}
    assert per_target == expected
    assert report.summary().startswith(f"would delete {sum(expected.values())} rows (events ")
    assert (
        f"events, org org_growth (growth), older than 180 days: would delete"
        f" {2 * expired_count(now, 180)} rows"
    ) in lines
    assert all("would delete" in line for line in lines)
    # A second, real run then deletes exactly what the dry run counted.
    real = run_purge(conn, now, pause_s=0)
    assert {(o.target.table, o.target.org_id): o.rows for o in real.outcomes} == expected


def finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    return process.pid


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda: f"{HOST}:{os.getppid()}", id="another-live-process-on-this-host"),
        pytest.param(lambda: f"{HOST}:{os.getpid()}", id="another-run-in-this-process"),
        pytest.param(lambda: "some-other-host.internal:1", id="another-host"),
    ],
)
def test_a_second_run_while_the_lease_is_held_raises_and_deletes_nothing(
    db: Location, conn: Conn, holder
):
    now = now_ms()
    seed_matrix(conn, now)
    other = open_db(db)
    try:
        held_by = holder()
        assert bookkeeping.acquire(other, "purge", held_by, now_ms()) is None
        run_id = bookkeeping.start_run(other, "purge", held_by, now_ms())
        before = dump(conn)

        with pytest.raises(AlreadyRunning) as raised:
            run_purge(conn, now, pause_s=0)

        assert raised.value.busy.holder == held_by
        assert raised.value.busy.expires_at > now
        assert dump(conn) == before
        assert conn.execute("SELECT id, status FROM cron_runs WHERE job = 'purge'").fetchall() == [
            (run_id, "running")
        ]
    finally:
        other.close()


def test_a_dead_holders_lease_is_taken_over_at_once(db: Location, conn: Conn):
    now = now_ms()
    orgs = seed_matrix(conn, now)
    dead = f"{HOST}:{finished_pid()}"
    other = open_db(db)
    try:
        assert bookkeeping.acquire(other, "purge", dead, now_ms()) is None
        dead_run = bookkeeping.start_run(other, "purge", dead, now_ms())
    finally:
        other.close()

    report = run_purge(conn, now, pause_s=0)

    status, error, finished_at = conn.execute(
        "SELECT status, error, finished_at FROM cron_runs WHERE id = ?", (dead_run,)
    ).fetchone()
    assert status == "failed"
    assert error.startswith(f"interrupted: {dead}")
    assert finished_at is not None
    assert report.run_id is not None and report.run_id != dead_run
    assert conn.execute(
        "SELECT status FROM cron_runs WHERE id = ?", (report.run_id,)
    ).fetchone() == ("ok",)
    starter = orgs["starter"].property_ids[0]
    assert ages_in(conn, now, "events", "property_id = ?", starter) == expected_ages(now, 90)
    assert conn.execute("SELECT * FROM cron_leases").fetchall() == []


def test_another_hosts_expired_lease_is_taken_over(db: Location, conn: Conn):
    now = now_ms()
    other = open_db(db)
    try:
        stale = "some-other-host.internal:1"
        assert bookkeeping.acquire(other, "purge", stale, now_ms() - 10 * 60_000) is None
        stale_run = bookkeeping.start_run(other, "purge", stale, now_ms() - 10 * 60_000)
    finally:
        other.close()

    report = run_purge(conn, now, pause_s=0)

    assert conn.execute(
        "SELECT id, status FROM cron_runs WHERE job = 'purge' ORDER BY id"
    ).fetchall() == [(stale_run, "failed"), (report.run_id, "ok")]


EXPIRED_ROWS = 60_000
FRESH_ROWS = 100
CHUNK = 500


def test_a_run_killed_midway_leaves_whole_chunks_and_the_next_run_finishes(
    db: Location, conn: Conn, tmp_path: Path
):
    now = now_ms()
    org = add_org(conn, "org_starter", "starter", properties=1)
    (prop,) = org.property_ids
    old_base = now - 200 * DAY_MS
    add_events(conn, org, prop, range(old_base, old_base + EXPIRED_ROWS))
    fresh = [now - i * 1000 for i in range(FRESH_ROWS)]
    add_events(conn, org, prop, fresh)
    cutoff = now - 90 * DAY_MS

    def expired_left() -> int:
        return conn.execute(
            "SELECT count(*) FROM events WHERE received_at < ?", (cutoff,)
        ).fetchone()[0]

    env = service_env(db)
    command = [sys.executable, "-m", "purge", "run", "--chunk", str(CHUNK), "--now", to_iso(now)]
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while expired_left() == EXPIRED_ROWS:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "the purge deleted nothing within 20 s"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(timeout=30)  # reaped: its pid no longer names a live process
    assert first.returncode == -signal.SIGKILL

    assert_intact(conn)
    left = expired_left()
    assert 0 < left < EXPIRED_ROWS, "the run was not caught midway"
    assert (EXPIRED_ROWS - left) % CHUNK == 0, f"{EXPIRED_ROWS - left} rows deleted"
    (first_run, status, first_holder) = conn.execute(
        "SELECT id, status, holder FROM cron_runs WHERE job = 'purge'"
    ).fetchone()
    assert status == "running"
    assert first_holder.startswith(f"{HOST}:{first.pid}:")
    assert conn.execute("SELECT holder, run_id FROM cron_leases").fetchall() == [
        (first_holder, first_run)
    ]

    second = subprocess.run(
        [sys.executable, "-m", "purge", "run", "--now", to_iso(now)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 0, second.stderr
    assert f"deleted {left} rows (events {left})" in second.stdout
    status, error = conn.execute(
        "SELECT status, error FROM cron_runs WHERE id = ?", (first_run,)
    ).fetchone()
    assert status == "failed"
    assert error.startswith(f"interrupted: {first_holder}")
    assert conn.execute(
        "SELECT status FROM cron_runs WHERE job = 'purge' AND id != ?", (first_run,)
    ).fetchall() == [("ok",)]
    assert expired_left() == 0
    assert [r[0] for r in conn.execute("SELECT received_at FROM events ORDER BY id")] == fresh
    assert conn.execute("SELECT * FROM cron_leases").fetchall() == []
    assert_intact(conn)


def test_a_long_delete_says_how_far_it_has_got(conn: Conn):
    now = now_ms()
    org = add_org(conn, "org_starter", "starter", properties=1)
    (prop,) = org.property_ids
    add_events(conn, org, prop, [now - 91 * DAY_MS - i * 1000 for i in range(35)])
    lines: list[str] = []

    report = run_purge(conn, now, chunk_rows=10, pause_s=0, progress=lines.append,
                       progress_every_s=0)  # fmt: skip

    scope = "events, org org_starter (starter), older than 90 days"
    steps = len(report.outcomes)
    position = next(i for i, o in enumerate(report.outcomes, 1) if o.target.table == "events")
    events = [line for line in lines if line.startswith(scope)]
    assert events[:3] == [
        f"{scope}: {n} rows deleted so far (step {position} of {steps})" for n in (10, 20, 30)
    ]
    assert len(events) == 4
    assert events[3].startswith(f"{scope}: deleted in ")
    assert events[3].endswith(" s: 35 rows")
