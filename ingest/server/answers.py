"""Answers the server writes itself, before or instead of the app: the same JSON error body as
every other error, and the connection closed after it."""

from __future__ import annotations

import http

import orjson

from ingest.errors import STATUS, ErrorCode
from ingest.http import RETRY_AFTER_SECONDS


def raw_error(code: ErrorCode, detail: str, extra: str = "") -> bytes:
    status = STATUS[code]
    body = orjson.dumps({"error": code.value, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def malformed(reason: str) -> bytes:
    return raw_error(ErrorCode.MALFORMED_REQUEST, f"not a valid HTTP/1.1 request: {reason}")


def headers_too_large(limit: int) -> bytes:
    return raw_error(
        ErrorCode.HEADERS_TOO_LARGE,
        f"request line and headers are larger than {limit} bytes (OPTIVIEW_MAX_HEADER_BYTES)",
    )


def headers_timeout(seconds: float) -> bytes:
    return raw_error(
        ErrorCode.REQUEST_TIMEOUT,
        f"request headers did not arrive within {seconds:g} s (OPTIVIEW_HEADER_TIMEOUT_S)",
    )


def body_timeout(seconds: float) -> bytes:
    return raw_error(
        ErrorCode.REQUEST_TIMEOUT,
        f"request body did not arrive within {seconds:g} s (OPTIVIEW_BODY_TIMEOUT_S);"
        " nothing was stored",
    )


def too_many_connections(limit: int) -> bytes:
    return raw_error(
        ErrorCode.OVERLOADED,
        f"this server process holds its limit of {limit} connections; retry later",
        f"retry-after: {RETRY_AFTER_SECONDS}\r\n",
    )
