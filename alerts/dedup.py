"""Deduplication (pure): the same alert (rule and subject) fires at most once per 15 minutes.

Per rule and subject a small state is kept in the database, so restarts and several nodes
agree. A firing notification goes out when the alert starts firing, and again while it keeps
firing, at most once per `dedup_ms`. When it clears, one recovery notification goes out, but
only if this episode's firing was announced: a flapping alert does not spam in either
direction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alerts.rules import Evaluation

DEDUP_MS = 15 * 60_000


@dataclass(frozen=True)
class AlertState:
    rule: str
    subject: str
    firing: bool = False
    since: int | None = None
    last_fired_at: int | None = None
    episode_notified: bool = False


@dataclass(frozen=True)
class Notification:
    kind: str  # firing | resolved
    evaluation: Evaluation
    since: int | None  # when the episode began


def decide(
    evaluation: Evaluation, state: AlertState, now_ms: int, dedup_ms: int = DEDUP_MS
) -> tuple[AlertState, Notification | None]:
    quiet = state.last_fired_at is not None and now_ms - state.last_fired_at < dedup_ms
    if evaluation.firing:
        since = state.since if state.firing and state.since is not None else now_ms
        episode_notified = state.episode_notified if state.firing else False
        if quiet:
            return replace(state, firing=True, since=since, episode_notified=episode_notified), None
        fired = AlertState(state.rule, state.subject, True, since, now_ms, True)
        return fired, Notification("firing", evaluation, since)
    if not state.firing:
        return state, None
    cleared = replace(state, firing=False, since=None, episode_notified=False)
    if state.episode_notified:
        return cleared, Notification("resolved", evaluation, state.since)
    return cleared, None
