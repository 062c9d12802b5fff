"""POST /v1/events and its OPTIONS preflight: the stages in order, and one place that turns
every failure into its answer (with CORS headers where the origin may read it).

Plain functions of a `Call` (what the request's headers, query and body say) to an `Answer`;
endpoint.py is the ASGI side that builds the one and sends the other.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Receive

from ingest.clock import now_ms
from ingest.collect.advice import fix_for
from ingest.collect.authorize import Access, bearer_secret, decide, preflight_refusal
from ingest.collect.cors import allow_headers, preflight_headers
from ingest.collect.enrich import Enriched, RequestContext, country_from_header, enrich
from ingest.collect.overlimit import rate_limited, refuse_if_over_limit
from ingest.collect.parse import EventBatch, parse_batch
from ingest.collect.rows import prepare
from ingest.collect.service import Collector
from ingest.collect.writer import Overloaded
from ingest.domains import origin_host
from ingest.errors import ApiError, ErrorCode
from ingest.http import RETRY_AFTER_SECONDS
from ingest.jsonbody import receive_limited
from ingest.metrics import EVENTS, LATENCY, REJECTIONS, REQUESTS
from ingest.storage.database import StorageUnavailable

log = logging.getLogger("optiview.collect")


@dataclass(slots=True)
class Call:
    """One request to /v1/events as the stages read it."""

    origins: list[str]  # every Origin header, in order
    headers: dict[bytes, bytes]  # the first value of each header, by lower-case name
    debug: bool  # ?debug=1
    receive: Receive  # the body, still to be read
    peer: str | None = None  # the TCP peer's address; None over a Unix socket

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes  # b"" for none
    headers: dict[str, str]
    json: bool = True  # Content-Type: application/json


def json_answer(data: Any, status: int, headers: dict[str, str]) -> Answer:
    return Answer(status, orjson.dumps(data), headers)


def single_origin(call: Call) -> str | None:
    """The Origin header; two of them are refused rather than trusting whichever comes first."""
    origins = call.origins
    if len(origins) > 1:
        raise ApiError(
            ErrorCode.INVALID_HEADER,
            f"Origin: the request has {len(origins)} Origin headers; a browser sends exactly one",
        )
    return origins[0] if origins else None


@dataclass(slots=True)
class _Attempt:
    """What is known of a request so far, for the debug answer when it is refused."""

    batch: EventBatch | None = None


async def _accept(
    call: Call, collector: Collector, received_at: int, attempt: _Attempt
) -> tuple[Access, EventBatch, list[Enriched]]:
    origin = single_origin(call)
    tuning = collector.settings.collector
    secret = bearer_secret(call.header(b"authorization"))
    raw = await receive_limited(
        call.receive,
        call.header(b"content-length") or "",
        tuning.server_body_limit if secret else tuning.browser_body_limit,
    )
    if collector.limiter.refusing():  # a flood's 429s skip the parse (see overlimit.py)
        await refuse_if_over_limit(
            collector,
            raw,
            origin=origin,
            secret=secret,
            now_ms=received_at,
        )
    batch = attempt.batch = parse_batch(raw, received_at)
    access = decide(
        batch,
        await collector.directory.grant(batch.key_id),
        origin=origin,
        secret=secret,
        now_ms=received_at,
        pepper=collector.settings.key_hash_secret,
    )
    # Tokens are taken only after authorization: a request that fails it cannot drain the
    # bucket of the key it names.
    wait_s = await collector.limiter.take(batch.key_id)
    if wait_s:
        raise rate_limited(collector, batch.key_id, wait_s, access)
    country_header = tuning.country_header
    trust = tuning.client_ip
    context = RequestContext(
        header_user_agent=call.header(b"user-agent"),
        server=access.server,
        property_domain=access.grant.property_domain,
        enabled_sources=await collector.directory.enabled_sources(batch.project_id),
        country=country_from_header(call.header(country_header.lower().encode("latin-1")))
        if country_header
        else None,
        peer=call.peer,
        forwarded=call.header(trust.header) if trust.header else None,
        trust=trust,
    )
    enriched = enrich(batch.events, context)
    prepared = prepare(enriched, batch.key_id, batch.property_id, batch.project_id, received_at)
    try:
        await collector.writer.submit(prepared)
    except (Overloaded, StorageUnavailable) as exc:
        overloaded = isinstance(exc, Overloaded)
        raise ApiError(
            ErrorCode.OVERLOADED if overloaded else ErrorCode.UNAVAILABLE,
            f"{'the collector is overloaded' if overloaded else 'storage is unavailable'}"
            f" ({exc}); nothing was stored, retry later",
            headers={"Retry-After": RETRY_AFTER_SECONDS, **_echo(access)},
        ) from None
    collector.writer.touch_key(batch.key_id, received_at)
    by_kind = Counter((e.event.type, e.user_agent.ua_class) for e in enriched)
    for (kind, ua_class), count in by_kind.items():
        EVENTS.labels(kind, ua_class).inc(count)
    return access, batch, enriched


def _echo(access: Access) -> dict[str, str]:
    return allow_headers(access.origin) if access.origin else {}


async def _error_cors(
    call: Call, collector: Collector, error: ApiError, debug: bool
) -> dict[str, str]:
    """Let the partner's page read the error, when it comes from a registered site, or from any
    page that asked with ?debug=1: the answer is the same one any client outside a browser
    gets, nothing was stored and no credentials are allowed, so the echo shows the page only
    what its own snippet (key and property ids) already lets anyone ask."""
    if "Access-Control-Allow-Origin" in error.headers:  # authorized already: nothing to add
        return {}
    origins = call.origins
    if len(origins) != 1:
        return {"Vary": "Origin"}
    origin = origins[0]
    if debug:
        return allow_headers(origin)
    if error.code is ErrorCode.ORIGIN_NOT_ALLOWED:
        return {"Vary": "Origin"}
    host = origin_host(origin)
    try:
        known = host is not None and await collector.directory.is_property_domain(host)
    except StorageUnavailable:
        known = False
    return allow_headers(origin) if known else {"Vary": "Origin"}


async def collect(call: Call, collector: Collector) -> Answer:
    started = time.perf_counter()
    received_at = now_ms()
    debug = call.debug
    accepted = 0
    closed: ApiError | None = None
    attempt = _Attempt()
    try:
        access, batch, enriched = await _accept(call, collector, received_at, attempt)
        accepted = len(enriched)
        body: dict[str, Any] = {"accepted": accepted}
        if debug:  # each event's explanation is built only when asked for
            body["debug"] = {
                "key_id": batch.key_id,
                "property_id": batch.property_id,
                "authorized_by": "secret" if access.server else f"origin {access.origin}",
                "committed": True,
                "events": [{"index": i, **e.explain()} for i, e in enumerate(enriched)],
            }
        answer = json_answer(body, 202, {"Vary": "Origin", **_echo(access)})
    except ApiError as error:
        if error.code is ErrorCode.CLIENT_CLOSED:
            closed = error
        answer = await _refuse(call, collector, error, debug, attempt)
    except StorageUnavailable as exc:  # a key or source lookup could not read the database
        unavailable = ApiError(
            ErrorCode.UNAVAILABLE,
            f"storage is unavailable ({exc}); nothing was stored, retry later",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
        answer = await _refuse(call, collector, unavailable, debug, attempt)
    except Exception:
        log.exception("collector failed on a request")
        internal = ApiError(
            ErrorCode.INTERNAL, "internal error; nothing from this request was stored"
        )
        answer = await _refuse(call, collector, internal, debug, attempt)
    latency_s = time.perf_counter() - started
    if closed is not None:
        # Nobody is left to answer: not a server error, and no part of the alerts' error rate
        # or latency (the rollups count answers only).
        log.info("collector request abandoned: %s", closed.detail)
        REQUESTS.labels(ErrorCode.CLIENT_CLOSED.value).inc()
        return answer
    REQUESTS.labels(str(answer.status)).inc()
    LATENCY.observe(latency_s)
    collector.rollups.record(now_ms(), answer.status, latency_s * 1000, accepted)
    return answer


async def _refuse(
    call: Call, collector: Collector, error: ApiError, debug: bool, attempt: _Attempt
) -> Answer:
    REJECTIONS.labels(error.code.value).inc()
    headers = {**error.headers, **(await _error_cors(call, collector, error, debug))}
    body: dict[str, Any] = {"error": error.code.value, "detail": error.detail}
    if debug:
        body["debug"] = {
            "committed": False,
            "events": f"none stored: every event in this request was refused ({error.code.value})",
        }
        fix = fix_for(error.code, call.origins[0] if call.origins else None, attempt.batch)
        if fix:
            body["debug"]["fix"] = fix
    return json_answer(body, error.status, headers)


async def preflight(call: Call, collector: Collector) -> Answer:
    try:
        origin = single_origin(call)
    except ApiError as error:
        REJECTIONS.labels(error.code.value).inc()
        return json_answer(
            {"error": error.code.value, "detail": error.detail}, error.status, {"Vary": "Origin"}
        )
    host = origin_host(origin) if origin else None
    site = await collector.directory.site(host) if host else None
    if origin and site and site.active:
        return Answer(204, b"", preflight_headers(origin), json=False)
    refusal = preflight_refusal(origin, host, site)
    REJECTIONS.labels(refusal.code.value).inc()
    return json_answer(
        {"error": refusal.code.value, "detail": refusal.detail}, refusal.status, {"Vary": "Origin"}
    )
