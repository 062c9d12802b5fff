"""The sources page (runbook 7): which AI sources count for the project, toggled with a form
that runs the same validation and provisioning as PUT /api/admin/projects/{id}/sources."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ingest import provisioning
from ingest.admin import bodies, queries
from ingest.clock import now_ms
from ingest.console.context import SECURITY_HEADERS, checked_form, page_context, render
from ingest.http import state
from ingest.sources import DEFAULT_ENABLED, describe_sources


async def sources_page(request: Request) -> Response:
    ctx = await page_context(request)
    assert ctx.project is not None
    project_id = ctx.project.id
    enabled = await state(request).db.read(lambda conn: queries.project_sources(conn, project_id))
    return render(
        request,
        "sources.html",
        sources=describe_sources(project_id, enabled),
        defaults=DEFAULT_ENABLED,
        saved=request.query_params.get("saved") == "1",
    )


async def save_sources(request: Request) -> Response:
    ctx = await page_context(request)
    ctx.require_admin()
    form = await checked_form(request, ctx)
    assert ctx.project is not None
    project_id = ctx.project.id
    update = bodies.sources_update({"enabled": form.get("enabled", [])})
    # set_sources announces the change inside this transaction: on PostgreSQL every other
    # node's collector forgets its cached sources at COMMIT.
    await state(request).db.transaction(
        lambda conn: provisioning.set_sources(conn, project_id, update, now_ms())
    )
    # This worker's collector must not keep counting a source just switched off.
    state(request).collector.directory.forget()
    return RedirectResponse(
        f"/console/projects/{project_id}/sources?saved=1", 303, headers=SECURITY_HEADERS
    )
