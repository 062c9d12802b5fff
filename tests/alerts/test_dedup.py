"""Deduplication, pure: at most one firing notification per 15 minutes per rule and subject,
counted from the last one delivered; one recovery per announced episode, sent only after its
firing was."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.dedup import (
    ABANDON,
    DEDUP_MS,
    HOLD,
    MAX_DELIVERY_AGE_MS,
    SEND,
    AlertState,
    Notification,
    decide,
    delivery_action,
)
from alerts.rules import COLLECTOR, CRON_STALL, ERROR_RATE, Evaluation

T0 = 1_800_000_000_000
MIN = 60_000


def ev(firing: bool, rule: str = ERROR_RATE, subject: str = COLLECTOR) -> Evaluation:
    return Evaluation(rule, subject, firing, 0.05 if firing else 0.0, 0.01, "summary")


def delivered(state: AlertState, at: int) -> AlertState:
    """What the runner records once Slack took a FIRING (alerts.runner.deliver)."""
    return replace(state, last_fired_at=at, waiting=False)


def play(
    steps: list[tuple[int, bool]],
    rule: str = ERROR_RATE,
    subject: str = COLLECTOR,
    webhook_from: int | None = 0,
) -> tuple[list[tuple[int, str | None, int | None]], AlertState]:
    """Feed (minute offset, firing) evaluations through decide; return (offset, kind, since)
    for every step and the last state. A FIRING is delivered at once from minute
    `webhook_from` on (None: never), and a waiting one at the first step from then."""
    state = AlertState(rule, subject)
    out: list[tuple[int, str | None, int | None]] = []
    for offset, firing in steps:
        now = T0 + offset * MIN
        state, note = decide(ev(firing, rule, subject), state, now)
        out.append((offset, note.kind if note else None, note.since if note else None))
        if state.waiting and webhook_from is not None and offset >= webhook_from:
            state = delivered(state, now)
    return out, state


def test_dedup_window_is_15_minutes():
    assert DEDUP_MS == 15 * MIN


def test_the_first_firing_notifies_and_records_the_episode():
    evaluation = ev(True)
    state, note = decide(evaluation, AlertState(ERROR_RATE, COLLECTOR), T0)
    assert note == Notification("firing", evaluation, T0)
    # recorded, not delivered yet: the dedup interval starts only once Slack takes it
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0, None, True, waiting=True)


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


@pytest.mark.parametrize(
    ("steps", "webhook_from", "expected"),
    [
        pytest.param(
            # the lost alert: recorded without a webhook, then a run with one sends it (and no
            # second FIRING is recorded); the RESOLVED follows
            [(0, True), (1, True), (5, False)],
            1,
            [(0, "firing", T0), (1, None, None), (5, "resolved", T0)],
            id="no-webhook-then-webhook",
        ),
        pytest.param(
            # firing for long without a webhook records one FIRING, not one per 15 minutes
            [(0, True), (16, True), (31, True), (46, True)],
            None,
            [(0, "firing", T0), (16, None, None), (31, None, None), (46, None, None)],
            id="waiting-holds-back-repeats",
        ),
        pytest.param(
            # delivered at minute 20: the next repeat is 15 minutes after the delivery
            [(0, True), (20, True), (34, True), (35, True)],
            20,
            [(0, "firing", T0), (20, None, None), (34, None, None), (35, "firing", T0)],
            id="interval-counts-from-the-delivery",
        ),
        pytest.param(
            # cleared while undelivered: a RESOLVED is recorded (sent only after its FIRING)
            [(0, True), (3, False)],
            None,
            [(0, "firing", T0), (3, "resolved", T0)],
            id="cleared-while-waiting",
        ),
        pytest.param(
            # flapping without a webhook: the first episode's FIRING still waits, so the next
            # episodes record nothing, neither FIRING nor RESOLVED
            [(0, True), (1, False), (2, True), (3, False), (4, True), (5, False)],
            None,
            [(0, "firing", T0), (1, "resolved", T0)] + [(m, None, None) for m in range(2, 6)],
            id="flapping-without-webhook",
        ),
    ],
)
def test_decide_with_late_delivery(
    steps: list[tuple[int, bool]],
    webhook_from: int | None,
    expected: list[tuple[int, str | None, int | None]],
):
    out, _ = play(steps, webhook_from=webhook_from)
    assert out == expected


def test_an_undelivered_firing_does_not_start_the_dedup_interval():
    _, state = play([(0, True)], webhook_from=None)
    assert state.last_fired_at is None and state.waiting
    # the waiting FIRING was abandoned (a day old): the next run records a fresh one
    state, note = decide(ev(True), replace(state, waiting=False), T0 + 25 * 60 * MIN)
    assert note is not None and note.kind == "firing" and note.since == T0


@pytest.mark.parametrize(
    ("kind", "age", "firings", "expected"),
    [
        pytest.param("firing", 0, [], (SEND, None), id="firing"),
        pytest.param("test", 0, [], (SEND, None), id="test"),
        pytest.param("resolved", 0, ["sent"], (SEND, None), id="resolved-after-sent-firing"),
        pytest.param(
            "resolved", 0, ["abandoned", "sent"], (SEND, None), id="one-of-its-firings-sent"
        ),
        pytest.param("resolved", 0, ["no_webhook"], (HOLD, None), id="firing-without-webhook"),
        pytest.param("resolved", 0, ["failed"], (HOLD, None), id="firing-failed"),
        pytest.param("resolved", 0, ["pending"], (HOLD, None), id="firing-pending"),
        pytest.param(
            "resolved",
            0,
            ["abandoned"],
            (ABANDON, "its FIRING was never delivered"),
            id="firing-abandoned",
        ),
        pytest.param(
            "resolved", 0, [], (ABANDON, "its FIRING was never delivered"), id="no-firing"
        ),
        pytest.param(
            "firing",
            MAX_DELIVERY_AGE_MS + 1,
            [],
            (ABANDON, "older than a day: no longer sent"),
            id="firing-a-day-old",
        ),
        pytest.param(
            "resolved",
            MAX_DELIVERY_AGE_MS + 1,
            ["sent"],
            (ABANDON, "older than a day: no longer sent"),
            id="resolved-a-day-old",
        ),
        pytest.param("firing", MAX_DELIVERY_AGE_MS, [], (SEND, None), id="exactly-a-day"),
    ],
)
def test_delivery_action(kind: str, age: int, firings: list[str], expected: tuple[str, str | None]):
    assert delivery_action(kind, age, firings) == expected


def test_state_while_suppressed_keeps_the_last_notification_time():
    _, state = play([(0, True), (1, False), (2, True)])
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0 + 2 * MIN, T0, False)
    _, state = play([(0, True), (10, True)])
    assert state == AlertState(ERROR_RATE, COLLECTOR, True, T0, T0, True)


def test_a_resolved_notification_carries_the_current_evaluation():
    state, _ = decide(ev(True), AlertState(ERROR_RATE, COLLECTOR), T0)
    cleared = ev(False)
    state, note = decide(cleared, delivered(state, T0), T0 + MIN)
    assert note == Notification("resolved", cleared, T0)
    assert state == AlertState(ERROR_RATE, COLLECTOR, False, None, T0, False)


def test_the_dedup_interval_is_a_parameter():
    state = AlertState(CRON_STALL, "purge")
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0, dedup_ms=60 * MIN)
    assert note is not None
    state = delivered(state, T0)
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0 + 30 * MIN, dedup_ms=60 * MIN)
    assert note is None
    state, note = decide(ev(True, CRON_STALL, "purge"), state, T0 + 60 * MIN, dedup_ms=60 * MIN)
    assert note is not None and note.kind == "firing"


def test_states_are_per_rule_and_subject():
    _, a = play([(0, True)], CRON_STALL, "purge")
    b_state = AlertState(CRON_STALL, "alerts")
    _, note = decide(ev(True, CRON_STALL, "alerts"), b_state, T0 + MIN)
    assert a.firing and note is not None and note.kind == "firing"
