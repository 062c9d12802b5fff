"""Deduplication (pure): the same alert (rule and subject) goes out at most once per 15 minutes,
and only a delivered message counts.

Per rule and subject a small state is kept in the database, so restarts and several nodes
agree. A FIRING is recorded when the alert starts firing, and again while it keeps firing, at
most once per `dedup_ms` counted from the last FIRING Slack actually took. A FIRING recorded
but not yet delivered (no SLACK_WEBHOOK_URL in that run, or Slack failing) is waiting: the next
run with a webhook sends it, and no other FIRING is recorded for that alert meanwhile (a day
without a webhook does not pile up a message every 15 minutes). When the alert clears, one
RESOLVED is recorded if this episode recorded a FIRING; it is sent only after that FIRING was
delivered, and dropped if that FIRING never can be (`delivery_action`). A flapping alert does
not spam in either direction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from alerts.rules import Evaluation

DEDUP_MS = 15 * 60_000
MAX_DELIVERY_AGE_MS = 24 * 3600 * 1000

# alerts.delivery values of a message still to be sent (migrations/0004_alerts.sql).
WAITING = frozenset({"pending", "sending", "failed", "no_webhook"})
SEND, HOLD, ABANDON = "send", "hold", "abandon"


@dataclass(frozen=True)
class AlertState:
    rule: str
    subject: str
    firing: bool = False
    since: int | None = None
    # When Slack last took a FIRING of this alert: the dedup interval counts from there.
    last_fired_at: int | None = None
    # A FIRING of this episode is recorded, so its clearing records a RESOLVED.
    episode_notified: bool = False
    # A recorded FIRING not delivered yet (read from the alerts table, not stored here).
    waiting: bool = False


@dataclass(frozen=True)
class Notification:
    kind: str  # firing | resolved
    evaluation: Evaluation
    since: int | None  # when the episode began


def decide(
    evaluation: Evaluation, state: AlertState, now_ms: int, dedup_ms: int = DEDUP_MS
) -> tuple[AlertState, Notification | None]:
    if evaluation.firing:
        new_episode = not state.firing or state.since is None
        since = now_ms if new_episode else state.since
        current = replace(
            state,
            firing=True,
            since=since,
            episode_notified=False if new_episode else state.episode_notified,
        )
        quiet = state.last_fired_at is not None and now_ms - state.last_fired_at < dedup_ms
        if state.waiting or quiet:
            return current, None
        recorded = replace(current, episode_notified=True, waiting=True)
        return recorded, Notification("firing", evaluation, since)
    if not state.firing:
        return state, None
    cleared = replace(state, firing=False, since=None, episode_notified=False)
    if state.episode_notified:
        return cleared, Notification("resolved", evaluation, state.since)
    return cleared, None


def delivered(state: AlertState, kind: str, at_ms: int) -> AlertState:
    """The state once Slack took a message: a FIRING starts the dedup interval."""
    if kind != "firing":
        return state
    return replace(state, last_fired_at=at_ms, waiting=False)


def delivery_action(
    kind: str,
    age_ms: int,
    episode_firings: Collection[str],
    max_age_ms: int = MAX_DELIVERY_AGE_MS,
) -> tuple[str, str | None]:
    """Whether a waiting message is sent now, held for a later run, or abandoned (and why).

    `episode_firings` are the deliveries of the FIRINGs recorded in a RESOLVED's episode: a
    RESOLVED goes out only after one of them was delivered, so Slack never hears of the end
    of an alert it never saw.
    """
    if age_ms > max_age_ms:
        return ABANDON, "older than a day: no longer sent"
    if kind != "resolved" or "sent" in episode_firings:
        return SEND, None
    if any(d in WAITING for d in episode_firings):
        return HOLD, None
    return ABANDON, "its FIRING was never delivered"
