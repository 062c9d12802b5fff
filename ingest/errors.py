"""Every error the service answers with, mapped to its HTTP status in one table."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from starlette.responses import Response


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_FIELD = "invalid_field"
    INVALID_DOMAIN = "invalid_domain"
    INVALID_HEADER = "invalid_header"
    UNAUTHORIZED = "unauthorized"
    INVALID_KEY = "invalid_key"
    KEY_REVOKED = "key_revoked"
    KEY_EXPIRED = "key_expired"
    FORBIDDEN = "forbidden"
    PROPERTY_INACTIVE = "property_inactive"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    KEY_NOT_LINKED = "key_not_linked"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    CONFIRMATION_REQUIRED = "confirmation_required"
    NOT_CONFIGURED = "not_configured"
    MALFORMED_REQUEST = "malformed_request"
    REQUEST_TIMEOUT = "request_timeout"
    HEADERS_TOO_LARGE = "headers_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    CLIENT_CLOSED = "client_closed"
    INTERNAL = "internal_error"
    UPSTREAM_FAILED = "upstream_failed"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"


STATUS: Mapping[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.INVALID_DOMAIN: 400,
    ErrorCode.INVALID_HEADER: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_KEY: 401,
    ErrorCode.KEY_REVOKED: 401,
    ErrorCode.KEY_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.PROPERTY_INACTIVE: 403,
    ErrorCode.ORIGIN_NOT_ALLOWED: 403,
    ErrorCode.KEY_NOT_LINKED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    # A deletion asked for without naming what it deletes (?confirm=<id>, --yes).
    ErrorCode.CONFIRMATION_REQUIRED: 400,
    # The request is fine; the service lacks a setting it needs to answer it (named in detail).
    ErrorCode.NOT_CONFIGURED: 409,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    # nginx's code for a client that hung up before the answer; it never reaches anyone.
    ErrorCode.CLIENT_CLOSED: 499,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UPSTREAM_FAILED: 502,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.OVERLOADED: 503,
}


class ApiError(Exception):
    """An error with a code from the closed set and a detail that says what was wrong."""

    def __init__(
        self, code: ErrorCode, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return STATUS[self.code]


def error_response(error: ApiError) -> Response:
    # Imported here: the CLI raises these errors too, and starlette (with anyio) is no part of it.
    from starlette.responses import Response

    body = orjson.dumps({"error": error.code.value, "detail": error.detail})
    return Response(body, error.status, headers=error.headers, media_type="application/json")


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"{what} {ident} does not exist")


def invalid_field(field: str, reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_FIELD, f"{field}: {reason}")


def invalid_domain(field: str, reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_DOMAIN, f"{field}: {reason}")
