"""Vercel log drains (JSON or NDJSON delivery), one log entry per line. A request's entries
carry a `proxy` object: timestamp (ms), method, host, path (with query), userAgent (a list of
strings), referer, statusCode and clientIp. Entries without one (build output, a function's
own lines with no request) are about no request. Every entry of one request carries its
`requestId`, which is therefore the hit's identity: a request is counted once however many
entries it logged."""

from __future__ import annotations

from typing import Any

from ingest.logs.formats.jsonline import load, status, text
from ingest.logs.formats.times import any_time
from ingest.logs.hit import NOT_A_REQUEST, Hit


def _user_agent(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str) and item), None)
    return value if isinstance(value, str) and value else None


def parse(line: str) -> Hit | str | None:
    obj = load(line)
    if obj is None:
        return None
    proxy = obj.get("proxy")
    if not isinstance(proxy, dict):
        return NOT_A_REQUEST
    ts = any_time(proxy.get("timestamp", obj.get("timestamp")))
    target = text(proxy, "path")
    if ts is None or target is None:
        return None
    request_id = text(obj, "requestId")
    return Hit(
        ts,
        text(proxy, "clientIp"),
        text(proxy, "method") or "GET",
        text(proxy, "host") or text(obj, "host"),
        target,
        status(proxy.get("statusCode", obj.get("statusCode"))),
        _user_agent(proxy.get("userAgent")),
        text(proxy, "referer"),
        f"vercel:{request_id}" if request_id else None,
    )
