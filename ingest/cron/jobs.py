"""The cron jobs, their schedule, and when one counts as stalled (pure).

The runbook's rule, "cron stall > 90 minutes", read for jobs of any period: a job is stalled
when a run has been going for more than 90 minutes, or when its next success is more than 90
minutes overdue (last success + period + 90 minutes). For the every-minute alerts job that is
about 90 minutes without a success; for the daily purge, a day and a half hour.
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


def stall_reason(
    state: JobState, job: Job, now_ms: int, grace_ms: int = STALL_GRACE_MS
) -> str | None:
    """Why the job is stalled, or None when it is not (a job never run is not stalled)."""
    if state.running_since is not None and now_ms - state.running_since > grace_ms:
        minutes = (now_ms - state.running_since) // MINUTE_MS
        return f"a run has been going for {minutes} minutes"
    reference = state.last_success_at or state.first_started_at
    if reference is None:
        return None
    overdue = now_ms - (reference + job.period_ms)
    if overdue > grace_ms:
        since = "no success since" if state.last_success_at else "never succeeded since"
        return f"{since} {to_iso(reference)}: {overdue // MINUTE_MS} minutes overdue"
    return None


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
