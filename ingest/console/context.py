"""What every console page needs: the session, the project, the time zone, the CSRF token;
and `render`, which fills a template with them.

A page handler calls `ctx = await page_context(request)` first (it signs the visitor out, or
refuses a project the session may not see), then `render(request, "page.html", **values)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from ingest import catalog
from ingest.clock import now_ms
from ingest.console import csrf, forms, session
from ingest.http import state
from ingest.storage.sql import Conn

TZ_COOKIE = "ov_tz"
# (slug in the URL, label in the nav); health is not per project and only for the admin.
PAGES = (
    ("install", "Install"),
    ("events", "Events"),
    ("content", "Content"),
    ("journeys", "Journeys"),
    ("referrals", "Referrals"),
    ("visibility", "AI visibility"),
    ("conversions", "Conversions"),
    ("sources", "Sources"),
    ("data-policy", "Data policy"),
)
ZONES = tuple(sorted(available_timezones() | {"UTC"}))

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Scripts only from our own static files (no inline script); inline styles are allowed
    # for server-drawn SVG charts.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


class ConsoleError(Exception):
    """A page that cannot be shown: rendered as an HTML error page with a next step."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class SignInNeeded(Exception):
    """No valid session: the visitor is sent to the sign-in page."""


def forbidden(detail: str) -> ConsoleError:
    return ConsoleError(403, "Not allowed", detail)


@dataclass(frozen=True)
class ProjectChoice:
    id: str
    name: str
    domain: str


@dataclass
class PageContext:
    session: session.Session
    tz: ZoneInfo
    csrf_token: str
    projects: list[ProjectChoice]
    project: ProjectChoice | None = None
    page: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def admin(self) -> bool:
        return self.session.admin

    @property
    def nav_project(self) -> ProjectChoice | None:
        """The project the nav links to: the page's, else the first one (on health)."""
        return self.project or (self.projects[0] if self.projects else None)

    @property
    def tz_name(self) -> str:
        return str(self.tz.key)

    def require_admin(self) -> None:
        if not self.admin:
            raise forbidden(
                "this action is for the operator (admin token);"
                " a read token may only read its project"
            )


def session_key(request: Request) -> bytes:
    return session.console_key(state(request).settings.key_hash_secret, "session")


def zone(request: Request) -> ZoneInfo:
    """The browser's chosen zone (cookie), UTC when none or an unknown one."""
    name = request.cookies.get(TZ_COOKIE, "UTC")
    try:
        return ZoneInfo(name) if name in ZONES else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _read_token_live(conn: Conn, token_id: str, project_id: str | None) -> bool:
    row = conn.execute(
        "SELECT project_id, revoked_at FROM read_tokens WHERE id = ?", (token_id,)
    ).fetchone()
    return row is not None and row[0] == project_id and row[1] is None


def _choices(conn: Conn, only: str | None) -> list[ProjectChoice]:
    sql = "SELECT id, name, domain FROM projects"
    rows = conn.execute(sql + (" WHERE id = ?" if only else ""), (only,) if only else ()).fetchall()
    # Sorted here, not by ORDER BY: a PostgreSQL database's collation (a locale's, perhaps)
    # would order names otherwise than SQLite does; Python compares code points, as SQLite.
    return [ProjectChoice(*row) for row in sorted(rows, key=lambda row: (row[1], row[0]))]


async def current_session(request: Request) -> session.Session | None:
    """The cookie's session if it is signed, unexpired and its token still valid."""
    raw = request.cookies.get(session.COOKIE)
    if not raw:
        return None
    found = session.decode(raw, session_key(request), now_ms())
    if found is None:
        return None
    settings = state(request).settings
    if found.admin:
        live = found.token_id == session.admin_token_id(
            settings.key_hash_secret, settings.admin_token
        )
        return found if live else None
    live = await state(request).db.read(
        lambda conn: _read_token_live(conn, found.token_id, found.project_id)
    )
    return found if live else None


async def page_context(request: Request) -> PageContext:
    """The page's context; raises SignInNeeded, or ConsoleError 403/404 for a project the
    session may not see or that does not exist."""
    signed_in = await current_session(request)
    if signed_in is None:
        raise SignInNeeded
    project_id = request.path_params.get("project_id")
    if project_id is not None and not signed_in.admin and project_id != signed_in.project_id:
        raise forbidden(f"this read token is for project {signed_in.project_id} only")

    def load(conn: Conn) -> tuple[list[ProjectChoice], ProjectChoice | None]:
        choices = _choices(conn, None if signed_in.admin else signed_in.project_id)
        if project_id is None:
            return choices, None
        project = catalog.get_project(conn, project_id)  # 404 for an unknown id
        return choices, ProjectChoice(project.id, project.name, project.domain)

    choices, project = await state(request).db.read(load)
    ctx = PageContext(
        session=signed_in,
        tz=zone(request),
        csrf_token=csrf.token_for(session_key(request), signed_in.sid),
        projects=choices,
        project=project,
        page=_page_slug(request),
    )
    request.state.console = ctx
    return ctx


def _page_slug(request: Request) -> str:
    path = request.url.path.rstrip("/")
    return path.rsplit("/", 1)[-1]


async def checked_form(request: Request, ctx: PageContext) -> dict[str, list[str]]:
    """The posted form (every value of each field), once its CSRF token matches this
    session's; else 403."""
    form = await forms.read_form(request)
    if not csrf.valid(session_key(request), ctx.session.sid, forms.first(form, csrf.FIELD)):
        raise forbidden("the form's CSRF token is missing or stale; reload the page and try again")
    return form


def when(ms: int | None, tz: ZoneInfo) -> str:
    """A time as the operator reads it: local date and time with the zone named."""
    if ms is None:
        return "never"
    local = datetime.fromtimestamp(ms / 1000, tz=tz)
    offset = f"{local:%z}"
    return f"{local:%Y-%m-%d %H:%M:%S} {tz.key} (UTC{offset[:3]}:{offset[3:]})"


@pass_context
def _at(context: Context, ms: int | None) -> str:
    page = context.get("page")
    tz = page.tz if isinstance(page, PageContext) else ZoneInfo("UTC")
    return when(ms, tz)


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["at"] = _at
templates.env.globals["PAGES"] = PAGES
templates.env.globals["ZONES"] = ZONES


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """The template filled with `values` and the page context (`page`), if one was made."""
    page = getattr(request.state, "console", None)
    return templates.TemplateResponse(
        request,
        template,
        {"page": page, "csrf_field": csrf.FIELD, **values},
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
