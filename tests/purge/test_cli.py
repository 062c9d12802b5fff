"""`optiview purge run` and `python -m purge run`, as an operator or cron runs them; the tests
given a database run on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.clock import now_ms, to_iso
from ingest.cron import bookkeeping
from ingest.storage.sql import Location, dialect_of
from tests import dbprobe
from tests.conftest import optiview, service_env
from tests.ingest.cron.job_databases import fresh
from tests.purge.seed import (
    DAY_MS,
    add_ai_referral,
    add_events,
    add_org,
    add_session,
    dump,
    open_db,
)

NOW_ISO = "2027-01-15T08:00:00Z"
NOW = 1_800_000_000_000  # NOW_ISO

Cli = Callable[..., subprocess.CompletedProcess[str]]


def python_m_purge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "purge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def optiview_purge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return optiview("purge", *args, env=env)


ENTRY_POINTS = [
    pytest.param(optiview_purge, id="optiview-purge"),
    pytest.param(python_m_purge, id="python-m-purge"),
]
# Both entry points on SQLite; on PostgreSQL one: the entry point is the same code on either
# backend, and each CLI run costs a process start.
BACKENDS_AND_ENTRY_POINTS = [
    pytest.param("sqlite", optiview_purge, id="sqlite-optiview-purge"),
    pytest.param("sqlite", python_m_purge, id="sqlite-python-m-purge"),
    pytest.param("postgres", optiview_purge, id="postgres-optiview-purge"),
]
# Arguments are refused before the database is opened: SQLite alone shows it.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def empty_db(db_location: Location, tmp_path: Path) -> Location:
    return fresh(db_location, tmp_path)


@pytest.fixture
def db(empty_db: Location) -> Location:
    """A starter org with 3 expired rows (an event, a session, an AI referral) and 3 kept."""
    path = empty_db
    conn = open_db(path)
    try:
        starter = add_org(conn, "org_starter", "starter", properties=1)
        growth = add_org(conn, "org_growth", "growth", properties=1)
        (prop,) = starter.property_ids
        add_events(conn, starter, prop, [NOW - 91 * DAY_MS, NOW - 89 * DAY_MS])
        add_events(conn, growth, growth.property_ids[0], [NOW - 100 * DAY_MS])
        add_session(conn, starter, prop, NOW - 91 * DAY_MS, "old")
        add_session(conn, starter, prop, NOW - 89 * DAY_MS, "new")
        add_ai_referral(conn, starter, prop, NOW - 366 * DAY_MS)
    finally:
        conn.close()
    return path


def rows(db: Location, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in dbprobe.rows(db, sql)]


def snapshot(db: Location) -> str:
    conn = open_db(db)
    try:
        return dump(conn)
    finally:
        conn.close()


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_dry_run_says_what_would_go_and_deletes_nothing(db: Location, cli: Cli):
    before = snapshot(db)

    result = cli("run", "--now", NOW_ISO, "--dry-run", env=service_env(db))

    assert result.returncode == 0, result.stderr
    assert f"purge: dry run, expiring as of 2027-01-15T08:00:00.000Z in {db}" in result.stderr
    would = [line for line in result.stderr.splitlines() if "would delete" in line]
    assert would == [
        "purge: events, org org_starter (starter), older than 90 days: would delete 1 rows",
        "purge: sessions, org org_starter (starter), older than 90 days: would delete 1 rows",
        "purge: ai_referrals, org org_starter (starter), older than 365 days: would delete 1 rows",
    ]
    assert "purge: would delete 3 rows (events 1, sessions 1, ai_referrals 1)" in result.stdout
    assert snapshot(db) == before


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_a_real_run_deletes_and_says_how_many(db: Location, cli: Cli):
    result = cli("run", "--now", NOW_ISO, env=service_env(db))

    assert result.returncode == 0, result.stderr
    assert "purge: deleted 3 rows (events 1, sessions 1, ai_referrals 1) in " in result.stdout
    assert result.stdout.rstrip().endswith("(run 1)")
    assert "events, org org_starter (starter), older than 90 days: deleted in" in result.stderr
    assert rows(db, "SELECT received_at FROM events ORDER BY id") == [
        (NOW - 89 * DAY_MS,),
        (NOW - 100 * DAY_MS,),
    ]
    assert rows(db, "SELECT id FROM sessions") == [("new",)]
    assert rows(db, "SELECT count(*) FROM ai_referrals") == [(0,)]
    assert rows(db, "SELECT id, job, status, error FROM cron_runs") == [(1, "purge", "ok", None)]
    assert rows(db, "SELECT count(*) FROM purge_log WHERE run_id = 1") == [(2 * 4 + 3,)]
    assert rows(db, "SELECT * FROM cron_leases") == []

    again = cli("run", "--now", NOW_ISO, env=service_env(db))
    assert again.returncode == 0, again.stderr
    assert "purge: deleted 0 rows in " in again.stdout


def production(db: Location) -> dict[str, str]:
    return service_env(db, OPTIVIEW_ENV="production")


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_production_refuses_a_now_ahead_of_the_clock_and_deletes_nothing(db: Location, cli: Cli):
    """`purge run --now <far future>` deleted every event of a partner, and the purge's own
    history, on a production database."""
    before = snapshot(db)
    ahead = to_iso(now_ms() + 400 * DAY_MS)

    result = cli("run", "--now", ahead, env=production(db))

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert f"purge: error: refused: --now {ahead} is " in result.stderr
    assert "ahead of the clock" in result.stderr
    assert "OPTIVIEW_ENV=production that would delete rows that have not expired" in (result.stderr)
    assert "Add --dry-run" in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_production_takes_a_future_now_with_dry_run(db: Location, cli: Cli):
    before = snapshot(db)
    result = cli("run", "--now", to_iso(now_ms() + 400 * DAY_MS), "--dry-run", env=production(db))
    assert result.returncode == 0, result.stderr
    assert "purge: would delete " in result.stdout
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "offset_ms",
    [pytest.param(30_000, id="30-s-ahead"), pytest.param(-400 * DAY_MS, id="in-the-past")],
)
def test_production_takes_a_now_within_a_minute_or_in_the_past(db: Location, offset_ms: int):
    result = optiview_purge("run", "--now", to_iso(now_ms() + offset_ms), env=production(db))
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT job, status FROM cron_runs") == [("purge", "ok")]


def test_development_still_takes_a_future_now(db: Location):
    result = optiview_purge("run", "--now", to_iso(now_ms() + 400 * DAY_MS), env=service_env(db))
    assert result.returncode == 0, result.stderr
    assert "purge: deleted " in result.stdout


@SQLITE_ONLY
@pytest.mark.parametrize("cli", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--now", "yesterday"], ["--now", "yesterday"]),
        (["--now", "2027-13-45T00:00:00Z"], ["--now"]),
        (["--chunk", "0"], ["--chunk"]),
        (["--chunk", "-5"], ["--chunk"]),
        (["--chunk", "many"], ["--chunk"]),
    ],
)
def test_bad_arguments_exit_2(db: Location, cli: Cli, args: list[str], mentions: list[str]):
    before = snapshot(db)

    result = cli("run", *args, env=service_env(db))

    assert result.returncode == 2, result.stderr
    for word in mentions:
        assert word in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_a_run_while_another_holds_the_lease_is_skipped(db: Location, cli: Cli):
    holder = bookkeeping.holder_id()  # this test process: alive, its session open meanwhile
    conn = open_db(db)
    try:
        assert bookkeeping.acquire(conn, "purge", holder, now_ms()) is None
        before = snapshot(db)

        result = cli("run", "--now", NOW_ISO, env=service_env(db))

        assert result.returncode == 0, result.stderr
        assert "purge: skipped" in result.stderr
        assert holder in result.stderr
        assert snapshot(db) == before
        assert rows(db, "SELECT count(*) FROM cron_runs") == [(0,)]
    finally:
        conn.close()


def corrupt_file(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not an SQLite database, whatever its name says\n" * 100)
    return path


def directory(tmp_path: Path) -> Path:
    path = tmp_path / "a-directory"
    path.mkdir()
    return path


@pytest.mark.parametrize("cli", ENTRY_POINTS)
@pytest.mark.parametrize("make_path", [directory, corrupt_file])
def test_an_unusable_database_fails_with_a_message(
    tmp_path: Path, cli: Cli, make_path: Callable[[Path], Path]
):
    result = cli("run", env=service_env(make_path(tmp_path)))

    assert result.returncode == 1, result.stderr
    assert "purge: error" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_a_run_that_fails_midway_exits_1_and_records_the_failure(db: Location, cli: Cli):
    # Renamed rather than dropped: a PostgreSQL test database is the module's, emptied for the
    # next test, not remade.
    dbprobe.execute(db, "ALTER TABLE content RENAME TO content_away")
    try:
        result = cli("run", "--now", NOW_ISO, env=service_env(db))
        errors = rows(db, "SELECT job, status, error FROM cron_runs")
        leases = rows(db, "SELECT * FROM cron_leases")
    finally:
        dbprobe.execute(db, "ALTER TABLE content_away RENAME TO content")

    conn = open_db(db)
    try:
        sqlite = dialect_of(conn) == "sqlite"
    finally:
        conn.close()
    error = (
        "OperationalError: no such table: content"
        if sqlite
        else 'UndefinedTable: relation "content" does not exist'
    )
    assert result.returncode == 1, result.stderr
    assert f"purge: error: the run failed: {error}" in result.stderr
    assert "Traceback" not in result.stderr
    assert [(job, status, str(message).startswith(error)) for job, status, message in errors] == [
        ("purge", "failed", True)
    ], errors
    assert leases == []


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"]])
def test_python_m_purge_help(tmp_path: Path, args: list[str]):
    result = python_m_purge(*args, env=service_env(tmp_path / "unused.db"))

    assert result.returncode == 0, result.stderr
    usage = " ".join(result.stdout.split("\n\n")[0].split())
    # `run` is one optional word, shown once, after the options it may follow or precede
    assert usage.startswith("usage: python -m purge [-h] [--now NOW] [--dry-run]")
    assert usage.endswith(" [run]")
    positional = result.stdout.split("positional arguments:\n")[1].split("\n\n")[0]
    described = "run the job once: the only action, so it may be left out"
    assert " ".join(positional.split()) == f"run {described}"
    text = " ".join(result.stdout.split())
    for phrase in ("--now", "--dry-run", "--chunk", "starter 90, growth 180, pro 365 days"):
        assert phrase in text
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.parametrize("args", [["--dry-run", "run"], ["run", "--dry-run"], ["--dry-run"]])
def test_python_m_purge_options_mean_the_same_before_and_after_run(db: Location, args: list[str]):
    before = snapshot(db)

    result = python_m_purge(*args, "--now", NOW_ISO, env=service_env(db))

    assert result.returncode == 0, result.stderr
    assert "purge: would delete 3 rows" in result.stdout
    assert snapshot(db) == before


def test_optiview_purge_help_describes_the_retention(tmp_path: Path):
    result = optiview("purge", "run", "--help", env=service_env(tmp_path / "unused.db"))

    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert text.startswith("usage: optiview purge run")
    for phrase in (
        "starter 90, growth 180, pro 365 days",
        "sessions after 90 days",
        "AI referrals after 365",
        "--dry-run",
        "--chunk",
        "--now",
    ):
        assert phrase in text
    assert not (tmp_path / "unused.db").exists()


def test_python_m_purge_alone_runs_once(empty_db: Location):
    result = python_m_purge("--dry-run", env=service_env(empty_db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("purge: would delete 0 rows")


def test_a_long_run_prints_progress_to_stderr(empty_db: Location):
    path = empty_db
    conn = open_db(path)
    try:
        org = add_org(conn, "org_starter", "starter", properties=1)
        add_events(conn, org, org.property_ids[0], [NOW - 91 * DAY_MS - i for i in range(80)])
    finally:
        conn.close()

    # one row per chunk, each followed by a pause of at least 20 ms: well over a second
    result = python_m_purge("--now", NOW_ISO, "--chunk", "1", env=service_env(path))

    assert result.returncode == 0, result.stderr
    so_far = [line for line in result.stderr.splitlines() if "deleted so far" in line]
    assert so_far, result.stderr
    assert so_far[0].startswith("purge: events, org org_starter (starter), older than 90 days: ")
    assert "deleted so far" not in result.stdout
    assert "purge: deleted 80 rows (events 80)" in result.stdout
