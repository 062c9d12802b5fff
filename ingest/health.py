"""GET /health (public) and GET /api/admin/health: ok, degraded or down, with each check."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.admin.alerting import NO_WEBHOOK, recent_alerts
from ingest.clock import now_ms
from ingest.collect.writer import GroupCommitWriter
from ingest.cron.bookkeeping import job_state
from ingest.cron.jobs import JOBS, JobState, describe
from ingest.http import AppState, json_response, state
from ingest.storage.sql import Conn, redacted
from ingest.writer.client import RemoteWriter

OK, DEGRADED, DOWN = "ok", "degraded", "down"
# A flush still running after this share of the busy timeout is waiting for someone's lock.
WAITING_SHARE = 0.5
_RANK = {OK: 0, DEGRADED: 1, DOWN: 2}


def overall(checks: dict[str, dict[str, Any]]) -> str:
    """The worst status among the checks (pure)."""
    return max((c["status"] for c in checks.values()), key=_RANK.__getitem__, default=OK)


def _applied(conn: Conn) -> list[str]:
    # A plain read (in the readers' read-only transaction): pg_migrations.applied would
    # create the table, a write.
    return [row[0] for row in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


async def run_checks(app: AppState) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    lost = app.db.check_file()
    if lost is not None:
        checks["database"] = {"status": DOWN, "detail": lost}
        return checks
    try:
        applied = await app.db.read(_applied)
    except Exception as exc:  # unreachable server, missing table, unreadable file: all down
        checks["database"] = {"status": DOWN, "detail": f"cannot read the database: {exc}"}
        return checks
    checks["database"] = {"status": OK}
    missing = [name for name in app.migrations_known if name not in applied]
    checks["migrations"] = {
        "status": DEGRADED if missing else OK,
        "applied": len(applied),
        "pending": missing,
    }
    writer = app.collector.writer
    await writer.refresh()  # the writer process's state, when it commits for this worker
    checks["writer"] = writer_check(writer, app.settings.busy_timeout_ms, time.monotonic())
    # Shared through Redis when configured; degraded while each process limits on its own.
    checks["rate_limits"] = await app.collector.limiter.check()
    states = await app.db.read(lambda conn: {job: job_state(conn, job) for job in JOBS})
    checks["crons"] = crons_check(states, now_ms())
    return checks


def crons_check(states: dict[str, JobState], now: int) -> dict[str, Any]:
    """Each cron job's last success, and degraded while one is stalled (pure)."""
    jobs = {name: describe(states[name], job, now) for name, job in JOBS.items()}
    return {"status": overall(jobs), "jobs": jobs}


def writer_check(
    writer: GroupCommitWriter | RemoteWriter, busy_timeout_ms: int, now: float
) -> dict[str, Any]:
    """Reads can succeed while writes wait or fail (a held write lock, a full disk): say so."""
    waited_ms = writer.waiting_s(now) * 1000
    check: dict[str, Any] = {
        "status": OK,
        "queued_events": writer.pending_events,
        "queue_limit": writer.max_pending,
    }
    if writer.gone is not None:  # every write is refused until the writer process is back
        check["status"] = DOWN
        check["detail"] = f"{writer.gone}: requests get 503 until then"
    elif writer.failed:
        check["status"] = DEGRADED
        check["detail"] = f"writes are failing: {writer.last_error}"
    elif waited_ms >= WAITING_SHARE * busy_timeout_ms:
        check["status"] = DEGRADED
        check["detail"] = (
            f"a write has waited {waited_ms:.0f} ms for the database (is another process"
            f" holding its write lock?); requests give up after {busy_timeout_ms} ms"
            " (OPTIVIEW_BUSY_TIMEOUT_MS)"
        )
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
            "database": redacted(app.settings.db),
            "slack": {"configured": bool(webhook), **({} if webhook else {"warning": NO_WEBHOOK})},
            "recent_alerts": recent,
        },
        503 if status == DOWN else 200,
    )
