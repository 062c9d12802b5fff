"""POST /v1/logs: a CDN's or server's access log lines, sent with the key's secret.

Authorized as the collector authorizes a server (the key's secret; a browser's Origin is
refused), limited by the key's rate limit, then triaged (triage.py), checked and committed
(store.py). 202 after COMMIT with what was accepted and why the rest was skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingest.clock import now_ms
from ingest.collect.authorize import bearer_secret, decide
from ingest.collect.overlimit import rate_limited
from ingest.collect.parse import MAX_ID, EventBatch
from ingest.collect.writer import Overloaded
from ingest.errors import ApiError, ErrorCode
from ingest.fields import positive_id
from ingest.http import RETRY_AFTER_SECONDS, state
from ingest.jsonbody import receive_limited
from ingest.logs.body import LOG_BODY_LIMIT, decode, lines_of
from ingest.logs.formats import FORMATS, HTTP_FORMATS
from ingest.logs.metrics import LOG_LINES, LOG_REQUESTS
from ingest.logs.store import DigestConflict, Stored, Target, store
from ingest.logs.triage import Triage, Triager
from ingest.metrics import EVENTS
from ingest.storage.database import StorageUnavailable

log = logging.getLogger("optiview.logs")

PATH = "/v1/logs"


def _query_text(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ApiError(ErrorCode.INVALID_FIELD, f"{name}: is required (a query parameter)")
    if len(value) > MAX_ID:
        raise ApiError(ErrorCode.INVALID_FIELD, f"{name}: is longer than {MAX_ID} characters")
    return value


def _format(request: Request) -> str:
    name = request.query_params.get("format")
    if name not in HTTP_FORMATS:
        raise ApiError(
            ErrorCode.INVALID_FIELD,
            f"format: must be one of {', '.join(HTTP_FORMATS)}, not {name!r}"
            " (nginx and apache files go through `optiview logs import`)",
        )
    return name


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def _fates(triage: Triage, stored: Stored) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"line": line, "fate": "skipped", "reason": reason}
        for line, reason in (triage.fates or []) + stored.fates
    ]
    lines += [
        {"line": candidate.line, **enriched.explain(), "log_digest": candidate.digest}
        for candidate, enriched in stored.enriched
    ]
    return sorted(lines, key=lambda fate: int(fate["line"]))


async def _accept(request: Request, debug: bool) -> dict[str, Any]:
    if "origin" in request.headers:
        raise ApiError(
            ErrorCode.ORIGIN_NOT_ALLOWED,
            "POST /v1/logs is server to server: send Authorization: Bearer <key secret>"
            " and no Origin header (a browser may not send logs)",
        )
    secret = bearer_secret(request.headers.get("authorization"))
    if secret is None:
        raise ApiError(
            ErrorCode.UNAUTHORIZED, "Authorization: Bearer <key secret> is required for logs"
        )
    key_id = _query_text(request, "key_id")
    project_id = _query_text(request, "project_id")
    property_id = positive_id(request.query_params.get("property_id"), "property_id")
    name = _format(request)
    include_humans = request.query_params.get("humans") == "1"
    app = state(request)
    collector = app.collector
    received_at = now_ms()
    access = decide(
        EventBatch(key_id, project_id, property_id, ()),
        await collector.directory.grant(key_id),
        origin=None,
        secret=secret,
        now_ms=received_at,
        pepper=collector.settings.key_hash_secret,
    )
    wait_s = await collector.limiter.take(key_id)
    if wait_s:
        raise rate_limited(collector, key_id, wait_s, access)
    raw = await receive_limited(
        request.receive, request.headers.get("content-length", ""), LOG_BODY_LIMIT
    )
    data = decode(raw, request.headers.get("content-encoding"))
    lines = lines_of(data, json_array=name == "vercel")
    if not lines:
        raise ApiError(ErrorCode.INVALID_FIELD, "body: no lines; send one log entry per line")
    grant = access.grant
    triager = Triager(FORMATS[name], grant.property_domain, include_humans, received_at, debug)
    # Off the event loop: a large batch's parse would hold every other request of the worker.
    triage = await asyncio.to_thread(triager.run, lines)
    target = Target(
        property_id,
        project_id,
        key_id,
        grant.property_domain,
        await collector.directory.enabled_sources(project_id),
    )
    try:
        stored = await store(
            app.db, collector.writer, target, triage.candidates, received_at, debug
        )
    except (Overloaded, StorageUnavailable) as exc:
        overloaded = isinstance(exc, Overloaded)
        raise ApiError(
            ErrorCode.OVERLOADED if overloaded else ErrorCode.UNAVAILABLE,
            f"{'the collector is overloaded' if overloaded else 'storage is unavailable'}"
            f" ({exc}); send the lines again later (those stored meanwhile are skipped)",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None
    except DigestConflict:
        raise ApiError(
            ErrorCode.CONFLICT,
            "some of these lines are being stored by another request right now; nothing of"
            " this one was stored: send it again (lines already stored are then skipped)",
        ) from None
    collector.writer.touch_key(key_id, received_at)
    skipped: Counter[str] = triage.skipped + stored.skipped
    _count(stored, skipped)
    body: dict[str, Any] = {"accepted": len(stored.enriched), "skipped": dict(skipped)}
    if debug:
        body["debug"] = {
            "key_id": key_id,
            "property_id": property_id,
            "format": name,
            "humans": include_humans,
            "committed": True,
            "lines": _fates(triage, stored),
        }
    return body


def _count(stored: Stored, skipped: Counter[str]) -> None:
    if stored.enriched:
        LOG_LINES.labels("stored").inc(len(stored.enriched))
    for reason, count in skipped.items():
        LOG_LINES.labels(reason).inc(count)
    classes = Counter(enriched.user_agent.ua_class for _, enriched in stored.enriched)
    for ua_class, count in classes.items():
        EVENTS.labels("pageview", ua_class).inc(count)


async def receive_logs(request: Request) -> Response:
    debug = request.query_params.get("debug") == "1"
    try:
        answer = _json(await _accept(request, debug), 202)
    except ApiError as error:
        body: dict[str, Any] = {"error": error.code.value, "detail": error.detail}
        if debug:
            body["debug"] = {"committed": False, "lines": "none stored: the request was refused"}
        answer = _json(body, error.status, error.headers)
    LOG_REQUESTS.labels(str(answer.status_code)).inc()
    return answer
