"""`optiview alerts run` and `python -m alerts run`, as cron or an operator runs them, against
a local stand-in for Slack; on SQLite and on PostgreSQL (the tests given `db`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.clock import to_iso
from ingest.collect.rollups import MINUTE_MS
from ingest.cron import bookkeeping
from ingest.storage.sql import Location, connect
from tests import dbprobe
from tests.alerts.conftest import (
    DOWN,
    NOT_FOUND,
    OK,
    SlackStandIn,
    current_minute,
    insert_rollups,
    rollup_row,
)
from tests.conftest import optiview, service_env
from tests.ingest.cron.job_databases import dump

Cli = Callable[..., subprocess.CompletedProcess[str]]


def python_m_alerts(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alerts", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def optiview_alerts(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return optiview("alerts", *args, env=env)


ENTRY_POINTS = [
    pytest.param(optiview_alerts, id="optiview-alerts"),
    pytest.param(python_m_alerts, id="python-m-alerts"),
]
# Both entry points on SQLite; on PostgreSQL one: the entry point is the same code on either
# backend, and each CLI run costs a process start.
BACKENDS_AND_ENTRY_POINTS = [
    pytest.param("sqlite", optiview_alerts, id="sqlite-optiview-alerts"),
    pytest.param("sqlite", python_m_alerts, id="sqlite-python-m-alerts"),
    pytest.param("postgres", optiview_alerts, id="postgres-optiview-alerts"),
]
# Arguments are refused before the database is opened: SQLite alone shows it.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def now() -> int:
    return current_minute()


@pytest.fixture
def firing_db(db: Location, now: int) -> Iterator[Location]:
    """5% errors over 5000 requests in the last five minutes."""
    conn = connect(db, create=False)
    try:
        insert_rollups(
            conn, [rollup_row(now - k * MINUTE_MS, 1000, 50, {"le_10": 1000}) for k in range(1, 6)]
        )
    finally:
        conn.close()
    yield db


def env_for(db: Location, slack: SlackStandIn, **extra: str) -> dict[str, str]:
    return service_env(db, SLACK_WEBHOOK_URL=slack.url, **extra)


def query(db: Location, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in dbprobe.rows(db, sql)]


def snapshot(db: Location) -> str:
    conn = connect(db, create=False)
    try:
        return dump(conn)
    finally:
        conn.close()


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_a_run_with_firing_rollups_exits_0_and_slack_gets_the_message(
    firing_db: Location, slack: SlackStandIn, now: int, cli: Cli
):
    result = cli("run", "--now", to_iso(now), env=env_for(firing_db, slack))

    assert result.returncode == 0, result.stderr
    assert f"alerts: evaluating as of {to_iso(now)}" in result.stderr
    assert "alerts: FIRING: error rate 5.00% (250 of 5000 requests)" in result.stderr
    assert "alerts: notify firing: error_rate collector" in result.stderr
    assert result.stdout == "alerts: 1 firing, 1 notified, 1 delivered\n"
    (text,) = slack.texts()
    assert text.startswith("[FIRING] Collector error rate: error rate 5.00%")
    assert query(firing_db, "SELECT rule, kind, delivery, attempts FROM alerts") == [
        ("error_rate", "firing", "sent", 1)
    ]
    assert query(firing_db, "SELECT job, status FROM cron_runs") == [("alerts", "ok")]


def test_without_now_it_evaluates_the_current_time(firing_db: Location, slack: SlackStandIn):
    result = optiview_alerts("run", env=env_for(firing_db, slack))
    assert result.returncode == 0, result.stderr
    # the rows are in the 5 minutes before the minute the test started; the run may start in
    # the next minute, so at least 4 of them count
    assert "alerts: 1 firing, 1 notified, 1 delivered" in result.stdout
    assert len(slack.received) == 1


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_dry_run_says_would_notify_and_changes_nothing(
    firing_db: Location, slack: SlackStandIn, now: int, cli: Cli
):
    before = snapshot(firing_db)

    result = cli("run", "--now", to_iso(now), "--dry-run", env=env_for(firing_db, slack))

    assert result.returncode == 0, result.stderr
    assert f"alerts: dry run, evaluating as of {to_iso(now)}" in result.stderr
    assert "alerts: would notify firing: error_rate collector" in result.stderr
    assert "would notify" in result.stdout + result.stderr
    assert slack.received == []
    assert snapshot(firing_db) == before


def test_python_m_alerts_run_help():
    result = python_m_alerts("run", "--help", env=service_env(Path("/nonexistent/x.db")))
    assert result.returncode == 0, result.stderr
    assert "--now" in result.stdout
    assert "--dry-run" in result.stdout


def test_optiview_alerts_run_help_states_the_rules():
    result = optiview_alerts("run", "--help", env=service_env(Path("/nonexistent/x.db")))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for phrase in ("--now", "--dry-run", "1%", "200 ms", "500 requests", "90 minutes", "15"):
        assert phrase in text, phrase


@SQLITE_ONLY
@pytest.mark.parametrize("cli", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["run", "--now", "yesterday"], ["--now", "yesterday"]),
        (["run", "--now", "2027-13-45T00:00:00Z"], ["--now"]),
        (["run", "--frobnicate"], ["--frobnicate"]),
    ],
)
def test_bad_arguments_exit_2(
    firing_db: Location, slack: SlackStandIn, cli: Cli, args: list[str], mentions: list[str]
):
    before = snapshot(firing_db)
    result = cli(*args, env=env_for(firing_db, slack))
    assert result.returncode == 2, result.stderr
    for word in mentions:
        assert word in result.stderr
    assert slack.received == []
    assert snapshot(firing_db) == before


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_slack_down_still_exits_0_and_the_next_run_delivers(
    firing_db: Location, slack: SlackStandIn, now: int, cli: Cli
):
    slack.mode = DOWN
    result = cli("run", "--now", to_iso(now), env=env_for(firing_db, slack))

    assert result.returncode == 0, result.stderr
    assert "delivery failed (retried next run)" in result.stdout
    assert result.stdout == (
        "alerts: 1 firing, 1 notified, 0 delivered, 1 delivery failed (retried next run)\n"
    )
    assert "alerts: alert 1: not sent: ConnectError" in result.stderr
    assert query(firing_db, "SELECT delivery, attempts FROM alerts") == [("failed", 3)]
    assert query(firing_db, "SELECT job, status FROM cron_runs") == [("alerts", "ok")]

    slack.mode = OK
    again = cli("run", "--now", to_iso(now + MINUTE_MS), env=env_for(firing_db, slack))

    assert again.returncode == 0, again.stderr
    assert again.stdout == "alerts: 1 firing, 0 notified, 1 delivered\n"
    assert query(firing_db, "SELECT delivery, attempts FROM alerts") == [("sent", 4)]
    assert len(slack.received) == 1


def test_a_revoked_webhook_is_not_retried_and_the_run_exits_0(
    firing_db: Location, slack: SlackStandIn, now: int
):
    slack.mode = NOT_FOUND
    result = optiview_alerts("run", "--now", to_iso(now), env=env_for(firing_db, slack))
    assert result.returncode == 0, result.stderr
    assert "1 delivery failed (retried next run)" in result.stdout
    assert "not sent: HTTP 404: no_service" in result.stderr
    assert len(slack.received) == 1
    assert query(firing_db, "SELECT delivery, attempts, last_error FROM alerts") == [
        ("failed", 1, "HTTP 404: no_service")
    ]


def test_without_webhook_it_warns_and_records(firing_db: Location, slack: SlackStandIn, now: int):
    result = optiview_alerts(
        "run", "--now", to_iso(now), env=service_env(firing_db, SLACK_WEBHOOK_URL="")
    )
    assert result.returncode == 0, result.stderr
    assert "alerts: warning: SLACK_WEBHOOK_URL is not set" in result.stderr
    assert result.stdout == "alerts: 1 firing, 1 notified, 0 delivered\n"
    assert query(firing_db, "SELECT delivery FROM alerts") == [("no_webhook",)]
    assert slack.received == []


def test_a_firing_recorded_from_a_shell_without_webhook_reaches_slack_on_the_next_run(
    firing_db: Location, slack: SlackStandIn, now: int
):
    """The lost alert: an operator's shell without SLACK_WEBHOOK_URL records the FIRING; the
    next run with the webhook (the scheduler's, or cron's) sends it instead of counting it as
    already notified, and the RESOLVED comes only after it."""
    shell = optiview_alerts(
        "run", "--now", to_iso(now), env=service_env(firing_db, SLACK_WEBHOOK_URL="")
    )
    assert shell.returncode == 0, shell.stderr
    assert "the next run with it sends them" in shell.stderr

    scheduled = optiview_alerts(
        "run", "--now", to_iso(now + MINUTE_MS), env=env_for(firing_db, slack)
    )
    assert scheduled.returncode == 0, scheduled.stderr
    assert scheduled.stdout == "alerts: 1 firing, 0 notified, 1 delivered\n"
    (text,) = slack.texts()
    assert text.startswith("[FIRING] Collector error rate")

    cleared = optiview_alerts(
        "run", "--now", to_iso(now + 7 * MINUTE_MS), env=env_for(firing_db, slack)
    )
    assert cleared.returncode == 0, cleared.stderr
    assert [t.split("]")[0] for t in slack.texts()] == ["[FIRING", "[RESOLVED"]
    assert query(firing_db, "SELECT kind, delivery FROM alerts ORDER BY id") == [
        ("firing", "sent"),
        ("resolved", "sent"),
    ]


def test_on_a_fresh_database_a_purge_that_never_ran_is_stalled_a_day_and_a_half_later(
    db: Location, slack: SlackStandIn, now: int
):
    """`alerts run --now` two days after the database was created said the purge was on
    time, because it had never run."""
    later = now + 2 * 24 * 60 * MINUTE_MS
    result = optiview_alerts("run", "--now", to_iso(later), env=env_for(db, slack))

    assert result.returncode == 0, result.stderr
    assert "alerts: FIRING: cron job purge: never run; the service started 4" in result.stderr
    assert "cron job purge on time" not in result.stderr
    texts = slack.texts()
    assert any(t.startswith("[FIRING] Cron job stalled (purge)") for t in texts), texts


@pytest.mark.parametrize(("backend", "cli"), BACKENDS_AND_ENTRY_POINTS, indirect=["backend"])
def test_production_refuses_a_now_ahead_of_the_clock_and_sends_nothing(
    firing_db: Location, slack: SlackStandIn, now: int, cli: Cli
):
    before = snapshot(firing_db)
    ahead = to_iso(now + 2 * 24 * 60 * MINUTE_MS)
    env = env_for(firing_db, slack, OPTIVIEW_ENV="production")

    result = cli("run", "--now", ahead, env=env)

    assert result.returncode == 2, result.stderr
    assert f"alerts: error: refused: --now {ahead} is " in result.stderr
    assert "would send real alerts about a time that has not come" in result.stderr
    assert slack.received == []
    assert snapshot(firing_db) == before

    dry = cli("run", "--now", ahead, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "alerts: dry run, evaluating as of" in dry.stderr
    assert slack.received == []


def test_production_takes_the_current_minute(firing_db: Location, slack: SlackStandIn, now: int):
    env = env_for(firing_db, slack, OPTIVIEW_ENV="production")
    result = optiview_alerts("run", "--now", to_iso(now), env=env)
    assert result.returncode == 0, result.stderr
    assert len(slack.received) == 1


def test_alerts_test_sends_a_test_message_and_records_it(db: Location, slack: SlackStandIn):
    result = optiview_alerts("test", env=env_for(db, slack))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "alerts: test alert 1 delivered to Slack\n"
    (text,) = slack.texts()
    assert text.startswith("[TEST] Optiview Edge alerts reach this channel")
    assert query(db, "SELECT kind, delivery, attempts FROM alerts") == [("test", "sent", 1)]


def test_alerts_test_without_webhook_exits_1_and_records_nothing(db: Location, slack: SlackStandIn):
    result = optiview_alerts("test", env=service_env(db, SLACK_WEBHOOK_URL=""))

    assert result.returncode == 1
    assert "alerts: error: SLACK_WEBHOOK_URL is not set here" in result.stderr
    assert query(db, "SELECT count(*) FROM alerts") == [(0,)]
    assert slack.received == []


def test_alerts_test_that_slack_refuses_exits_1_and_is_retried_by_the_next_run(
    db: Location, slack: SlackStandIn
):
    slack.mode = DOWN
    result = optiview_alerts("test", env=env_for(db, slack))
    assert result.returncode == 1
    assert "alerts: error: Slack did not take test alert 1 after 3 attempts" in result.stderr
    assert query(db, "SELECT delivery FROM alerts") == [("failed",)]

    slack.mode = OK
    assert optiview_alerts("run", env=env_for(db, slack)).returncode == 0
    assert query(db, "SELECT delivery FROM alerts") == [("sent",)]
    assert len(slack.received) == 1


def test_another_run_holding_the_lease_is_skipped_with_exit_0(
    firing_db: Location, slack: SlackStandIn, now: int
):
    conn = connect(firing_db, create=False)  # held open: on PostgreSQL the lease is its session
    try:
        assert bookkeeping.acquire(conn, "alerts", "otherhost:1:abcd", now) is None
        result = optiview_alerts("run", "--now", to_iso(now), env=env_for(firing_db, slack))
    finally:
        conn.close()

    assert result.returncode == 0, result.stderr
    assert "alerts: skipped: another alerts run holds the lock (otherhost:1:abcd)" in (
        result.stderr
    )
    assert slack.received == []
    assert query(firing_db, "SELECT count(*) FROM alerts") == [(0,)]


def test_a_database_that_cannot_be_used_exits_1(tmp_path: Path, slack: SlackStandIn):
    folder = tmp_path / "not-a-db"
    folder.mkdir()
    (folder / "optiview.db").mkdir()  # a directory where the file should be
    result = optiview_alerts("run", env=env_for(folder / "optiview.db", slack))
    assert result.returncode == 1
    assert "alerts: error:" in result.stderr or "optiview: error:" in result.stderr
    assert slack.received == []


def test_optiview_alerts_needs_its_action(firing_db: Location, slack: SlackStandIn):
    result = optiview_alerts(env=env_for(firing_db, slack))
    assert result.returncode == 2
    assert "run" in result.stderr
    assert slack.received == []


def test_python_m_alerts_alone_runs_once(firing_db: Location, slack: SlackStandIn):
    result = python_m_alerts(env=env_for(firing_db, slack))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("alerts: 1 firing, 1 notified, 1 delivered")
    assert len(slack.received) == 1
