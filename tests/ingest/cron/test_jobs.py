"""When a cron job is stalled or due, and how health describes it (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.clock import to_iso
from ingest.cron.jobs import (
    JOBS,
    Job,
    JobState,
    allowed_gap,
    describe,
    due,
    duration,
    first_success_gap,
    stall_reason,
)

MIN = 60_000
DAY = 24 * 60 * MIN
NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z
ALERTS = JOBS["alerts"]
PURGE = JOBS["purge"]
BOTH = [pytest.param(ALERTS, id="alerts"), pytest.param(PURGE, id="purge")]


def test_the_jobs_and_their_periods():
    periods = {name: job.period_ms for name, job in JOBS.items()}
    assert periods == {"alerts": MIN, "purge": DAY}
    assert all(job.name == name for name, job in JOBS.items())


def succeeded(job: Job, at: int, first: int | None = None) -> JobState:
    return JobState(
        job=job.name,
        first_started_at=first if first is not None else at,
        last_started_at=at,
        last_status="ok",
        last_success_at=at,
    )


@pytest.mark.parametrize("job", BOTH)
@pytest.mark.parametrize(
    ("beyond_min", "stalled"), [(-60, False), (-1, False), (0, False), (1, True), (600, True)]
)
def test_stalled_once_without_a_success_for_longer_than_allowed(
    job: Job, beyond_min: int, stalled: bool
):
    """90 minutes for the every-minute alerts job; a day and 90 minutes for the daily purge."""
    allowed = 90 * MIN + (job.period_ms if job.period_ms > 90 * MIN else 0)
    assert allowed_gap(job) == allowed
    last_success = NOW - allowed - beyond_min * MIN
    reason = stall_reason(succeeded(job, last_success, first=last_success - 30 * DAY), job, NOW)
    if stalled:
        gap = duration(NOW - last_success)
        assert reason == f"no success for {gap} (last at {to_iso(last_success)})"
    else:
        assert reason is None


def test_the_alerts_job_is_stalled_at_91_minutes_not_89():
    alerts = JOBS["alerts"]
    for minutes, stalled in ((89, False), (91, True)):
        state = succeeded(alerts, NOW - minutes * MIN, first=NOW - DAY)
        assert (stall_reason(state, alerts, NOW) is not None) is stalled


@pytest.mark.parametrize("job", BOTH)
@pytest.mark.parametrize(("running_min", "stalled"), [(1, False), (89, False), (91, True)])
def test_stalled_when_a_run_has_been_going_over_90_minutes(
    job: Job, running_min: int, stalled: bool
):
    started = NOW - running_min * MIN
    state = JobState(
        job=job.name,
        first_started_at=started,
        last_started_at=started,
        last_status="running",
        running_since=started,
    )
    reason = stall_reason(state, job, NOW)
    if stalled:
        assert reason == f"a run has been going for {running_min} minutes"
    else:
        assert reason is None


@pytest.mark.parametrize("job", BOTH)
def test_a_job_never_run_on_a_service_of_unknown_age_is_not_stalled(job: Job):
    assert stall_reason(JobState(job.name), job, NOW) is None


def test_a_first_success_may_take_the_period_plus_90_minutes():
    assert first_success_gap(ALERTS) == 91 * MIN
    assert first_success_gap(PURGE) == DAY + 90 * MIN


@pytest.mark.parametrize("job", BOTH)
@pytest.mark.parametrize(
    ("beyond_min", "stalled"), [(-600, False), (-1, False), (0, False), (1, True), (600, True)]
)
def test_a_job_never_run_is_stalled_once_the_service_ran_for_its_period_plus_90_minutes(
    job: Job, beyond_min: int, stalled: bool
):
    started = NOW - first_success_gap(job) - beyond_min * MIN
    reason = stall_reason(JobState(job.name, service_since=started), job, NOW)
    if stalled:
        gap = duration(NOW - started)
        assert reason == f"never run; the service started {gap} ago ({to_iso(started)})"
    else:
        assert reason is None


def test_the_purge_never_run_on_a_fresh_database_evaluated_a_year_later_is_stalled():
    """`alerts run --now 2027-01-01` on a database migrated today said "on time"."""
    migrated = NOW - 365 * DAY
    reason = stall_reason(JobState("purge", service_since=migrated), PURGE, NOW)
    assert reason == f"never run; the service started 8760 h 0 min ago ({to_iso(migrated)})"


@pytest.mark.parametrize("job", BOTH)
def test_never_succeeded_counts_from_the_service_start_when_that_is_earlier(job: Job):
    started = NOW - first_success_gap(job) - MIN
    state = JobState(
        job=job.name,
        first_started_at=NOW - 10 * MIN,
        last_started_at=NOW - 10 * MIN,
        last_status="failed",
        last_error="boom",
        service_since=started,
    )
    gap = duration(NOW - started)
    assert stall_reason(state, job, NOW) == (
        f"never succeeded; the service started {gap} ago ({to_iso(started)})"
    )


@pytest.mark.parametrize("job", BOTH)
def test_a_success_ends_the_first_run_allowance(job: Job):
    state = replace(succeeded(job, NOW - MIN), service_since=NOW - 30 * DAY)
    assert stall_reason(state, job, NOW) is None


@pytest.mark.parametrize("job", BOTH)
@pytest.mark.parametrize(("beyond_min", "stalled"), [(-1, False), (1, True)])
def test_never_succeeded_counts_from_the_first_start(job: Job, beyond_min: int, stalled: bool):
    first = NOW - first_success_gap(job) - beyond_min * MIN
    state = JobState(
        job=job.name,
        first_started_at=first,
        last_started_at=NOW - 2 * MIN,
        last_status="failed",
        last_error="OperationalError: database is locked",
    )
    reason = stall_reason(state, job, NOW)
    if stalled:
        gap = duration(NOW - first)
        assert reason == f"never succeeded; first run {gap} ago ({to_iso(first)})"
    else:
        assert reason is None


def test_the_daily_purge_is_stalled_a_day_and_a_half_hour_after_its_last_success():
    assert stall_reason(succeeded(PURGE, NOW - DAY - 89 * MIN), PURGE, NOW) is None
    assert stall_reason(succeeded(PURGE, NOW - DAY - 91 * MIN), PURGE, NOW) is not None
    # The every-minute alerts job: about 90 minutes without a success.
    assert stall_reason(succeeded(ALERTS, NOW - 90 * MIN), ALERTS, NOW) is None
    assert stall_reason(succeeded(ALERTS, NOW - 92 * MIN), ALERTS, NOW) is not None


def failed(job: Job, minutes_ago: float, last_success: int | None = None) -> JobState:
    at = NOW - int(minutes_ago * MIN)
    return JobState(
        job=job.name,
        first_started_at=NOW - 10 * DAY,
        last_started_at=at,
        last_status="failed",
        last_error="boom",
        last_success_at=last_success,
    )


def running(job: Job, for_ms: int) -> JobState:
    """A run going for `for_ms`, after a success a period before it started."""
    return JobState(
        job=job.name,
        first_started_at=NOW - 10 * DAY,
        last_started_at=NOW - for_ms,
        last_status="running",
        last_success_at=NOW - for_ms - job.period_ms,
        running_since=NOW - for_ms,
    )


@pytest.mark.parametrize(
    ("job", "state", "expected"),
    [
        pytest.param(PURGE, JobState("purge"), True, id="purge-never-run"),
        pytest.param(ALERTS, JobState("alerts"), True, id="alerts-never-run"),
        pytest.param(PURGE, running(PURGE, 2 * DAY), False, id="purge-running-2-days"),
        pytest.param(PURGE, running(PURGE, 1 * MIN), False, id="purge-running-1-min"),
        pytest.param(ALERTS, running(ALERTS, 5 * MIN), False, id="alerts-running"),
        pytest.param(PURGE, failed(PURGE, 4), False, id="purge-failed-4-min-ago"),
        pytest.param(PURGE, failed(PURGE, 6), True, id="purge-failed-6-min-ago"),
        pytest.param(PURGE, failed(PURGE, 5), True, id="purge-failed-5-min-ago"),
        pytest.param(
            PURGE, failed(PURGE, 4, last_success=NOW - 3 * DAY), False, id="purge-failed-after-ok"
        ),
        pytest.param(ALERTS, failed(ALERTS, 0.5), False, id="alerts-failed-30-s-ago"),
        pytest.param(ALERTS, failed(ALERTS, 1), True, id="alerts-failed-1-min-ago"),
        pytest.param(PURGE, succeeded(PURGE, NOW - DAY + MIN), False, id="purge-ok-23h59m-ago"),
        pytest.param(PURGE, succeeded(PURGE, NOW - DAY), True, id="purge-ok-a-day-ago"),
        pytest.param(PURGE, succeeded(PURGE, NOW - DAY - MIN), True, id="purge-ok-24h01m-ago"),
        pytest.param(ALERTS, succeeded(ALERTS, NOW - 30_000), False, id="alerts-ok-30-s-ago"),
        pytest.param(ALERTS, succeeded(ALERTS, NOW - 61_000), True, id="alerts-ok-61-s-ago"),
    ],
)
def test_due(job: Job, state: JobState, expected: bool):
    assert due(state, job, NOW) is expected


def test_describe_a_healthy_job():
    state = JobState(
        job="purge",
        first_started_at=NOW - 10 * DAY,
        last_started_at=NOW - 3 * 60 * MIN,
        last_status="ok",
        last_success_at=NOW - 3 * 60 * MIN,
    )
    assert describe(state, PURGE, NOW) == {
        "status": "ok",
        "period_minutes": 1440,
        "last_success_at": "2027-01-15T05:00:00.000Z",
        "last_run_at": "2027-01-15T05:00:00.000Z",
        "last_status": "ok",
        "last_error": None,
        "running_since": None,
    }


def test_describe_a_job_never_run():
    assert describe(JobState("alerts"), ALERTS, NOW) == {
        "status": "ok",
        "period_minutes": 1,
        "last_success_at": None,
        "last_run_at": None,
        "last_status": "never run",
        "last_error": None,
        "running_since": None,
    }


def test_describe_a_job_never_run_on_a_service_running_for_two_days():
    described = describe(JobState("purge", service_since=NOW - 2 * DAY), PURGE, NOW)
    assert described["status"] == "degraded"
    assert described["last_status"] == "never run"
    assert described["detail"] == (
        "stalled: never run; the service started 48 h 0 min ago (2027-01-13T08:00:00.000Z)"
    )


def test_describe_a_stalled_job():
    last_success = NOW - DAY - 120 * MIN
    state = JobState(
        job="purge",
        first_started_at=NOW - 10 * DAY,
        last_started_at=NOW - 10 * MIN,
        last_status="failed",
        last_error="OperationalError: disk I/O error",
        last_success_at=last_success,
    )
    assert describe(state, PURGE, NOW) == {
        "status": "degraded",
        "period_minutes": 1440,
        "last_success_at": "2027-01-14T06:00:00.000Z",
        "last_run_at": "2027-01-15T07:50:00.000Z",
        "last_status": "failed",
        "last_error": "OperationalError: disk I/O error",
        "running_since": None,
        "detail": "stalled: no success for 26 h 0 min (last at 2027-01-14T06:00:00.000Z)",
    }


def test_describe_a_run_going_for_too_long():
    described = describe(running(PURGE, 95 * MIN), PURGE, NOW)
    assert described["status"] == "degraded"
    assert described["running_since"] == "2027-01-15T06:25:00.000Z"
    assert described["detail"] == "stalled: a run has been going for 95 minutes"
