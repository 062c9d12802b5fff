"""Sign-in and sign-out: a token in, a signed session cookie out (never the token itself)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ingest.clock import now_ms
from ingest.console import csrf, forms, session
from ingest.console.context import SECURITY_HEADERS, current_session, render, session_key
from ingest.http import state
from ingest.stats import access, tokens
from ingest.storage.sql import Conn

PRESESSION_SECONDS = 3600


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


async def _resolve(request: Request, token: str) -> session.Session | None:
    """A new session for the admin token or a live read token; None for anything else."""
    settings = state(request).settings

    def scope(conn: Conn) -> tuple[access.Scope, str | None] | None:
        found = access.resolve_token(conn, settings, token)
        if found is None or found.admin:
            return (found, None) if found else None
        record = tokens.lookup(conn, token, settings.key_hash_secret)
        return (found, record.id) if record else None

    resolved = await state(request).db.read(scope)
    if resolved is None:
        return None
    found, read_token_id = resolved
    if found.admin:
        token_id = session.admin_token_id(settings.key_hash_secret, settings.admin_token)
        return session.Session.new(True, None, token_id, now_ms())
    assert read_token_id is not None
    return session.Session.new(False, found.project_id, read_token_id, now_ms())


def _signin_page(request: Request, error: str | None, status: int) -> Response:
    nonce = request.cookies.get(csrf.PRESESSION_COOKIE) or secrets.token_urlsafe(16)
    response = render(
        request,
        "signin.html",
        status_code=status,
        error=error,
        csrf_token=csrf.token_for(session_key(request), "presession " + nonce),
    )
    _set_cookie(request, response, csrf.PRESESSION_COOKIE, nonce, PRESESSION_SECONDS)
    return response


async def signin_form(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse("/console/", 303, headers=SECURITY_HEADERS)
    return _signin_page(request, None, 200)


async def signin(request: Request) -> Response:
    form = await forms.read_form(request)
    nonce = request.cookies.get(csrf.PRESESSION_COOKIE)
    binding = "presession " + nonce if nonce else None
    if not csrf.valid(session_key(request), binding, forms.first(form, csrf.FIELD)):
        return _signin_page(request, "The form expired or came from elsewhere; sign in again.", 403)
    token = (forms.first(form, "token") or "").strip()
    found = await _resolve(request, token) if token else None
    if found is None:
        return _signin_page(
            request,
            "That token is not valid: use the admin token (OPTIVIEW_ADMIN_TOKEN) or a project"
            " read token (optiview read-token create).",
            401,
        )
    response = RedirectResponse("/console/", 303, headers=SECURITY_HEADERS)
    _set_cookie(
        request,
        response,
        session.COOKIE,
        session.encode(found, session_key(request)),
        session.LIFETIME_MS // 1000,
    )
    response.delete_cookie(
        csrf.PRESESSION_COOKIE,
        path="/console",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


async def signout(request: Request) -> Response:
    """Sign-out is a POST with the session's CSRF token, so no other site can sign you out."""
    signed_in = await current_session(request)
    if signed_in is not None:
        form = await forms.read_form(request)
        if not csrf.valid(session_key(request), signed_in.sid, forms.first(form, csrf.FIELD)):
            return render(
                request,
                "error.html",
                status_code=403,
                title="Not allowed",
                detail="the sign-out form's CSRF token is missing or stale; reload and try again",
            )
    response = RedirectResponse("/console/signin", 303, headers=SECURITY_HEADERS)
    response.delete_cookie(
        session.COOKIE, path="/console", secure=_secure(request), httponly=True, samesite="strict"
    )
    return response
