"""Deduplication, pure: at most one firing notification per 15 minutes per rule and subject, and
one recovery per announced episode."""

from __future__ import annotations

import pytest

from alerts.dedup import DEDUP_MS, AlertState, Notification, decide
from alerts.rules import COLLECTOR, CRON_STALL, ERROR_RATE, Evaluation

T0 = 1_800_000_000_000
MIN = 60_000


def ev(firing: bool, rule: str = ERROR_RATE, subject: str = COLLECTOR) -> Evaluation:
    return Evaluation(rule, subject, firing, 0.05 if firing else 0.0, 0.01, "summary")


def play(
    steps: list[tuple[int, bool]], rule: str = ERROR_RATE, subject: str = COLLECTOR
) -> tuple[list[tuple[int, str | None, int | None]], AlertState]:
    """Feed (minute offset, firing) evaluations through decide; return (offset, kind, since)
    for every step and the last state."""
    state = AlertState(rule, subject)
    out: list[tuple[int, str | None, int | None]] = []
    for offset, firing in steps:
        state, note = decide(ev(firing, rule, subject), state, T0 + offset * MIN)
        out.append((offset, note.kind if note else None, note.since if note else None))
    return out, state


def test_dedup_window_is_15_minutes():
    assert DEDUP_MS == 15 * MIN


def test_the_first_firing_notifies_and_records_the_episode():
    evaluation = ev(True)
    state, note = decide(evaluation, AlertState(ERROR_RATE, COLLECTOR), T0)
    assert note == Notification("firing", evaluation, T0)
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0, T0, True)


def test_nothing_happens_while_quiet():
    state = AlertState(ERROR_RATE, COLLECTOR)
    assert decide(ev(False), state, T0) == (state, None)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [(0, True), (10, True)],
            [(0, "firing", T0), (10, None, None)],
            id="still-firing-10min-later-nothing",
        ),
        pytest.param(
            [(0, True), (10, True), (16, True)],
            [(0, "firing", T0), (10, None, None), (16, "firing", T0)],
            id="16min-later-notifies-again-same-since",
        ),
        pytest.param(
            [(0, True), (14, True), (15, True)],
            [(0, "firing", T0), (14, None, None), (15, "firing", T0)],
            id="exactly-15min-notifies",
        ),
        pytest.param(
            [(0, True), (16, True), (30, True), (31, True)],
            [(0, "firing", T0), (16, "firing", T0), (30, None, None), (31, "firing", T0)],
            id="every-15min-counted-from-the-last-notification",
        ),
        pytest.param(
            [(0, True), (5, False)],
            [(0, "firing", T0), (5, "resolved", T0)],
            id="clears-one-resolved-with-since",
        ),
        pytest.param(
            [(0, True), (5, False), (6, False), (30, False)],
            [(0, "firing", T0), (5, "resolved", T0), (6, None, None), (30, None, None)],
            id="one-resolved-only",
        ),
        pytest.param(
            # fire (notify), clear (resolved), fire 2 min after the first (suppressed), clear
            # (no resolved: that episode was not announced), fire 16 min after the first.
            [(0, True), (1, False), (2, True), (3, False), (16, True)],
            [
                (0, "firing", T0),
                (1, "resolved", T0),
                (2, None, None),
                (3, None, None),
                (16, "firing", T0 + 16 * MIN),
            ],
            id="flapping",
        ),
        pytest.param(
            # a firing that starts while quiet and goes on past 15 min notifies then, with the
            # start of its own episode, and its recovery is announced
            [(0, True), (1, False), (2, True), (10, True), (16, True), (20, False)],
            [
                (0, "firing", T0),
                (1, "resolved", T0),
                (2, None, None),
                (10, None, None),
                (16, "firing", T0 + 2 * MIN),
                (20, "resolved", T0 + 2 * MIN),
            ],
            id="episode-started-while-quiet",
        ),
        pytest.param(
            [(0, True), (1, False), (2, True), (3, False), (4, True), (5, False), (6, True)],
            [(0, "firing", T0), (1, "resolved", T0)] + [(m, None, None) for m in range(2, 7)],
            id="fast-flapping-two-messages",
        ),
    ],
)
def test_decide(steps: list[tuple[int, bool]], expected: list[tuple[int, str | None, int | None]]):
    out, _ = play(steps)
    assert out == expected


def test_state_while_suppressed_keeps_the_last_notification_time():
    _, state = play([(0, True), (1, False), (2, True)])
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0 + 2 * MIN, T0, False)
    _, state = play([(0, True), (10, True)])
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0, T0, True)


def test_a_resolved_notification_carries_the_current_evaluation():
    state, _ = decide(ev(True), AlertState(ERROR_RATE, COLLECTOR), T0)
    cleared = ev(False)
    state, note = decide(cleared, state, T0 + MIN)
    assert note == Notification("resolved", cleared, T0)
    assert state == AlertState(ERROR_RATE, COLLECTOR, False, None, T0, False)


def test_the_dedup_interval_is_a_parameter():
    state = AlertState(CRON_STALL, "purge")
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0, dedup_ms=60 * MIN)
    assert note is not None
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0 + 30 * MIN, dedup_ms=60 * MIN)
    assert note is None
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0 + 60 * MIN, dedup_ms=60 * MIN)
    assert note is not None and note.kind == "firing"


def test_states_are_per_rule_and_subject():
    _, a = play([(0, True)], CRON_STALL, "purge")
    b_state = AlertState(CRON_STALL, "alerts")
    _, note = decide(ev(True, CRON_STALL, "alerts"), b_state, T0 + MIN)
    assert a.firing and note is not None and note.kind == "firing"
