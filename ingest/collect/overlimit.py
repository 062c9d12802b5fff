"""The 429 of a key over its rate limit, and the cheap way to it while a key floods.

A flooding key's requests are refused before their events are parsed: while some key has
been refused lately, the route reads the body's key id and peeks at its bucket; when it is
empty and the key's cached grant authorizes this request the way it authorized the last
accepted one (same origin rule, same secret), the answer is 429 at once, its CORS echo taken
from that decision rather than from another directory lookup.

Why a peek and never a take before authorization: key ids are public (every page with the
tag shows one), so a token taken for an unauthorized request would let anyone drain a
site's bucket, from a page on another origin or with a made-up secret, and rate-limit the
site's real visitors. Only the route's take after `decide` spends tokens; this check only
reads them, and whatever it is not sure of (an unknown key, another origin, a wrong
secret, a body it cannot read) goes the full way and gets the answer it always got (401,
403, 400). The one difference: an authorized request of a key over its limit gets 429
even if its events are malformed, which the full way would have answered 400.

While the check is on, every request's body is decoded once more; that is a tenth or less of
what the parse of its events costs, and the check is on only within a second of a take
being refused (`RateLimiter.refusing`). With shared buckets (ratelimit_redis.py) the peek
reads this process's mirror of the last shared answer: no round trip to Redis.
"""

from __future__ import annotations

from typing import Any

import orjson

from ingest.collect.authorize import Access, Grant, decide
from ingest.collect.cors import allow_headers
from ingest.collect.parse import EventBatch
from ingest.collect.service import Collector
from ingest.errors import ApiError, ErrorCode


def rate_limited(collector: Collector, key_id: str, wait_s: int, access: Access) -> ApiError:
    headers = {"Retry-After": str(wait_s)}
    if access.origin:
        headers.update(allow_headers(access.origin))
    return ApiError(
        ErrorCode.RATE_LIMITED,
        f"key {key_id} is over its rate limit of {collector.limiter.rate:g} requests per second",
        headers=headers,
    )


async def refuse_if_over_limit(
    collector: Collector, raw: bytes, *, origin: str | None, secret: str | None, now_ms: int
) -> None:
    """Raise the 429 for a request whose key's bucket is empty, when the key's grant
    authorizes it; return (and let the full way answer) in every other case."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    if not isinstance(body, dict):
        return
    key_id = body.get("key_id")
    if not isinstance(key_id, str):
        return
    wait_s = collector.limiter.peek(key_id)
    if not wait_s:
        return
    grant = await collector.directory.grant(key_id)
    project_id = body.get("project_id")
    if grant is None or not isinstance(project_id, str):
        return
    if not _same_property(body.get("property_id"), grant):
        return
    try:
        access = decide(
            EventBatch(key_id, project_id, grant.property_id, events=()),
            grant,
            origin=origin,
            secret=secret,
            now_ms=now_ms,
            pepper=collector.settings.key_hash_secret,
        )
    except ApiError:
        return
    raise rate_limited(collector, key_id, wait_s, access)


def _same_property(value: Any, grant: Grant) -> bool:
    """Exactly the grant's property, as a JSON integer or its plain digits (a stricter match
    than the parser's, so that nothing the parser would refuse is taken for it)."""
    if type(value) is int:
        return value == grant.property_id
    return isinstance(value, str) and value == str(grant.property_id)
