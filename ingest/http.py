"""Shared HTTP plumbing: JSON responses, app state, and the exception-to-status handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ingest.collect.service import Collector
from ingest.config import Settings
from ingest.errors import ApiError, ErrorCode, error_response
from ingest.storage.backend import Storage
from ingest.storage.database import StorageUnavailable

log = logging.getLogger("optiview.http")

RETRY_AFTER_SECONDS = "1"


@dataclass
class AppState:
    settings: Settings
    db: Storage
    migrations_known: tuple[str, ...]
    collector: Collector


def state(request: Request) -> AppState:
    app_state: AppState = request.app.state.optiview
    return app_state


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/json")


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ApiError(ErrorCode.NOT_FOUND, f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = ApiError(
            ErrorCode.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed on {request.url.path}",
            headers=dict(exc.headers or {}),
        )
    else:
        return json_response({"error": "http_error", "detail": exc.detail}, exc.status_code)
    return error_response(error)


async def on_storage_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        ApiError(
            ErrorCode.UNAVAILABLE,
            f"storage is unavailable, retry later ({exc})",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(ApiError(ErrorCode.INTERNAL, "internal error; the event was logged"))


EXCEPTION_HANDLERS = {
    ApiError: on_api_error,
    HTTPException: on_http_exception,
    StorageUnavailable: on_storage_unavailable,
    Exception: on_unexpected,
}
