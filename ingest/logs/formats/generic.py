"""Optiview's own NDJSON shape, for any source without a format here: one object per line,

    {"ts": 1764583200000, "ip": "203.0.113.7", "method": "GET", "host": "example.com",
     "path": "/pricing?x=1", "status": 200, "user_agent": "...", "referrer": "..."}

`ts` (ms, s or ns since the epoch, or RFC 3339) and `path` are required; `method` defaults to
GET; `host` to the property's domain."""

from __future__ import annotations

from ingest.logs.formats.jsonline import load, status, text
from ingest.logs.formats.times import any_time
from ingest.logs.hit import Hit


def parse(line: str) -> Hit | None:
    obj = load(line)
    if obj is None:
        return None
    ts = any_time(obj.get("ts"))
    target = text(obj, "path")
    if ts is None or target is None:
        return None
    return Hit(
        ts,
        text(obj, "ip"),
        text(obj, "method") or "GET",
        text(obj, "host"),
        target,
        status(obj.get("status")),
        text(obj, "user_agent"),
        text(obj, "referrer"),
    )
