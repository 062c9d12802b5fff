"""Who may read stats: the admin token reads every project, a read token its own project.

A read token is looked up in the database on every request, never cached: a revocation is
honoured from the next request by every node sharing the database (one indexed read, next to
the stats query it guards), so nothing needs announcing to other nodes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from ingest.admin.auth import bearer_token
from ingest.config import Settings
from ingest.errors import ApiError, ErrorCode
from ingest.http import state
from ingest.stats import tokens
from ingest.storage.sql import Conn

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Scope:
    admin: bool
    project_id: str | None  # the read token's project; None for the admin

    def allows(self, project_id: str) -> bool:
        return self.admin or self.project_id == project_id

    def check(self, project_id: str) -> None:
        if not self.allows(project_id):
            raise ApiError(
                ErrorCode.FORBIDDEN,
                f"this read token is for project {self.project_id}, not {project_id}",
            )


def is_admin(settings: Settings, token: str) -> bool:
    return bool(settings.admin_token) and hmac.compare_digest(
        token.encode(), settings.admin_token.encode()
    )


def resolve_token(conn: Conn, settings: Settings, token: str) -> Scope | None:
    """The scope of a token (admin, or an active read token's project), or None."""
    if is_admin(settings, token):
        return Scope(admin=True, project_id=None)
    record = tokens.lookup(conn, token, settings.key_hash_secret)
    if record is None or record.revoked_at is not None:
        return None
    return Scope(admin=False, project_id=record.project_id)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHORIZED, detail, headers=_CHALLENGE)


async def reader_scope(request: Request) -> Scope:
    """The scope of the request's bearer token; 401 without a valid one."""
    given = request.headers.getlist("authorization")
    if not given:
        raise _unauthorized(
            "missing Authorization header; send Authorization: Bearer <read token or admin token>"
        )
    if len(given) > 1:
        raise _unauthorized(f"the request has {len(given)} Authorization headers; send one")
    raw = bearer_token(given[0].encode("latin-1"))
    if raw is None:
        raise _unauthorized("send Authorization: Bearer <read token or admin token>")
    token = raw.decode("latin-1")
    app = state(request)
    if is_admin(app.settings, token):
        return Scope(admin=True, project_id=None)
    record = await app.db.read(
        lambda conn: tokens.lookup(conn, token, app.settings.key_hash_secret)
    )
    if record is None:
        raise _unauthorized("invalid token: neither the admin token nor a read token")
    if record.revoked_at is not None:
        raise _unauthorized(f"read token {record.id} is revoked")
    return Scope(admin=False, project_id=record.project_id)
