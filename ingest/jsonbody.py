"""Read and decode a request body that must be one JSON object (admin API and collector alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ingest.errors import ApiError, ErrorCode

# Annotations only: collect.parse (and through it the settings, which the CLI reads) imports
# this module, and starlette (with anyio) is no part of the CLI.
if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Receive


def _too_large(limit: int) -> ApiError:
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"body is larger than {limit} bytes")


async def receive_limited(receive: Receive, declared: str, limit: int) -> bytes:
    """The whole body from ASGI `receive`, refused with 413 as soon as it passes `limit` bytes
    (or its Content-Length, `declared`, says it will); a client that hangs up before its body
    arrived is CLIENT_CLOSED, not a failure of ours."""
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                # One message is the common case: its bytes as they are, without a join.
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif kind == "http.disconnect":
            raise ApiError(
                ErrorCode.CLIENT_CLOSED,
                f"the client closed the connection after {size} bytes of the body",
            )


async def read_limited(request: Request, limit: int) -> bytes:
    """receive_limited for a Starlette request (the admin API's routes)."""
    return await receive_limited(request.receive, request.headers.get("content-length", ""), limit)


def json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ApiError(ErrorCode.INVALID_JSON, "body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(ErrorCode.INVALID_JSON, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(ErrorCode.INVALID_JSON, "body must be a JSON object")
    return body
