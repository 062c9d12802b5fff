"""One alerts run: evaluate the rules, deduplicate, record, deliver to Slack.

Decisions and their records are written in one transaction under the write lock, so two
nodes running at once cannot both notify. Delivery comes after, oldest first: a failed send
stays `failed`, and an alert recorded by a run without SLACK_WEBHOOK_URL stays `no_webhook`;
the next run with a webhook sends either (for up to a day), a RESOLVED only once its FIRING
went out (alerts.dedup.delivery_action). Delivery never fails the run itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from alerts.dedup import (
    ABANDON,
    HOLD,
    MAX_DELIVERY_AGE_MS,
    WAITING,
    AlertState,
    Notification,
    decide,
    delivery_action,
)
from alerts.message import build
from alerts.rules import Evaluation, Thresholds, evaluate
from alerts.slack import Delivery, SlackSender
from ingest.clock import now_ms as wall_clock_ms
from ingest.collect.rollups import MINUTE_MS, SUM_COLUMNS
from ingest.config import AlertSettings
from ingest.cron import bookkeeping
from ingest.cron.jobs import JOBS
from ingest.storage.sql import Conn, dialect_of

__all__ = ["MAX_DELIVERY_AGE_MS", "AlreadyRunning", "Report", "deliver", "run_alerts"]

JOB = "alerts"
# The transaction lock under which a run decides and records its alerts (PostgreSQL).
RECORD_LOCK = "alerts.record"
# An alert being sent right now (the admin test alert) is left alone unless its sender has
# been at it for longer than any send can take (retries and timeouts included).
STALE_SENDING_MS = 2 * 60_000

Progress = Callable[[str], None]


class AlreadyRunning(Exception):
    pass


@dataclass
class Report:
    now_ms: int
    dry_run: bool
    evaluations: list[Evaluation] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    run_id: int | None = None

    def summary(self) -> str:
        firing = [e for e in self.evaluations if e.firing]
        failed = sum(1 for d in self.deliveries if not d.ok)
        text = (
            f"{len(firing)} firing, {len(self.notifications)} notified,"
            f" {len(self.deliveries) - failed} delivered"
        )
        return text + (f", {failed} delivery failed (retried next run)" if failed else "")


_WAITING_SQL = ", ".join(f"'{d}'" for d in sorted(WAITING))


def load_states(conn: Conn, now_ms: int) -> dict[tuple[str, str], AlertState]:
    """The stored states, each with whether a FIRING of it still waits to be delivered (one
    older than a day will not be, so it no longer holds a new one back)."""
    rows = conn.execute(
        "SELECT s.rule, s.subject, s.firing, s.since, s.last_fired_at, s.episode_notified,"
        " EXISTS (SELECT 1 FROM alerts a WHERE a.rule = s.rule AND a.subject = s.subject"
        f" AND a.kind = 'firing' AND a.delivery IN ({_WAITING_SQL}) AND a.created_at >= ?)"
        " FROM alert_states s",
        (now_ms - MAX_DELIVERY_AGE_MS,),
    ).fetchall()
    return {
        (rule, subject): AlertState(
            rule, subject, bool(firing), since, last, bool(notified), bool(waiting)
        )
        for rule, subject, firing, since, last, notified, waiting in rows
    }


def rollups(conn: Conn, now_ms: int, minutes: int) -> list[tuple[float, ...]]:
    """(minute, *COLUMNS) per minute of the window, summed over the nodes that wrote it."""
    end = now_ms - now_ms % MINUTE_MS
    return conn.execute(
        f"SELECT minute, {SUM_COLUMNS} FROM request_rollups"
        " WHERE minute >= ? AND minute < ? GROUP BY minute ORDER BY minute",
        (end - minutes * MINUTE_MS, end),
    ).fetchall()


def run_alerts(
    conn: Conn,
    now_ms: int,
    settings: AlertSettings,
    webhook_url: str | None,
    *,
    dry_run: bool = False,
    base_url: str | None = None,
    sender: SlackSender | None = None,
    progress: Progress = lambda line: None,
    clock: Callable[[], int] = wall_clock_ms,
) -> Report:
    """Raises AlreadyRunning when another run holds the lease. A dry run evaluates and says
    what would be sent; it writes and sends nothing."""
    limits = settings
    dedup_ms = settings.dedup_minutes * 60_000
    report = Report(now_ms, dry_run)
    states = {job: bookkeeping.job_state(conn, job) for job in JOBS}
    report.evaluations = evaluate(
        rollups(conn, now_ms, limits.window_minutes), states, now_ms, limits
    )
    for evaluation in report.evaluations:
        progress(f"{'FIRING' if evaluation.firing else 'ok'}: {evaluation.summary}")
    if dry_run:
        known = load_states(conn, now_ms)
        for ev in report.evaluations:
            _, note = decide(
                ev,
                known.get((ev.rule, ev.subject), AlertState(ev.rule, ev.subject)),
                now_ms,
                dedup_ms,
            )
            if note:
                report.notifications.append(note)
                progress(f"would notify {note.kind}: {ev.rule} {ev.subject}")
        return report

    holder = bookkeeping.holder_id()
    busy = bookkeeping.acquire(conn, JOB, holder, clock())
    if busy is not None:
        raise AlreadyRunning(busy.describe(JOB))
    run_id = report.run_id = bookkeeping.start_run(conn, JOB, holder, clock())
    try:
        report.notifications = _record(
            conn, report.evaluations, now_ms, dedup_ms, limits, webhook_url, base_url
        )
        for note in report.notifications:
            progress(f"notify {note.kind}: {note.evaluation.rule} {note.evaluation.subject}")
        if webhook_url:
            slack = sender or SlackSender(webhook_url)
            try:
                report.deliveries = deliver(conn, slack, now_ms, clock, progress)
            finally:
                if sender is None:  # the run made it, the run closes it
                    slack.close()
        else:
            progress(
                "warning: SLACK_WEBHOOK_URL is not set: alerts are recorded, not sent;"
                " the next run with it sends them"
            )
    except BaseException as exc:
        bookkeeping.finish_run(conn, run_id, clock(), error=f"{type(exc).__name__}: {exc}")
        bookkeeping.release(conn, JOB, holder)
        raise
    bookkeeping.finish_run(conn, run_id, clock(), summary=report.summary())
    bookkeeping.release(conn, JOB, holder)
    return report


def _record(
    conn: Conn,
    evaluations: list[Evaluation],
    now_ms: int,
    dedup_ms: int,
    limits: Thresholds,
    webhook_url: str | None,
    base_url: str | None,
) -> list[Notification]:
    notes = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        if dialect_of(conn) == "postgres":
            # BEGIN IMMEDIATE's write lock, in PostgreSQL terms: two nodes' decisions queue up
            # (a safety net behind the job's lease), released at COMMIT.
            conn.execute("SELECT pg_advisory_xact_lock(?, ?)", bookkeeping.lock_key(RECORD_LOCK))
        # read under the write lock: another node may just have run
        known = load_states(conn, now_ms)
        for ev in evaluations:
            state, note = decide(
                ev,
                known.get((ev.rule, ev.subject), AlertState(ev.rule, ev.subject)),
                now_ms,
                dedup_ms,
            )
            conn.execute(
                "INSERT INTO alert_states (rule, subject, firing, since, last_fired_at,"
                " episode_notified, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (rule, subject) DO UPDATE SET firing = excluded.firing,"
                " since = excluded.since, last_fired_at = excluded.last_fired_at,"
                " episode_notified = excluded.episode_notified, updated_at = excluded.updated_at",
                (ev.rule, ev.subject, int(state.firing), state.since, state.last_fired_at,
                 int(state.episode_notified), now_ms),
            )  # fmt: skip
            if note is None:
                continue
            notes.append(note)
            text, payload = build(note, limits.min_requests, base_url)
            w = ev.window
            conn.execute(
                "INSERT INTO alerts (rule, subject, kind, value, threshold, window_start,"
                " window_end, message, payload, created_at, delivery)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ev.rule, ev.subject, note.kind, ev.value, ev.threshold, w.start if w else None,
                 w.end if w else None, text, orjson.dumps(payload).decode(), now_ms,
                 "pending" if webhook_url else "no_webhook"),
            )  # fmt: skip
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return notes


def deliver(
    conn: Conn,
    sender: SlackSender,
    now_ms: int,
    clock: Callable[[], int] = wall_clock_ms,
    progress: Progress = lambda line: None,
) -> list[Delivery]:
    """Send every waiting alert, oldest first, and record each outcome. A FIRING recorded
    without a webhook waits too; a test alert recorded without one does not (its sender was
    told at once)."""
    outcomes = []
    waiting = conn.execute(
        "SELECT id, rule, subject, kind, payload, created_at, delivery, last_attempt_at"
        " FROM alerts"
        " WHERE delivery IN ('pending', 'failed') OR (delivery = 'no_webhook' AND kind <> 'test')"
        " OR (delivery = 'sending' AND coalesce(last_attempt_at, created_at) < ?) ORDER BY id",
        (clock() - STALE_SENDING_MS,),
    ).fetchall()
    for alert_id, rule, subject, kind, payload, created_at, delivery, last_attempt_at in waiting:
        firings = _episode_firings(conn, alert_id, rule, subject) if kind == "resolved" else []
        action, reason = delivery_action(kind, now_ms - created_at, firings)
        if action == HOLD:
            progress(f"alert {alert_id}: held until its FIRING is delivered")
            continue
        if action == ABANDON:
            conn.execute(
                "UPDATE alerts SET delivery = 'abandoned', last_error = coalesce(last_error, '')"
                " || ? WHERE id = ?",
                (f" ({reason})", alert_id),
            )
            progress(f"alert {alert_id}: abandoned ({reason})")
            continue
        # Claimed first, as it was seen: a message is sent by one run only, whichever node
        # (a test alert sent meanwhile, a run whose lease was lost with its connection).
        claimed = conn.execute(
            "UPDATE alerts SET delivery = 'sending', last_attempt_at = ? WHERE id = ?"
            " AND delivery = ? AND coalesce(last_attempt_at, -1) = coalesce(?, -1)",
            (clock(), alert_id, delivery, last_attempt_at),
        ).rowcount
        if claimed != 1:
            progress(f"alert {alert_id}: taken by another run")
            continue
        result = sender.send(orjson.loads(payload))
        outcomes.append(result)
        conn.execute(
            "UPDATE alerts SET delivery = ?, attempts = attempts + ?, last_attempt_at = ?,"
            " last_error = ?, delivered_at = ? WHERE id = ?",
            ("sent" if result.ok else "failed", result.attempts, clock(), result.error,
             clock() if result.ok else None, alert_id),
        )  # fmt: skip
        if result.ok and kind == "firing":
            # Only a delivered FIRING starts the dedup interval (alerts.dedup).
            conn.execute(
                "UPDATE alert_states SET last_fired_at = ? WHERE rule = ? AND subject = ?",
                (now_ms, rule, subject),
            )
        progress(f"alert {alert_id}: " + ("sent" if result.ok else f"not sent: {result.error}"))
    return outcomes


def _episode_firings(conn: Conn, resolved_id: int, rule: str, subject: str) -> list[str]:
    """Deliveries of the FIRINGs of a RESOLVED's episode: those recorded after the previous
    RESOLVED of the same alert (an episode records a RESOLVED exactly when it recorded a
    FIRING, so the RESOLVEDs split the alert's rows into episodes)."""
    return [
        delivery
        for (delivery,) in conn.execute(
            "SELECT delivery FROM alerts WHERE rule = ? AND subject = ? AND kind = 'firing'"
            " AND id < ? AND id > coalesce((SELECT max(id) FROM alerts WHERE rule = ?"
            " AND subject = ? AND kind = 'resolved' AND id < ?), 0)",
            (rule, subject, resolved_id, rule, subject, resolved_id),
        )
    ]
