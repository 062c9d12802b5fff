"""Bearer-token guard for the admin API; the token is compared in constant time."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.errors import ApiError, ErrorCode, error_response


class AdminAuthMiddleware:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):
            detail = (
                "missing Authorization header; send Authorization: Bearer $OPTIVIEW_ADMIN_TOKEN"
                if not given
                else "invalid admin token"
            )
            response = error_response(
                ApiError(ErrorCode.UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
