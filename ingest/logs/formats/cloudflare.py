"""Cloudflare Logpush, dataset `http_requests`, one JSON object per line. Read: ClientIP,
ClientRequestHost, ClientRequestMethod, ClientRequestURI (path and query),
ClientRequestUserAgent, ClientRequestReferer, EdgeResponseStatus and EdgeStartTimestamp in any
of Logpush's timestamp formats (RFC 3339, unix seconds, ms or ns)."""

from __future__ import annotations

from ingest.logs.formats.jsonline import load, status, text
from ingest.logs.formats.times import any_time
from ingest.logs.hit import Hit


def parse(line: str) -> Hit | None:
    obj = load(line)
    if obj is None:
        return None
    ts = any_time(obj.get("EdgeStartTimestamp"))
    target = text(obj, "ClientRequestURI")
    if ts is None or target is None:
        return None
    return Hit(
        ts,
        text(obj, "ClientIP"),
        text(obj, "ClientRequestMethod") or "GET",
        text(obj, "ClientRequestHost"),
        target,
        status(obj.get("EdgeResponseStatus")),
        text(obj, "ClientRequestUserAgent"),
        text(obj, "ClientRequestReferer"),
    )
