"""Retention policy (runbook step 10), as pure functions: what expires, per table and org.

A row expires when its time is strictly older than the cutoff, `now - retention`: a row
exactly at the cutoff is kept. Event retention follows the organisation's plan; the other
windows are the same for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DAY_MS = 86_400_000

EVENT_DAYS_BY_PLAN = {"starter": 90, "growth": 180, "pro": 365}
AI_REFERRAL_DAYS = 365
SESSION_DAYS = 90
# Our own tables. Content: a page not seen for a year is no longer "discovered". Rollups
# feed 5-minute alert windows and short trends. The purge log and cron runs are an audit trail.
CONTENT_DAYS = 365
ROLLUP_DAYS = 35
PURGE_LOG_DAYS = 365
CRON_RUN_DAYS = 90


@dataclass(frozen=True)
class Org:
    id: str
    plan: str
    property_ids: tuple[int, ...]


@dataclass(frozen=True)
class Target:
    """Rows of `table` whose `time_column` < `cutoff`, for these properties (or all rows)."""

    table: str
    time_column: str
    cutoff: int
    retention_days: int
    org_id: str | None = None
    plan: str | None = None
    property_ids: tuple[int, ...] | None = None


# table -> (time column, days), for tables kept by property, with the same window for all.
PROPERTY_TABLES: dict[str, tuple[str, int]] = {
    "sessions": ("last_seen_at", SESSION_DAYS),
    "ai_referrals": ("landed_at", AI_REFERRAL_DAYS),
    "content": ("last_seen_at", CONTENT_DAYS),
}
GLOBAL_TABLES: dict[str, tuple[str, int]] = {
    "request_rollups": ("minute", ROLLUP_DAYS),
    "purge_log": ("logged_at", PURGE_LOG_DAYS),
    "cron_runs": ("started_at", CRON_RUN_DAYS),
}


def cutoff(now_ms: int, days: int) -> int:
    return now_ms - days * DAY_MS


def event_days(plan: str) -> int:
    try:
        return EVENT_DAYS_BY_PLAN[plan]
    except KeyError:
        raise ValueError(f"unknown plan {plan!r}") from None


def targets(now_ms: int, orgs: Iterable[Org]) -> list[Target]:
    """Everything one purge run deletes, in order: per org, then our own tables."""
    planned: list[Target] = []
    for org in sorted(orgs, key=lambda o: o.id):
        days = event_days(org.plan)
        planned.append(
            Target("events", "received_at", cutoff(now_ms, days), days, org.id, org.plan,
                   org.property_ids)
        )  # fmt: skip
        for table, (column, table_days) in PROPERTY_TABLES.items():
            planned.append(
                Target(table, column, cutoff(now_ms, table_days), table_days, org.id, org.plan,
                       org.property_ids)
            )  # fmt: skip
    for table, (column, days) in GLOBAL_TABLES.items():
        planned.append(Target(table, column, cutoff(now_ms, days), days))
    return planned


def expired(row_time_ms: int, target: Target) -> bool:
    return row_time_ms < target.cutoff


def by_table(planned: Sequence[Target]) -> dict[str, list[Target]]:
    grouped: dict[str, list[Target]] = {}
    for target in planned:
        grouped.setdefault(target.table, []).append(target)
    return grouped
