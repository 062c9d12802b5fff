"""Assemble the OpenAPI 3.1 document from the operation table and the component schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from ingest.openapi.operations import (
    ADMIN_OPERATIONS,
    ADMIN_PREFIX,
    PUBLIC,
    STATS_OPERATIONS,
    Operation,
    Param,
)
from ingest.openapi.schemas import COMPONENTS, ref

VERSION = "1"
JSON = "application/json"
_NO_BODY_STATUSES = (204, 304)
_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 304: "Not Modified",
    400: "Bad request: the detail names the field", 401: "No or wrong credentials",
    403: "Forbidden", 404: "Not found", 408: "The body did not arrive in time",
    409: "Conflict", 413: "Body too large", 415: "Unsupported media type",
    429: "Rate-limited; Retry-After says when to retry", 502: "Upstream failed",
    503: "Overloaded or storage unavailable; Retry-After says when to retry",
}  # fmt: skip


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "in": param.where, "schema": param.schema}
    if param.required:
        out["required"] = True
    if param.description:
        out["description"] = param.description
    return out


def _content(answer: str | tuple[str, ...]) -> dict[str, Any]:
    if isinstance(answer, tuple):
        return {k: v for one in answer for k, v in _content(one).items()}
    if "/" in answer:  # a media type whose body is not JSON
        return {answer: {"schema": {"type": "string"}}}
    return {JSON: {"schema": ref(answer)}}


def _response(op: Operation, status: int, answer: str | tuple[str, ...] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _REASONS.get(status, str(status))}
    if answer is None and status >= 400:
        answer = "Error"
    if answer is not None and status not in _NO_BODY_STATUSES:
        out["content"] = _content(answer)
    if status in op.headers:
        out["headers"] = {name: {"schema": {"type": "string"}} for name in op.headers[status]}
    return out


def _request_body(op: Operation) -> dict[str, Any]:
    if op.body and "/" in op.body:  # a media type whose body is not JSON (NDJSON, text)
        return {"required": True, "content": {op.body: {"schema": {"type": "string"}}}}
    content: dict[str, Any] = {JSON: {"schema": ref(op.body or "")}}
    if op.text_plain_body:
        content["text/plain"] = {
            "schema": {
                "type": "string",
                "contentMediaType": JSON,
                "contentSchema": ref(op.body or ""),
            }
        }
    return {"required": True, "content": content}


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method + re.sub(r"[^a-z0-9]+", "_", op.path).rstrip("_"),
        "security": [{name: []} for name in op.security] + ([{}] if op.optional_security else []),
        "responses": {str(s): _response(op, s, a) for s, a in sorted(op.answers.items())},
    }
    if op.params:
        out["parameters"] = [_parameter(p) for p in op.params]
    if op.body:
        out["requestBody"] = _request_body(op)
    return out


def operations() -> list[tuple[str, Operation]]:
    """(full path, operation) for every operation the app serves."""
    return (
        [(op.path, op) for op in PUBLIC]
        + [(ADMIN_PREFIX + op.path, op) for op in ADMIN_OPERATIONS]
        + [(op.path, op) for op in STATS_OPERATIONS]
    )


@cache
def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, op in operations():
        paths.setdefault(path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Optiview Edge",
            "version": VERSION,
            "description": "Collector, hosted tag, health, the admin API and the read API."
            " Every error answers {error, detail}.",
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "OPTIVIEW_ADMIN_TOKEN",
                },
                "readToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a project read token (ovrt_…): that project's stats only",
                },
                "keySecret": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a key's secret: server-to-server, no Origin needed",
                },
            },
        },
    }
