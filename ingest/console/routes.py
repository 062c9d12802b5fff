"""The console's URLs, and the middleware that turns its refusals into HTML pages."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.console import auth, forms, health, install, policy, sources
from ingest.console.context import (
    PAGES,
    SECURITY_HEADERS,
    TZ_COOKIE,
    ZONES,
    ConsoleError,
    SignInNeeded,
    checked_form,
    page_context,
    render,
)
from ingest.console.data_pages import data_routes
from ingest.errors import STATUS, ApiError

log = logging.getLogger("optiview.console")

TZ_COOKIE_SECONDS = 365 * 24 * 3600


class ConsoleErrors:
    """Refusals inside the console are HTML pages (sign-in redirect, 403, 404), not JSON.

    Starlette runs the app's exception handlers around each endpoint (they are found in the
    scope), so the console puts its own there for the exceptions it renders itself; what is
    raised outside an endpoint (the router's 404) is caught here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handlers, status_handlers = scope.get("starlette.exception_handlers", ({}, {}))
        ours = dict.fromkeys((SignInNeeded, ConsoleError, ApiError, HTTPException), _handle)
        scope = {**scope, "starlette.exception_handlers": ({**handlers, **ours}, status_handlers)}
        try:
            await self.app(scope, receive, send)
        except (SignInNeeded, ConsoleError, ApiError, HTTPException) as exc:
            await (await _handle(Request(scope, receive), exc))(scope, receive, send)


async def _handle(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInNeeded):
        return RedirectResponse("/console/signin", 303, headers=SECURITY_HEADERS)
    return _error_page(request, exc)


def _error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ConsoleError):
        status, title, detail = exc.status, exc.title, exc.detail
    elif isinstance(exc, ApiError):
        status, title, detail = STATUS[exc.code], exc.code.replace("_", " "), exc.detail
    else:
        assert isinstance(exc, HTTPException)
        status, title = exc.status_code, "Not found" if exc.status_code == 404 else "Error"
        detail = f"there is no console page at {request.url.path}"
        if exc.status_code == 405:
            title, detail = "Not allowed", f"{request.method} is not allowed here"
    return render(request, "error.html", status_code=status, title=title, detail=detail)


async def home(request: Request) -> Response:
    """The first project's install page; the sign-in page when not signed in."""
    ctx = await page_context(request)
    if ctx.projects:
        target = f"/console/projects/{ctx.projects[0].id}/install"
        return RedirectResponse(target, 303, headers=SECURITY_HEADERS)
    return render(request, "home.html")


async def choose_project(request: Request) -> Response:
    """The project picker's target (a GET form, so it works without JavaScript)."""
    ctx = await page_context(request)
    wanted = request.query_params.get("project", "")
    page = request.query_params.get("page", "install")
    if page not in {slug for slug, _ in PAGES}:
        page = "install"
    if wanted not in {p.id for p in ctx.projects}:
        raise ConsoleError(404, "Not found", f"no project {wanted[:100]!r} you may see")
    return RedirectResponse(f"/console/projects/{wanted}/{page}", 303, headers=SECURITY_HEADERS)


async def set_zone(request: Request) -> Response:
    """Remember the browser's time zone (a cookie), then go back to the page."""
    ctx = await page_context(request)
    form = await checked_form(request, ctx)
    name = forms.first(form, "tz") or "UTC"
    back = forms.first(form, "back") or "/console/"
    if not back.startswith("/console/") or back.startswith("//"):
        back = "/console/"
    response = RedirectResponse(back, 303, headers=SECURITY_HEADERS)
    if name in ZONES:
        response.set_cookie(
            TZ_COOKIE,
            name,
            max_age=TZ_COOKIE_SECONDS,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


async def bare(request: Request) -> Response:
    return RedirectResponse("/console/", 308)


def _routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/signin", auth.signin_form, methods=["GET"]),
        Route("/signin", auth.signin, methods=["POST"]),
        Route("/signout", auth.signout, methods=["POST"]),
        Route("/go", choose_project, methods=["GET"]),
        Route("/tz", set_zone, methods=["POST"]),
        Route("/projects/{project_id}/install", install.install_page, methods=["GET"]),
        Route("/projects/{project_id}/install/verify", install.install_verify, methods=["GET"]),
        Route("/projects/{project_id}/sources", sources.sources_page, methods=["GET"]),
        Route("/projects/{project_id}/sources", sources.save_sources, methods=["POST"]),
        Route("/projects/{project_id}/data-policy", policy.data_policy_page, methods=["GET"]),
        Route("/health", health.health_page, methods=["GET"]),
        Route("/health/test-alert", health.send_test, methods=["POST"]),
        *data_routes(),
        Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static")),
    ]


def console_routes() -> list[BaseRoute]:
    """`/console` (redirects to `/console/`) and the Mount with every console page."""
    return [
        Route("/console", bare, methods=["GET"]),
        Mount(
            "/console",
            app=Router(_routes(), redirect_slashes=False),
            middleware=[Middleware(ConsoleErrors)],
        ),
    ]
