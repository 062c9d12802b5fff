"""Slack incoming-webhook payloads (pure): what fired, its value against the threshold, the
window, and where to look."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.dedup import Notification
from alerts.rules import CRON_STALL, ERROR_RATE, P95_LATENCY, Evaluation
from ingest.cron.jobs import JOBS, allowed_gap, duration

TITLES = {
    ERROR_RATE: "Collector error rate",
    P95_LATENCY: "Collector p95 latency",
    CRON_STALL: "Cron job stalled",
}
WHERE_TO_LOOK = {
    ERROR_RATE: "GET /api/admin/health, and optiview_collector_rejections_total{reason} in"
    " /metrics for which answers failed and why",
    P95_LATENCY: "optiview_collector_request_seconds, optiview_write_flush_seconds and"
    " optiview_write_queue_events in /metrics; the writer check in /health",
    CRON_STALL: "checks.crons in GET /api/admin/health; the scheduler or cron log; run the"
    " job by hand (optiview purge run / optiview alerts run)",
}


def clock(ms: int | None) -> str:
    if ms is None:
        return "n/a"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def value_text(evaluation: Evaluation) -> str:
    if evaluation.value is None:
        return "n/a"
    if evaluation.rule == ERROR_RATE:
        return f"{evaluation.value:.2%}"
    return f"{evaluation.value:.0f} ms"


def threshold_text(evaluation: Evaluation, min_requests: int) -> str:
    if evaluation.rule == ERROR_RATE:
        return f"> {evaluation.threshold:.2%} with at least {min_requests} requests"
    if evaluation.rule == P95_LATENCY:
        return f"> {evaluation.threshold:.0f} ms with at least {min_requests} requests"
    job = JOBS.get(evaluation.subject)
    gap = duration(allowed_gap(job, int(evaluation.threshold) * 60_000)) if job else "its period"
    running = f"{evaluation.threshold:.0f} minutes"
    return f"no success for more than {gap}, or a run going for more than {running}"


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in pairs],
    }


def build(
    note: Notification, min_requests: int, base_url: str | None
) -> tuple[str, dict[str, Any]]:
    """(text, payload) for a firing or resolved alert."""
    ev = note.evaluation
    subject = "" if ev.subject == "collector" else f" ({ev.subject})"
    state = "FIRING" if note.kind == "firing" else "RESOLVED"
    icon = ":red_circle:" if note.kind == "firing" else ":large_green_circle:"
    title = f"{TITLES.get(ev.rule, ev.rule)}{subject}"
    text = f"[{state}] {title}: {ev.summary}"
    fields = [
        ("Value", value_text(ev) if ev.rule != CRON_STALL else ev.summary),
        ("Threshold", threshold_text(ev, min_requests)),
    ]
    if ev.window is not None:
        fields.append(("Window", f"{clock(ev.window.start)} to {clock(ev.window.end)}"))
        fields.append(("Requests", f"{ev.window.requests} ({ev.window.errors} errors)"))
    fields.append(("Since", clock(note.since)))
    look = WHERE_TO_LOOK.get(ev.rule, "GET /api/admin/health")
    if base_url:
        look += f" (service: {base_url})"
    payload = {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{state}: {title}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {ev.summary}"}},
            _fields(fields),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Where to look: {look}"}]},
        ],
    }
    return text, payload


def build_test(now_ms: int, base_url: str | None) -> tuple[str, dict[str, Any]]:
    text = f"[TEST] Optiview Edge alerts reach this channel ({clock(now_ms)})"
    where = f" from {base_url}" if base_url else ""
    payload = {
        "text": text,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "TEST: Optiview Edge alerts"},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":white_check_mark: A test alert{where} (runbook 9.2). Real alerts"
                    " fire on collector error rate, p95 latency and stalled cron jobs.",
                },
            },
        ],
    }
    return text, payload
