"""`--now` ahead of the clock is refused in production unless it is a dry run (pure)."""

from __future__ import annotations

import pytest

from ingest.cron.command import FUTURE_TOLERANCE_MS, future_now_refusal

CLOCK = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MIN = 60_000
HARM = "delete rows that have not expired yet"


@pytest.mark.parametrize(
    ("env", "at", "dry_run", "refused"),
    [
        pytest.param("production", CLOCK + 365 * 24 * 60 * MIN, False, True, id="a-year-ahead"),
        pytest.param("production", CLOCK + MIN + 1, False, True, id="a-minute-and-1ms-ahead"),
        pytest.param("production", CLOCK + MIN, False, False, id="exactly-a-minute-ahead"),
        pytest.param("production", CLOCK + 30_000, False, False, id="30-s-ahead"),
        pytest.param("production", CLOCK - 10 * 24 * 60 * MIN, False, False, id="in-the-past"),
        pytest.param("production", None, False, False, id="no-now"),
        pytest.param("production", CLOCK + 24 * 60 * MIN, True, False, id="dry-run"),
        pytest.param("development", CLOCK + 365 * 24 * 60 * MIN, False, False, id="development"),
    ],
)
def test_future_now_refusal(env: str, at: int | None, dry_run: bool, refused: bool):
    reason = future_now_refusal(env, at, CLOCK, dry_run, HARM)
    assert (reason is not None) is refused


def test_the_refusal_says_how_far_ahead_what_it_would_do_and_the_way_out():
    reason = future_now_refusal("production", CLOCK + 2 * 60 * MIN, CLOCK, False, HARM)
    assert reason == (
        "--now 2027-01-15T10:00:00.000Z is 2 h 0 min ahead of the clock"
        " (2027-01-15T08:00:00.000Z); with OPTIVIEW_ENV=production that would delete rows"
        " that have not expired yet. Add --dry-run to see what it would do, or use it in"
        " development (OPTIVIEW_ENV=development)"
    )


def test_the_tolerance_is_a_minute():
    assert FUTURE_TOLERANCE_MS == MIN
