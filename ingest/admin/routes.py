"""Admin API handlers: parse the body, run one transaction or one read, answer JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, Router

from ingest import onboarding, provisioning, provisioning_changes
from ingest.admin import bodies, formats, queries
from ingest.admin.alerting import send_test_alert
from ingest.admin.auth import AdminAuthMiddleware
from ingest.clock import now_ms
from ingest.errors import ApiError, ErrorCode, not_found
from ingest.fields import has_control, positive_id
from ingest.health import admin_health
from ingest.http import json_response, state
from ingest.jsonbody import read_limited
from ingest.models import Org
from ingest.sources import describe_sources
from ingest.stats import tokens as read_tokens
from ingest.storage.sql import INTEGRITY_ERRORS, Conn

log = logging.getLogger("optiview.admin")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


async def _body(request: Request) -> Any:
    return bodies.decode(await read_limited(request, bodies.MAX_BODY_BYTES))


def _property_id(request: Request) -> int:
    """The path's property id; checked here rather than by a route convertor so that an id
    SQLite cannot hold is a 400 naming it, not a crash or a bare 404."""
    return positive_id(request.path_params["property_id"], "property_id")


_NAMED = {"org_id": "organization", "project_id": "project", "key_id": "key",
          "token_id": "read token"}  # fmt: skip


def _existing_id(value: str, name: str) -> str:
    """A text id as given, or 404 without a lookup when it holds a control character: ids
    are base62, so it names nothing, and PostgreSQL text cannot even hold U+0000 (the lookup
    would fail there while SQLite answers 404)."""
    if has_control(value):
        raise not_found(_NAMED[name], value)
    return value


def _text_id(request: Request, name: str) -> str:
    return _existing_id(str(request.path_params[name]), name)


def _org_id(request: Request) -> str:
    return _text_id(request, "org_id")


def _project_id(request: Request) -> str:
    return _text_id(request, "project_id")


def _key_id(request: Request) -> str:
    return _text_id(request, "key_id")


def _changed(request: Request) -> None:
    """This worker's collector must not serve a cached grant the change just made stale; on
    PostgreSQL the change's transaction announced it to the other nodes (provisioning.py),
    on SQLite the other workers see it when their cache entries expire (within the TTL)."""
    state(request).collector.directory.forget()


async def _write(request: Request, work: Callable[[Conn], T]) -> T:
    """One admin write transaction. Conflicts with another node's write are checked under
    held rows (catalog.hold); should a constraint still refuse one, it is a 409 to repeat,
    not a 500 (the transaction was rolled back whole)."""
    try:
        return await state(request).db.transaction(work)
    except INTEGRITY_ERRORS as exc:
        log.warning("admin write refused by a constraint: %s", exc)
        raise ApiError(
            ErrorCode.CONFLICT,
            "another change to the same record was committed at the same time; nothing of"
            " this request was stored: repeat it",
        ) from None


def reader(query: Callable[[Conn, Any], Any], convert: Callable[[Request], Any]) -> Handler:
    """A GET handler answering `query(conn, convert(request))`."""

    async def handle(request: Request) -> Response:
        value = convert(request)
        return json_response(await state(request).db.read(lambda conn: query(conn, value)))

    return handle


async def list_orgs(request: Request) -> Response:
    return json_response(await state(request).db.read(queries.all_orgs))


async def create_org(request: Request) -> Response:
    new = bodies.new_org(await _body(request))

    def create(conn: Conn) -> tuple[Org, list[str]]:
        warnings = provisioning_changes.domain_claims(conn, new.domain)
        return provisioning.create_org(conn, new, now_ms()), warnings

    org, warnings = await _write(request, create)
    _warn(warnings)
    return json_response({**org.to_json(), "warnings": warnings}, 201)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        log.warning("%s", warning)


async def update_org(request: Request) -> Response:
    org_id = _org_id(request)
    changes = bodies.org_changes(await _body(request))
    org, warnings = await _write(
        request, lambda conn: provisioning_changes.update_org(conn, org_id, changes)
    )
    _warn(warnings)
    return json_response({**org.to_json(), "warnings": warnings})


async def update_project(request: Request) -> Response:
    project_id = _project_id(request)
    changes = bodies.project_changes(await _body(request))
    project = await _write(
        request, lambda conn: provisioning_changes.update_project(conn, project_id, changes)
    )
    return json_response(project.to_json())


async def update_property(request: Request) -> Response:
    property_id = _property_id(request)
    changes = bodies.property_changes(await _body(request))
    prop = await _write(
        request, lambda conn: provisioning_changes.update_property(conn, property_id, changes)
    )
    _changed(request)
    return json_response(prop.to_json())


def remover(scope: provisioning_changes.Scope, ident: Callable[[Request], str | int]) -> Handler:
    """DELETE with ?confirm=<the same id>; without it, 400 saying what would be deleted."""

    async def handle(request: Request) -> Response:
        target = ident(request)
        db = state(request).db
        confirm = request.query_params.get("confirm")
        if confirm != str(target):
            would = await db.read(lambda conn: provisioning_changes.count_rows(conn, scope, target))
            how = f"repeat the request with ?confirm={target}"
            if confirm is not None:
                how = f"confirm must be {target}, not {confirm[:100]!r}: {how}"
            raise provisioning_changes.unconfirmed(would, how)
        removal = await _write(
            request, lambda conn: provisioning_changes.remove(conn, scope, target)
        )
        _changed(request)
        log.warning("deleted %s %s: %s", scope, target, removal.summary())
        return json_response(removal.to_json())

    return handle


async def create_project(request: Request) -> Response:
    org_id = _org_id(request)
    new = bodies.new_project(await _body(request))
    project, prop = await _write(
        request, lambda conn: provisioning.create_project(conn, org_id, new, now_ms())
    )
    _changed(request)
    return json_response(queries.project_created(project, prop), 201)


async def create_property(request: Request) -> Response:
    project_id = _project_id(request)
    new = bodies.new_property(await _body(request))
    prop = await _write(
        request, lambda conn: provisioning.create_property(conn, project_id, new, now_ms())
    )
    _changed(request)
    return json_response(prop.to_json(), 201)


async def create_key(request: Request) -> Response:
    property_id = _property_id(request)
    new = bodies.new_key(await _body(request))
    app = state(request)
    key, secret = await _write(
        request,
        lambda conn: provisioning.create_key(
            conn, property_id, new, app.settings.key_hash_secret, now_ms()
        ),
    )
    _changed(request)  # the collector caches unknown key ids too
    return json_response({**key.to_json(), "secret": secret}, 201)


async def revoke_key(request: Request) -> Response:
    key_id = _key_id(request)
    key = await _write(request, lambda conn: provisioning.revoke_key(conn, key_id, now_ms()))
    _changed(request)
    return json_response(key.to_json())


async def rotate_key(request: Request) -> Response:
    key_id = _key_id(request)
    app = state(request)
    key, secret = await _write(
        request,
        lambda conn: provisioning.rotate_key(conn, key_id, app.settings.key_hash_secret, now_ms()),
    )
    _changed(request)
    return json_response({**key.to_json(), "secret": secret})


async def sources(request: Request) -> Response:
    project_id = _project_id(request)
    db = state(request).db
    if request.method == "PUT":
        update = bodies.sources_update(await _body(request))
        await _write(
            request, lambda conn: provisioning.set_sources(conn, project_id, update, now_ms())
        )
        _changed(request)
    enabled = await db.read(lambda conn: queries.project_sources(conn, project_id))
    return json_response(describe_sources(project_id, enabled))


def _id_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    return positive_id(raw, name) if raw else None


def _public_base_url(request: Request) -> tuple[str, str | None]:
    """The base URL of the tag in the snippet, and a warning when it is only a guess.

    The Host header is the client's to choose, so production takes OPTIVIEW_PUBLIC_URL only.
    """
    settings = state(request).settings
    if settings.public_url:
        return settings.public_url, None
    if settings.production:
        raise ApiError(
            ErrorCode.NOT_CONFIGURED,
            "OPTIVIEW_PUBLIC_URL is not set: in production the snippet's tag URL comes only from"
            " it, never from the request's Host header; set it to the service's public base URL"
            " (e.g. https://edge.example.com) and restart",
        )
    guessed = str(request.base_url).rstrip("/")
    log.warning("install snippet: OPTIVIEW_PUBLIC_URL is not set; using the request's %s", guessed)
    return guessed, (
        f"OPTIVIEW_PUBLIC_URL is not set, so the tag URL was taken from this request ({guessed});"
        " development only: production refuses to build a snippet without it"
    )


async def install(request: Request) -> Response:
    project_id = _project_id(request)
    property_id = _id_param(request, "property_id")
    key_id = request.query_params.get("key_id") or None
    if key_id is not None:
        key_id = _existing_id(key_id, "key_id")
    html = formats.wants_html(request.query_params.get("format"), request.headers.get("accept"))
    base_url, warning = _public_base_url(request)
    info = await state(request).db.read(
        lambda conn: queries.install_info(conn, project_id, property_id, key_id, base_url)
    )
    if html:  # the snippet alone, to paste or save (the warning, if any, is in the log)
        return HTMLResponse(info["snippet"] + "\n")
    return json_response({**info, "warning": warning} if warning else info)


async def install_verify(request: Request) -> Response:
    project_id = _project_id(request)
    property_id = _id_param(request, "property_id")
    body = await state(request).db.read(
        lambda conn: queries.install_verification(conn, project_id, property_id)
    )
    return json_response(body)


async def onboarding_status(request: Request) -> Response:
    project_id = _project_id(request)
    facts = await state(request).db.read(lambda conn: queries.onboarding_facts(conn, project_id))
    return json_response(onboarding.summary(facts, now_ms()))


async def create_read_token(request: Request) -> Response:
    project_id = _project_id(request)
    name = bodies.text(await _body(request), "name")
    app = state(request)
    record, token = await _write(
        request,
        lambda conn: read_tokens.create(
            conn, project_id, name, app.settings.key_hash_secret, now_ms()
        ),
    )
    return json_response({**record.to_json(), "token": token}, 201)


async def list_read_tokens(request: Request) -> Response:
    project_id = _project_id(request)
    listed = await state(request).db.read(lambda conn: read_tokens.listed(conn, project_id))
    return json_response(read_tokens.listing(project_id, listed))


async def revoke_read_token(request: Request) -> Response:
    project_id, token_id = _project_id(request), _text_id(request, "token_id")
    record = await _write(
        request, lambda conn: read_tokens.revoke(conn, project_id, token_id, now_ms())
    )
    return json_response(record.to_json())


def admin_mount(token: str) -> Mount:
    routes = [
        Route("/orgs", create_org, methods=["POST"]),
        Route("/orgs", list_orgs, methods=["GET"]),
        Route("/orgs/{org_id}", reader(queries.org_detail, _org_id), methods=["GET"]),
        Route("/orgs/{org_id}", update_org, methods=["PATCH"]),
        Route("/orgs/{org_id}", remover("org", _org_id), methods=["DELETE"]),
        Route("/orgs/{org_id}/projects", create_project, methods=["POST"]),
        Route("/orgs/{org_id}/projects", reader(queries.org_projects, _org_id), methods=["GET"]),
        Route(
            "/projects/{project_id}",
            reader(queries.project_detail, _project_id),
            methods=["GET"],
        ),
        Route("/projects/{project_id}", update_project, methods=["PATCH"]),
        Route("/projects/{project_id}", remover("project", _project_id), methods=["DELETE"]),
        Route("/projects/{project_id}/properties", create_property, methods=["POST"]),
        Route(
            "/projects/{project_id}/properties",
            reader(queries.project_properties, _project_id),
            methods=["GET"],
        ),
        Route("/projects/{project_id}/sources", sources, methods=["GET", "PUT"]),
        Route("/projects/{project_id}/install", install, methods=["GET"]),
        Route("/projects/{project_id}/install/verify", install_verify, methods=["GET"]),
        Route("/projects/{project_id}/onboarding-status", onboarding_status, methods=["GET"]),
        Route("/projects/{project_id}/read-tokens", create_read_token, methods=["POST"]),
        Route("/projects/{project_id}/read-tokens", list_read_tokens, methods=["GET"]),
        Route(
            "/projects/{project_id}/read-tokens/{token_id}",
            revoke_read_token,
            methods=["DELETE"],
        ),
        Route(
            "/properties/{property_id}",
            reader(queries.property_detail, _property_id),
            methods=["GET"],
        ),
        Route("/properties/{property_id}", update_property, methods=["PATCH"]),
        Route("/properties/{property_id}", remover("property", _property_id), methods=["DELETE"]),
        Route("/properties/{property_id}/keys", create_key, methods=["POST"]),
        Route(
            "/properties/{property_id}/keys",
            reader(queries.property_keys, _property_id),
            methods=["GET"],
        ),
        Route("/keys/{key_id}", reader(queries.key_detail, _key_id), methods=["GET"]),
        Route("/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
        Route("/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
        Route("/health", admin_health, methods=["GET"]),
        Route("/alerts/test", send_test_alert, methods=["POST"]),
    ]
    # No redirect_slashes: its redirect would be built from the client's Host header.
    return Mount(
        "/api/admin",
        app=Router(routes, redirect_slashes=False),
        middleware=[Middleware(AdminAuthMiddleware, token=token)],
    )
