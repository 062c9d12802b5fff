"""GET /health (public) and GET /api/admin/health: ok, degraded or down, with each check."""

from __future__ import annotations

import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.admin.alerting import NO_WEBHOOK, recent_alerts
from ingest.clock import now_ms
from ingest.cron.bookkeeping import job_state
from ingest.cron.jobs import JOBS, JobState, describe
from ingest.http import AppState, json_response, state

OK, DEGRADED, DOWN = "ok", "degraded", "down"
_RANK = {OK: 0, DEGRADED: 1, DOWN: 2}


def overall(checks: dict[str, dict[str, Any]]) -> str:
    """The worst status among the checks (pure)."""
    return max((c["status"] for c in checks.values()), key=_RANK.__getitem__, default=OK)


def _applied(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


async def run_checks(app: AppState) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        applied = await app.db.read(_applied)
    except Exception as exc:
        checks["database"] = {"status": DOWN, "detail": f"cannot read the database: {exc}"}
        return checks
    checks["database"] = {"status": OK}
    missing = [name for name in app.migrations_known if name not in applied]
    checks["migrations"] = {
        "status": DEGRADED if missing else OK,
        "applied": len(applied),
        "pending": missing,
    }
    checks["writer"] = writer_check(app)
    states = await app.db.read(lambda conn: {job: job_state(conn, job) for job in JOBS})
    checks["crons"] = crons_check(states, now_ms())
    return checks


def crons_check(states: dict[str, JobState], now: int) -> dict[str, Any]:
    """Each cron job's last success, and degraded while one is stalled (pure)."""
    jobs = {name: describe(states[name], job, now) for name, job in JOBS.items()}
    return {"status": overall(jobs), "jobs": jobs}


def writer_check(app: AppState) -> dict[str, Any]:
    """Reads can succeed while writes fail (a held write lock, a full disk): say so."""
    writer = app.collector.writer
    check: dict[str, Any] = {
        "status": DEGRADED if writer.failing else OK,
        "queued_events": writer.pending_events,
        "queue_limit": writer.max_pending,
    }
    if writer.failing:
        check["detail"] = f"writes are failing: {writer.last_error}"
    return check


async def health(request: Request) -> Response:
    checks = await run_checks(state(request))
    status = overall(checks)
    return json_response({"status": status, "checks": checks}, 503 if status == DOWN else 200)


async def admin_health(request: Request) -> Response:
    app = state(request)
    checks = await run_checks(app)
    status = overall(checks)
    try:
        recent = await app.db.read(recent_alerts)
    except Exception as exc:  # health must answer even when the database does not
        recent = [{"error": f"cannot read alerts: {exc}"}]
    webhook = app.settings.slack_webhook_url
    return json_response(
        {
            "status": status,
            "checks": checks,
            "environment": app.settings.env,
            "database": str(app.settings.db_path),
            "slack": {"configured": bool(webhook), **({} if webhook else {"warning": NO_WEBHOOK})},
            "recent_alerts": recent,
        },
        503 if status == DOWN else 200,
    )
