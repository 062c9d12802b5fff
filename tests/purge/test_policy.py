"""The retention policy as pure functions: cutoffs per plan and table, targets, expiry."""

from __future__ import annotations

import pytest

from purge.policy import Org, Target, by_table, cutoff, event_days, expired, targets

DAY_MS = 86_400_000
NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z

# The runbook's windows, written out here rather than read from the module under test.
EVENT_DAYS = {"starter": 90, "growth": 180, "pro": 365}
PROPERTY_TABLES = [
    ("sessions", "last_seen_at", 90),
    ("ai_referrals", "landed_at", 365),
    ("content", "last_seen_at", 365),
]
GLOBAL_TABLES = [
    ("request_rollups", "minute", 35),
    ("purge_log", "logged_at", 365),
    ("cron_runs", "started_at", 90),
]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (35, NOW - 3_024_000_000),
        (90, NOW - 7_776_000_000),
        (180, NOW - 15_552_000_000),
        (365, NOW - 31_536_000_000),
        (0, NOW),
    ],
)
def test_cutoff_is_now_minus_whole_days(days: int, expected: int):
    assert cutoff(NOW, days) == expected


@pytest.mark.parametrize(("plan", "days"), sorted(EVENT_DAYS.items()))
def test_event_days_follow_the_plan(plan: str, days: int):
    assert event_days(plan) == days


@pytest.mark.parametrize("plan", ["enterprise", "", "Starter", "free"])
def test_unknown_plan_raises(plan: str):
    with pytest.raises(ValueError, match="unknown plan"):
        event_days(plan)
    with pytest.raises(ValueError, match="unknown plan"):
        targets(NOW, [Org("org_x", plan, (1,))])


def test_targets_per_org_then_the_global_tables_once():
    orgs = [
        Org("org_c", "pro", (5,)),
        Org("org_a", "starter", (1, 2)),
        Org("org_b", "growth", (3, 4)),
    ]
    planned = targets(NOW, orgs)

    expected: list[Target] = []
    for org in sorted(orgs, key=lambda o: o.id):
        days = EVENT_DAYS[org.plan]
        expected.append(
            Target(
                "events",
                "received_at",
                NOW - days * DAY_MS,
                days,
                org.id,
                org.plan,
                org.property_ids,
            )
        )
        for table, column, table_days in PROPERTY_TABLES:
            expected.append(
                Target(
                    table,
                    column,
                    NOW - table_days * DAY_MS,
                    table_days,
                    org.id,
                    org.plan,
                    org.property_ids,
                )
            )
    for table, column, days in GLOBAL_TABLES:
        expected.append(Target(table, column, NOW - days * DAY_MS, days))
    assert planned == expected
    assert len(planned) == 3 * 4 + 3

    grouped = by_table(planned)
    assert list(grouped) == [
        "events",
        "sessions",
        "ai_referrals",
        "content",
        "request_rollups",
        "purge_log",
        "cron_runs",
    ]
    assert [(t.org_id, t.retention_days) for t in grouped["events"]] == [
        ("org_a", 90),
        ("org_b", 180),
        ("org_c", 365),
    ]
    for table in ("request_rollups", "purge_log", "cron_runs"):
        (only,) = grouped[table]
        assert only.org_id is None and only.plan is None and only.property_ids is None


def test_no_orgs_still_purges_the_global_tables():
    planned = targets(NOW, [])
    assert [(t.table, t.retention_days, t.cutoff) for t in planned] == [
        ("request_rollups", 35, NOW - 35 * DAY_MS),
        ("purge_log", 365, NOW - 365 * DAY_MS),
        ("cron_runs", 90, NOW - 90 * DAY_MS),
    ]


def test_org_without_properties_has_empty_scopes():
    planned = targets(NOW, [Org("org_empty", "growth", ())])
    assert [t.property_ids for t in planned if t.org_id] == [(), (), (), ()]


def _all_targets() -> list[Target]:
    return targets(NOW, [Org(f"org_{plan}", plan, (1,)) for plan in EVENT_DAYS])


@pytest.mark.parametrize(
    "target",
    _all_targets(),
    ids=lambda t: f"{t.table}-{t.plan or 'global'}",
)
@pytest.mark.parametrize(
    ("offset_ms", "is_expired"),
    [
        (-86_400_000, True),  # a day older than the cutoff
        (-1000, True),  # one second older than the cutoff
        (-1, True),
        (0, False),  # exactly at the cutoff: kept
        (1, False),
        (1000, False),  # one second newer than the cutoff
    ],
)
def test_expired_strictly_older_than_the_cutoff(target: Target, offset_ms: int, is_expired: bool):
    days = target.retention_days
    assert target.cutoff == NOW - days * DAY_MS
    assert expired(NOW - days * DAY_MS + offset_ms, target) is is_expired


@pytest.mark.parametrize(
    ("plan", "age_days", "is_expired"),
    [
        ("starter", 100, True),
        ("growth", 100, False),
        ("pro", 100, False),
        ("growth", 181, True),
        ("pro", 181, False),
        ("pro", 366, True),
        ("starter", 89, False),
    ],
)
def test_an_event_of_a_given_age_per_plan(plan: str, age_days: int, is_expired: bool):
    (events,) = [t for t in targets(NOW, [Org("o", plan, (1,))]) if t.table == "events"]
    assert expired(NOW - age_days * DAY_MS, events) is is_expired
