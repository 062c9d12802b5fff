"""POST /api/admin/alerts/test (runbook 9.2), and the recent alerts admin health lists."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from alerts.message import build_test
from alerts.slack import SlackSender
from ingest.clock import now_ms, to_iso
from ingest.errors import ApiError, ErrorCode
from ingest.http import AppState, json_response, state
from ingest.storage.sql import Conn, returning_id

RECENT_ALERTS = 20
NO_WEBHOOK = (
    "SLACK_WEBHOOK_URL is not set on this server: alerts are recorded and listed here; the next"
    " alerts run that has a webhook sends them"
)


_ALERT_COLUMNS = (
    "id", "rule", "subject", "kind", "message", "created_at", "delivery", "attempts",
    "last_error", "delivered_at",
)  # fmt: skip
_TIMES = ("created_at", "delivered_at")


def recent_alerts(conn: Conn, limit: int = RECENT_ALERTS) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    found = [dict(zip(_ALERT_COLUMNS, row, strict=True)) for row in rows]
    for alert in found:
        for column in _TIMES:
            alert[column] = to_iso(alert[column])
    return found


def _send(url: str, payload: dict[str, Any]) -> Any:
    sender = SlackSender(url)
    try:
        return sender.send(payload)
    finally:
        sender.close()


async def send_test_alert(request: Request) -> Response:
    return json_response(await deliver_test_alert(state(request), str(request.base_url)))


async def deliver_test_alert(app: AppState, base_url: str) -> dict[str, Any]:
    """Record a test alert and send it to Slack now (the API and the console's button);
    UPSTREAM_FAILED when Slack did not take it."""
    url = app.settings.slack_webhook_url
    now = now_ms()
    text, payload = build_test(now, app.settings.public_url or base_url)

    def record(conn: Conn) -> int:
        # "sending": an alerts run meanwhile must not send it a second time
        return returning_id(
            conn,
            "INSERT INTO alerts (rule, subject, kind, message, payload, created_at, delivery)"
            " VALUES ('test', 'slack', 'test', ?, ?, ?, ?)",
            (text, orjson.dumps(payload).decode(), now, "sending" if url else "no_webhook"),
        )

    alert_id = await app.db.transaction(record)
    if not url:
        return {"id": alert_id, "delivery": "no_webhook", "warning": NO_WEBHOOK}
    result = await asyncio.to_thread(_send, url, payload)
    sent_at = now_ms()
    delivered = (
        "sent" if result.ok else "failed",
        result.attempts,
        sent_at,
        result.error,
        sent_at if result.ok else None,
        alert_id,
    )

    def outcome(conn: Conn) -> None:
        conn.execute(
            "UPDATE alerts SET delivery = ?, attempts = ?, last_attempt_at = ?, last_error = ?,"
            " delivered_at = ? WHERE id = ?",
            delivered,
        )

    await app.db.transaction(outcome)
    if not result.ok:
        raise ApiError(
            ErrorCode.UPSTREAM_FAILED,
            f"Slack did not take the test alert after {result.attempts} attempts"
            f" ({result.error}); it is recorded as alert {alert_id} and the next alerts run"
            " retries it",
        )
    return {"id": alert_id, "delivery": "sent", "attempts": result.attempts}
