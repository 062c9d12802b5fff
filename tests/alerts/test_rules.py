"""The alert rules, pure: the 5-minute window, error rate, p95 from buckets, cron stalls."""

from __future__ import annotations

import pytest

from alerts.rules import (
    COLLECTOR,
    CRON_STALL,
    ERROR_RATE,
    P95_LATENCY,
    Evaluation,
    Thresholds,
    cron_stalls,
    error_rate,
    evaluate,
    latency,
    p95_ms,
    window,
)
from ingest.collect.rollups import BUCKET_BOUNDS_MS, BUCKET_COLUMNS, MINUTE_MS
from ingest.cron.jobs import JobState
from tests.alerts.conftest import rollup_row

# 2027-01-15T08:00:00Z, plus 37.5 s: "now" is inside a minute.
MINUTE = 1_800_000_000_000
NOW = MINUTE + 37_500
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def buckets(**counts: int) -> tuple[int, ...]:
    """Counts per bucket in BUCKET_COLUMNS order."""
    assert set(counts) <= set(BUCKET_COLUMNS), counts
    return tuple(counts.get(c, 0) for c in BUCKET_COLUMNS)


def rows_for(requests: int, errors: int = 0, **bucket_counts: int) -> list[tuple[float, ...]]:
    """One row a minute before NOW's minute (inside the window)."""
    return [rollup_row(MINUTE - MINUTE_MS, requests, errors, bucket_counts or None)]


def by_rule(
    rows: list[tuple[float, ...]], limits: Thresholds | None = None
) -> dict[str, Evaluation]:
    found = evaluate(rows, {}, NOW, limits or Thresholds())
    return {(e.rule if e.rule != CRON_STALL else f"{e.rule}:{e.subject}"): e for e in found}


# -- the window ------------------------------------------------------------------------------


def test_the_window_sums_exactly_the_five_whole_minutes_before_now():
    rows = [
        rollup_row(MINUTE + MINUTE_MS, 1_000_000, 1_000_000),  # the next minute
        rollup_row(MINUTE, 100_000, 100_000),  # the current minute: still being counted
        rollup_row(MINUTE - 1 * MINUTE_MS, 1, 0, {"le_1": 1}),
        rollup_row(MINUTE - 2 * MINUTE_MS, 10, 1, {"le_5": 10}),
        rollup_row(MINUTE - 3 * MINUTE_MS, 100, 2, {"le_100": 100}),
        rollup_row(MINUTE - 4 * MINUTE_MS, 1000, 3, {"le_inf": 1000}),
        rollup_row(MINUTE - 5 * MINUTE_MS, 10_000, 4, {"le_250": 10_000}),
        rollup_row(MINUTE - 6 * MINUTE_MS, 200_000, 200_000),  # 6 minutes back: too old
    ]

    w = window(rows, NOW, 5)

    assert (w.start, w.end) == (MINUTE - 5 * MINUTE_MS, MINUTE)
    assert w.requests == 11_111
    assert w.errors == 10
    assert w.buckets == buckets(le_1=1, le_5=10, le_100=100, le_inf=1000, le_250=10_000)
    assert len(w.buckets) == len(BUCKET_BOUNDS_MS) + 1


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (MINUTE, MINUTE - 5 * MINUTE_MS, MINUTE),  # exactly on a minute
        (MINUTE + 1, MINUTE - 5 * MINUTE_MS, MINUTE),
        (MINUTE + MINUTE_MS - 1, MINUTE - 5 * MINUTE_MS, MINUTE),
    ],
)
def test_the_window_ends_at_now_floored_to_the_minute(now: int, start: int, end: int):
    rows = [rollup_row(m, 1) for m in range(start - MINUTE_MS, end + MINUTE_MS, MINUTE_MS)]
    w = window(rows, now, 5)
    assert (w.start, w.end, w.requests) == (start, end, 5)


def test_the_window_length_is_configurable():
    rows = [rollup_row(MINUTE - k * MINUTE_MS, 1) for k in range(1, 20)]
    assert window(rows, NOW, 1).requests == 1
    assert window(rows, NOW, 15).requests == 15


def test_an_empty_window_fires_nothing():
    found = by_rule([])
    assert [e.firing for e in found.values()] == [False] * len(found)
    assert found[P95_LATENCY].value is None


# -- error rate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "errors", "firing"),
    [
        pytest.param(500, 5, False, id="1.0%-is-not-above-1%"),
        pytest.param(500, 6, True, id="1.2%"),
        pytest.param(100_000, 1000, False, id="exactly-1%-of-many"),
        pytest.param(100_000, 1001, True, id="1.001%"),
        pytest.param(100, 1, False, id="1%-of-100"),
        pytest.param(100, 50, False, id="50%-of-100-too-few"),
        pytest.param(499, 10, False, id="2%-of-499-too-few"),
        pytest.param(500, 10, True, id="2%-of-500"),
        pytest.param(500, 500, True, id="all-errors"),
        pytest.param(500, 0, False, id="no-errors"),
    ],
)
def test_error_rate_fires_above_1_percent_with_at_least_500_requests(
    requests: int, errors: int, firing: bool
):
    ev = by_rule(rows_for(requests, errors))[ERROR_RATE]
    assert ev.firing is firing
    assert ev.value == pytest.approx(errors / requests)
    assert ev.subject == COLLECTOR
    assert ev.threshold == 0.01


