"""Bearer-token guard for the admin API; the token is compared in constant time."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.errors import ApiError, ErrorCode, error_response


def bearer_token(authorization: bytes) -> bytes | None:
    """The credentials of `Bearer <token>`: the scheme in any case, as RFC 9110 has it and as
    the collector reads key secrets; None for any other scheme."""
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip()


def _refusal(headers: list[bytes]) -> str | None:
    if not headers:
        return "missing Authorization header; send Authorization: Bearer $OPTIVIEW_ADMIN_TOKEN"
    if len(headers) > 1:
        return f"the request has {len(headers)} Authorization headers; send exactly one"
    return None


class AdminAuthMiddleware:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        detail = _refusal(given)
        if detail is None:
            token = bearer_token(given[0])
            if token is not None and hmac.compare_digest(token, self.expected):
                await self.app(scope, receive, send)
                return
            detail = "invalid admin token"
        response = error_response(
            ApiError(ErrorCode.UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
        )
        await response(scope, receive, send)
