"""Decode a request body that must be one JSON object (admin API and collector alike)."""

from __future__ import annotations

from typing import Any

import orjson

from ingest.errors import ApiError, ErrorCode


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