def test_error_rate_summed_over_minutes_can_fire_when_no_single_minute_has_500():
    rows = [rollup_row(MINUTE - k * MINUTE_MS, 100, 2) for k in range(1, 6)]
    ev = error_rate(window(rows, NOW, 5), Thresholds())
    assert ev.firing
    assert ev.value == pytest.approx(0.02)
    assert ev.summary == (
        "error rate 2.00% (10 of 500 requests) against > 1.00% with at least 500 requests"
    )


# -- p95 latency from the buckets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [
        pytest.param({"le_10": 1000}, 9.5, 10.0, id="all-le_10-about-10"),
        pytest.param({"le_1": 1000}, 0.9, 1.0, id="all-le_1"),
        pytest.param({"le_150": 950, "le_250": 50}, 100.0, 150.0, id="95%-le_150"),
        pytest.param({"le_200": 951, "le_250": 49}, 150.0, 200.0, id="p95-in-150-200"),
        pytest.param({"le_200": 949, "le_250": 51}, 200.0001, 250.0, id="p95-in-200-250"),
        pytest.param({"le_inf": 1000}, 10_000.0, 10_000.0, id="all-le_inf"),
        pytest.param({"le_10": 900, "le_inf": 100}, 10_000.0, 10_000.0, id="10%-le_inf"),
        pytest.param({"le_10000": 1000}, 5000.0, 10_000.0, id="all-le_10000"),
    ],
)
def test_p95_is_interpolated_inside_its_bucket(counts: dict[str, int], low: float, high: float):
    value = p95_ms(buckets(**counts))
    assert value is not None
    assert low <= value <= high


def test_p95_interpolation_is_linear():
    # 1000 requests, rank 950: 900 below 150 ms, 100 in (150, 200]: 50/100 of the way.
    assert p95_ms(buckets(le_150=900, le_200=100)) == pytest.approx(175.0)
    # all in (5, 10]: 95% of the way.
    assert p95_ms(buckets(le_10=1000)) == pytest.approx(9.75)
    assert p95_ms(buckets()) is None


@pytest.mark.parametrize(
    ("counts", "firing"),
    [
        pytest.param({"le_10": 1000}, False, id="fast"),
        pytest.param({"le_150": 950, "le_250": 50}, False, id="95%-le_150-5%-le_250"),
        pytest.param({"le_150": 940, "le_250": 60}, True, id="94%-le_150-6%-le_250"),
        pytest.param({"le_200": 950, "le_250": 50}, False, id="p95-exactly-at-200-bound"),
        pytest.param({"le_100": 900, "le_200": 80, "le_300": 20}, False, id="in-150-200"),
        pytest.param({"le_100": 900, "le_200": 49, "le_250": 51}, True, id="in-200-250"),
        pytest.param({"le_50": 500, "le_200": 451, "le_250": 49}, False, id="just-below"),
        pytest.param({"le_50": 500, "le_200": 449, "le_250": 51}, True, id="just-above"),
        pytest.param({"le_inf": 1000}, True, id="all-le_inf"),
    ],
)
def test_p95_fires_above_200_ms(counts: dict[str, int], firing: bool):
    total = sum(counts.values())
    ev = by_rule(rows_for(total, 0, **counts))[P95_LATENCY]
    assert ev.firing is firing
    assert ev.value is not None
    assert (ev.value > 200) is firing
    assert ev.threshold == 200.0


@pytest.mark.parametrize(("requests", "firing"), [(499, False), (500, True), (100, False)])
def test_p95_needs_at_least_500_requests(requests: int, firing: bool):
    ev = by_rule(rows_for(requests, 0, le_inf=requests))[P95_LATENCY]
    assert ev.value == 10_000.0
    assert ev.firing is firing


def test_p95_summary_names_value_and_threshold():
    ev = latency(window(rows_for(1000, 0, le_inf=1000), NOW, 5), Thresholds())
    assert ev.summary == (
        "p95 latency 10000 ms over 1000 requests against > 200 ms with at least 500 requests"
    )


