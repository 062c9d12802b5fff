"""Read and decode a request body that must be one JSON object (admin API and collector alike)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from ingest.errors import ApiError, ErrorCode


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes; a client that hangs
    up before its body arrived is CLIENT_CLOSED, not a failure of ours."""
    too_large = ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(
            ErrorCode.CLIENT_CLOSED,
            f"the client closed the connection after {size} bytes of the body",
        ) from None
    return b"".join(chunks)


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
