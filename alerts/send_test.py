"""`optiview alerts test` (runbook 9.2): send a test alert to Slack now and record it, as
POST /api/admin/alerts/test does, so the onboarding checklist sees it delivered."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from alerts.message import build_test
from alerts.slack import SlackSender
from ingest.clock import now_ms as wall_clock_ms
from ingest.storage.sql import Conn, returning_id


class NotDelivered(Exception):
    pass


NO_WEBHOOK = (
    "SLACK_WEBHOOK_URL is not set here: set it to the server's Slack incoming webhook and"
    " run again (nothing was recorded)"
)


def send_test_alert(
    conn: Conn,
    webhook_url: str | None,
    base_url: str | None,
    *,
    sender: SlackSender | None = None,
    clock: Callable[[], int] = wall_clock_ms,
) -> str:
    """Record a test alert, send it, record the outcome; the summary line, or NotDelivered."""
    if not webhook_url:
        raise NotDelivered(NO_WEBHOOK)
    now = clock()
    text, payload = build_test(now, base_url)
    # "sending": an alerts run meanwhile must not send it a second time
    alert_id = returning_id(
        conn,
        "INSERT INTO alerts (rule, subject, kind, message, payload, created_at, delivery)"
        " VALUES ('test', 'slack', 'test', ?, ?, ?, 'sending')",
        (text, orjson.dumps(payload).decode(), now),
    )
    slack = sender or SlackSender(webhook_url)
    try:
        result = slack.send(payload)
    finally:
        if sender is None:
            slack.close()
    sent_at = clock()
    conn.execute(
        "UPDATE alerts SET delivery = ?, attempts = ?, last_attempt_at = ?, last_error = ?,"
        " delivered_at = ? WHERE id = ?",
        ("sent" if result.ok else "failed", result.attempts, sent_at, result.error,
         sent_at if result.ok else None, alert_id),
    )  # fmt: skip
    if not result.ok:
        raise NotDelivered(
            f"Slack did not take test alert {alert_id} after {result.attempts} attempts"
            f" ({result.error}); the next alerts run retries it"
        )
    return f"test alert {alert_id} delivered to Slack"
