"""The install page (runbook 5 and 6.1): the snippet for a property and key, a verification
that turns green when the first event lands, and the project's onboarding checklist."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest import catalog, onboarding
from ingest.admin import queries
from ingest.clock import now_ms
from ingest.console.context import PageContext, page_context, render, when
from ingest.errors import ApiError
from ingest.fields import positive_id
from ingest.http import json_response, state
from ingest.storage.sql import Conn

# Seconds between two checks by the page's script; the runbook asks for green within 30 s.
POLL_SECONDS = 2


def _base_url(request: Request) -> tuple[str | None, str | None]:
    """The tag's base URL, and a note when there is none or it is only this request's host
    (the same rule as GET /api/admin/projects/{id}/install)."""
    settings = state(request).settings
    if settings.public_url:
        return settings.public_url, None
    if settings.production:
        return None, (
            "OPTIVIEW_PUBLIC_URL is not set: in production the snippet's tag URL comes only"
            " from it; set it to the service's public base URL and restart"
        )
    guessed = str(request.base_url).rstrip("/")
    return guessed, (
        f"OPTIVIEW_PUBLIC_URL is not set, so the tag URL is this page's host ({guessed});"
        " fine for development, set it in production"
    )


def _property_param(request: Request) -> int | None:
    raw = request.query_params.get("property_id")
    return positive_id(raw, "property_id") if raw else None


def verification(conn: Conn, ctx: PageContext, property_id: int | None) -> dict[str, Any]:
    assert ctx.project is not None
    first, last = queries.event_span(conn, ctx.project.id, property_id)
    return {
        "state": "verified" if first is not None else "waiting",
        "verified": first is not None,
        "headline": "Verified: events are arriving"
        if first is not None
        else "Waiting for the first event…",
        "first_event_at": when(first, ctx.tz) if first is not None else None,
        "last_event_at": when(last, ctx.tz) if last is not None else None,
    }


def _load(
    conn: Conn,
    ctx: PageContext,
    property_id: int | None,
    key_id: str | None,
    base_url: str | None,
) -> dict[str, Any]:
    assert ctx.project is not None
    project = catalog.get_project(conn, ctx.project.id)
    props = catalog.list_properties(conn, project.id)
    chosen = property_id or project.default_property_id or (props[0].id if props else None)
    keys = catalog.list_keys(conn, chosen) if chosen is not None else []
    now = now_ms()
    install: dict[str, Any] | None = None
    problem = None
    if chosen is not None and base_url is not None:
        try:
            install = queries.install_info(conn, project.id, chosen, key_id, base_url)
        except ApiError as exc:  # no active key, a key of another property...: say what to do
            problem = exc.detail
    facts = queries.onboarding_facts(conn, project.id)
    return {
        "properties": props,
        "chosen_property": chosen,
        "keys": [(k, k.state(now)) for k in keys],
        "install": install,
        "problem": problem,
        "verification": verification(conn, ctx, chosen),
        "checklist": onboarding.checklist(facts, now),
    }


async def install_page(request: Request) -> Response:
    ctx = await page_context(request)
    property_id = _property_param(request)
    key_id = request.query_params.get("key_id") or None
    base_url, url_note = _base_url(request)
    values = await state(request).db.read(
        lambda conn: _load(conn, ctx, property_id, key_id, base_url)
    )
    return render(
        request,
        "install.html",
        url_note=url_note,
        poll_seconds=POLL_SECONDS,
        **values,
    )


async def install_verify(request: Request) -> Response:
    """What the verification widget polls: {state: waiting|verified, ...} as JSON."""
    ctx = await page_context(request)
    property_id = _property_param(request)
    body = await state(request).db.read(lambda conn: verification(conn, ctx, property_id))
    return json_response(body, headers={"Cache-Control": "no-store"})
