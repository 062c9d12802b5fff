"""The data-policy page (runbook 10.1 and 10.2): how long each table keeps the project's rows
under its org's plan (from purge/policy.py, what the purge applies), and the purge log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest import catalog
from ingest.clock import now_ms
from ingest.console.context import page_context, render
from ingest.cron.bookkeeping import job_state
from ingest.cron.jobs import JOBS, stall_reason
from ingest.http import state
from ingest.storage.sql import Conn
from purge import policy

PURGE_LOG_ROWS = 50

# What each table holds, for the operator reading the page.
WHAT = {
    "events": "every event the tag and the collector stored",
    "sessions": "visits, by their last activity",
    "ai_referrals": "visits that landed from an AI source",
    "content": "pages discovered, by when last seen",
    "request_rollups": "per-minute request counts behind the alerts",
    "purge_log": "this log",
    "cron_runs": "the scheduled jobs' runs",
}


def _load(conn: Conn, project_id: str) -> dict[str, Any]:
    project = catalog.get_project(conn, project_id)
    org = catalog.get_org(conn, project.org_id)
    props = tuple(p.id for p in catalog.list_properties(conn, project_id))
    now = now_ms()
    targets = policy.targets(now, [policy.Org(org.id, org.plan, props)])
    log = conn.execute(
        "SELECT run_id, table_name, org_id, plan, cutoff, rows_deleted, duration_ms, logged_at"
        " FROM purge_log WHERE org_id = ? OR org_id IS NULL ORDER BY id DESC LIMIT ?",
        (org.id, PURGE_LOG_ROWS),
    ).fetchall()
    purge = job_state(conn, "purge")
    return {
        "org": org,
        "targets": [
            {
                "table": t.table,
                "days": t.retention_days,
                "cutoff": t.cutoff,
                "by_plan": t.table == "events",
                "what": WHAT.get(t.table, ""),
                "scope": "this org's properties" if t.org_id else "the whole service",
            }
            for t in targets
        ],
        "plans": policy.EVENT_DAYS_BY_PLAN,
        "log": [
            dict(
                zip(
                    ("run_id", "table", "org_id", "plan", "cutoff", "rows", "ms", "at"),
                    row,
                    strict=True,
                )
            )
            for row in log
        ],
        "purge": purge,
        "purge_stalled": stall_reason(purge, JOBS["purge"], now),
    }


async def data_policy_page(request: Request) -> Response:
    ctx = await page_context(request)
    assert ctx.project is not None
    project_id = ctx.project.id
    values = await state(request).db.read(lambda conn: _load(conn, project_id))
    return render(request, "data_policy.html", **values)
