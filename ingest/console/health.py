"""The health page (runbook 9.2 and 10.2, operator only): the checks of /api/admin/health,
the cron jobs, recent alerts, whether Slack is configured, and a button that sends a test
alert through the same code as POST /api/admin/alerts/test."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ingest.admin.alerting import NO_WEBHOOK, deliver_test_alert, recent_alerts
from ingest.clock import now_ms, parse_iso
from ingest.console.context import SECURITY_HEADERS, checked_form, page_context, render
from ingest.cron.bookkeeping import job_state
from ingest.cron.jobs import JOBS, describe
from ingest.errors import ApiError
from ingest.health import overall, run_checks
from ingest.http import state
from ingest.storage.sql import Conn


def _ms(iso: str | None) -> int | None:
    return parse_iso(iso) if iso else None


def _alerts(conn: Conn) -> list[dict[str, Any]]:
    found = recent_alerts(conn)
    for alert in found:
        alert["created_ms"] = _ms(alert["created_at"])
        alert["delivered_ms"] = _ms(alert["delivered_at"])
    return found


def _crons(conn: Conn) -> list[dict[str, Any]]:
    now = now_ms()
    jobs = []
    for name, job in JOBS.items():
        job_now = job_state(conn, name)
        jobs.append({"name": name, "state": job_now, **describe(job_now, job, now)})
    return jobs


async def health_page(request: Request) -> Response:
    ctx = await page_context(request)
    ctx.require_admin()
    app = state(request)
    checks = await run_checks(app)
    crons = await app.db.read(_crons)
    alerts = await app.db.read(_alerts)
    shown = request.query_params.get("test_alert")
    test = next((a for a in alerts if str(a["id"]) == shown), None) if shown else None
    return render(
        request,
        "health.html",
        status=overall(checks),
        checks=checks,
        crons=crons,
        alerts=alerts,
        slack_configured=bool(app.settings.slack_webhook_url),
        no_webhook=NO_WEBHOOK,
        test=test,
        environment=app.settings.env,
    )


async def send_test(request: Request) -> Response:
    """POST, then a redirect to the page showing that alert's delivery (a reload resends
    nothing)."""
    ctx = await page_context(request)
    ctx.require_admin()
    await checked_form(request, ctx)
    app = state(request)
    try:
        sent = await deliver_test_alert(app, str(request.base_url))
        alert_id = sent["id"]
    except ApiError:  # Slack refused it: the alert row says why, and the page shows it
        alert_id = await app.db.read(
            lambda conn: conn.execute("SELECT max(id) FROM alerts WHERE kind = 'test'").fetchone()[
                0
            ]
        )
    return RedirectResponse(f"/console/health?test_alert={alert_id}", 303, headers=SECURITY_HEADERS)