# -- configurable thresholds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "rows", "rule", "firing"),
    [
        pytest.param(
            Thresholds(p95_ms=100), rows_for(1000, 0, le_150=1000), P95_LATENCY, True, id="p95-100"
        ),
        pytest.param(Thresholds(), rows_for(1000, 0, le_150=1000), P95_LATENCY, False, id="p95"),
        pytest.param(
            Thresholds(error_rate=0.05), rows_for(1000, 50), ERROR_RATE, False, id="rate-5%"
        ),
        pytest.param(
            Thresholds(error_rate=0.05), rows_for(1000, 51), ERROR_RATE, True, id="rate-5.1%"
        ),
        pytest.param(
            Thresholds(min_requests=100), rows_for(100, 2), ERROR_RATE, True, id="min-100"
        ),
        pytest.param(
            Thresholds(min_requests=1000), rows_for(999, 500), ERROR_RATE, False, id="min-1000"
        ),
        pytest.param(
            Thresholds(min_requests=10),
            rows_for(10, 0, le_inf=10),
            P95_LATENCY,
            True,
            id="p95-min-10",
        ),
    ],
)
def test_thresholds_are_configurable(
    limits: Thresholds, rows: list[tuple[float, ...]], rule: str, firing: bool
):
    ev = by_rule(rows, limits)[rule]
    assert ev.firing is firing


def test_a_window_of_one_minute_ignores_older_minutes():
    rows = [rollup_row(MINUTE - 2 * MINUTE_MS, 1000, 1000)]
    assert by_rule(rows)[ERROR_RATE].firing
    assert not by_rule(rows, Thresholds(window_minutes=1))[ERROR_RATE].firing


# -- cron stalls -----------------------------------------------------------------------------


def _stall(states: dict[str, JobState], limits: Thresholds | None = None) -> dict[str, Evaluation]:
    return {e.subject: e for e in cron_stalls(states, NOW, limits or Thresholds())}


def success(job: str, minutes_ago: float) -> JobState:
    at = int(NOW - minutes_ago * MINUTE_MS)
    return JobState(
        job, first_started_at=at - DAY_MS, last_started_at=at, last_status="ok", last_success_at=at
    )


@pytest.mark.parametrize(
    ("state", "stalled", "reason"),
    [
        pytest.param(success("purge", 24 * 60 + 89), False, None, id="purge-period+89"),
        pytest.param(
            success("purge", 24 * 60 + 91), True, "no success for 25 h 31 min", id="purge-period+91"
        ),
        pytest.param(success("purge", 30), False, None, id="purge-recent"),
        pytest.param(success("alerts", 89), False, None, id="alerts-89min"),
        # the every-minute job: stalled once it has not succeeded for more than 90 minutes
        pytest.param(success("alerts", 90), False, None, id="alerts-90min"),
        pytest.param(success("alerts", 91), True, "no success for 91 minutes", id="alerts-91min"),
        pytest.param(
            JobState(
                "purge",
                first_started_at=NOW - 91 * MINUTE_MS,
                last_started_at=NOW - 91 * MINUTE_MS,
                last_status="running",
                running_since=NOW - 91 * MINUTE_MS,
            ),
            True,
            "a run has been going for 91 minutes",
            id="purge-running-91min",
        ),
        pytest.param(
            JobState(
                "purge",
                first_started_at=NOW - 89 * MINUTE_MS,
                last_started_at=NOW - 89 * MINUTE_MS,
                last_status="running",
                running_since=NOW - 89 * MINUTE_MS,
            ),
            False,
            None,
            id="purge-running-89min",
        ),
        pytest.param(
            JobState(
                "alerts",
                first_started_at=NOW - 91 * MINUTE_MS,
                last_status="running",
                running_since=NOW - 91 * MINUTE_MS,
            ),
            True,
            "a run has been going for 91 minutes",
            id="alerts-running-91min",
        ),
        pytest.param(
            JobState("purge", first_started_at=NOW - DAY_MS - 91 * MINUTE_MS, last_status="failed"),
            True,
            "never succeeded; first run 25 h 31 min ago",
            id="purge-never-succeeded",
        ),
        pytest.param(JobState("purge"), False, None, id="purge-never-run"),
    ],
)
def test_cron_stall(state: JobState, stalled: bool, reason: str | None):
    found = _stall({state.job: state})
    ev = found[state.job]
    assert ev.rule == CRON_STALL
    assert ev.firing is stalled
    assert ev.threshold == 90
    if reason:
        assert reason in ev.summary
        assert ev.summary.startswith(f"cron job {state.job}: ")
    else:
        assert ev.summary == f"cron job {state.job} on time"
    # a job without heartbeats is never stalled
    other = next(name for name in ("purge", "alerts") if name != state.job)
    assert not found[other].firing


def test_cron_stall_grace_is_configurable():
    state = success("purge", 24 * 60 + 31)
    assert not _stall({"purge": state})["purge"].firing
    assert _stall({"purge": state}, Thresholds(cron_stall_minutes=30))["purge"].firing


def test_evaluate_gives_every_rule_and_every_job():
    found = evaluate(rows_for(1000, 20, le_inf=1000), {}, NOW, Thresholds())
    assert [(e.rule, e.subject, e.firing) for e in found] == [
        (ERROR_RATE, COLLECTOR, True),
        (P95_LATENCY, COLLECTOR, True),
        (CRON_STALL, "purge", False),
        (CRON_STALL, "alerts", False),
    ]
    assert all(e.window is not None for e in found[:2])
    assert all(e.window is None for e in found[2:])
