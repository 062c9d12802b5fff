"""The cron jobs, their schedule, and when one counts as stalled (pure).

The runbook's rule, "cron stall > 90 minutes": a job is stalled when a run has been going
for more than 90 minutes, or when its last success is more than 90 minutes old. A job
scheduled less often than that (the daily purge) gets its period on top: it is stalled when
its last success is older than a day and 90 minutes.

A job that has never succeeded is stalled once its period plus the 90 minutes have passed
since it was first expected to run: when the service first ran (its first migration), or its
own first run if that is not known. A job nobody ever scheduled is the commonest stall, so it
must not look on time forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.clock import to_iso

MINUTE_MS = 60_000
STALL_GRACE_MS = 90 * MINUTE_MS
# After a failure, try again this soon rather than a whole period later.
RETRY_AFTER_FAILURE_MS = 5 * MINUTE_MS


@dataclass(frozen=True)
class Job:
    name: str
    period_ms: int


JOBS: dict[str, Job] = {
    "purge": Job("purge", 24 * 60 * MINUTE_MS),
    "alerts": Job("alerts", MINUTE_MS),
}


@dataclass(frozen=True)
class JobState:
    """What the heartbeats say about one job."""

    job: str
    first_started_at: int | None = None
    last_started_at: int | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_success_at: int | None = None
    running_since: int | None = None
    # When the service first ran (the first migration): a job is expected from then on.
    service_since: int | None = None


def stall_reason(
    state: JobState, job: Job, now_ms: int, grace_ms: int = STALL_GRACE_MS
) -> str | None:
    """Why the job is stalled, or None when it is not."""
    if state.running_since is not None and now_ms - state.running_since > grace_ms:
        return f"a run has been going for {duration(now_ms - state.running_since)}"
    if state.last_success_at is not None:
        if now_ms - state.last_success_at > allowed_gap(job, grace_ms):
            gap = duration(now_ms - state.last_success_at)
            return f"no success for {gap} (last at {to_iso(state.last_success_at)})"
        return None
    return _never_succeeded(state, job, now_ms, grace_ms)


def _never_succeeded(state: JobState, job: Job, now_ms: int, grace_ms: int) -> str | None:
    known = [t for t in (state.service_since, state.first_started_at) if t is not None]
    if not known:
        return None
    origin = min(known)
    if now_ms - origin <= first_success_gap(job, grace_ms):
        return None
    ago = f"{duration(now_ms - origin)} ago ({to_iso(origin)})"
    if state.first_started_at is None:
        return f"never run; the service started {ago}"
    if origin == state.first_started_at:
        return f"never succeeded; first run {ago}"
    return f"never succeeded; the service started {ago}"


def allowed_gap(job: Job, grace_ms: int = STALL_GRACE_MS) -> int:
    """How long the job may go without a success: the grace, plus the period of a job that
    runs less often than that."""
    return grace_ms + (job.period_ms if job.period_ms > grace_ms else 0)


def first_success_gap(job: Job, grace_ms: int = STALL_GRACE_MS) -> int:
    """How long after the service first ran the job may go without its first success: a
    scheduler may wait a whole period before the first run, then the grace."""
    return job.period_ms + grace_ms


def duration(ms: int) -> str:
    minutes = ms // MINUTE_MS
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes // 60} h {minutes % 60} min"


def due(state: JobState, job: Job, now_ms: int) -> bool:
    """Whether the scheduler should start a run now."""
    if state.running_since is not None:
        return False
    if state.last_started_at is None:
        return True
    if state.last_status == "failed":
        return now_ms - state.last_started_at >= min(job.period_ms, RETRY_AFTER_FAILURE_MS)
    last = state.last_success_at or state.last_started_at
    return now_ms - last >= job.period_ms


def describe(
    state: JobState, job: Job, now_ms: int, grace_ms: int = STALL_GRACE_MS
) -> dict[str, Any]:
    reason = stall_reason(state, job, now_ms, grace_ms)
    return {
        "status": "degraded" if reason else "ok",
        "period_minutes": job.period_ms // MINUTE_MS,
        "last_success_at": to_iso(state.last_success_at),
        "last_run_at": to_iso(state.last_started_at),
        "last_status": state.last_status or "never run",
        "last_error": state.last_error,
        "running_since": to_iso(state.running_since),
        **({"detail": f"stalled: {reason}"} if reason else {}),
    }
