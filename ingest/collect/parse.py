"""Parse a collector body into a frozen EventBatch, enforcing every limit (400 names the field).

Accepts the same JSON whether the tag sent it as text/plain (no preflight) or a server sent
application/json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ingest.errors import ApiError, ErrorCode
from ingest.fields import plain_text, positive_id
from ingest.jsonbody import json_object

BROWSER_BODY_LIMIT = 64 * 1024
SERVER_BODY_LIMIT = 1024 * 1024
MAX_EVENTS = 50
MAX_URL = 2048
MAX_TITLE = 512
MAX_NAME = 128
MAX_PROPS = 30
MAX_PROP_KEY = 64
MAX_PROP_VALUE = 512
MAX_ID = 64
MAX_SESSION_ID = 128
MAX_USER_AGENT = 1024
EVENT_TYPES = frozenset({"pageview", "click", "custom", "conversion"})
NAMED_TYPES = frozenset({"custom", "conversion"})
# Client clocks drift and queued events arrive late; beyond these bounds a timestamp is wrong.
EARLIEST_TS = 946_684_800_000  # 2000-01-01
MAX_CLOCK_AHEAD_MS = 24 * 3600 * 1000

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    type: str
    name: str | None
    url: str | None
    referrer: str | None
    title: str | None
    ts: int
    session_id: str | None
    props_json: str | None
    user_agent: str | None  # only honoured server-to-server, for forwarded traffic


@dataclass(frozen=True, slots=True)
class EventBatch:
    key_id: str
    project_id: str
    property_id: int
    events: tuple[IncomingEvent, ...]


def bad(field: str, reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_FIELD, f"{field}: {reason}")


def _text(
    obj: dict[str, Any], key: str, field: str, limit: int, required: bool = False
) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise bad(field, "is required")
        return None
    if not isinstance(value, str):
        raise bad(field, f"must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise bad(field, f"is {len(value)} characters; at most {limit}")
    return plain_text(value, field)


def _web_url(obj: dict[str, Any], key: str, field: str, required: bool) -> str | None:
    value = _text(obj, key, field, MAX_URL, required)
    if value is not None and not value.startswith(("https://", "http://")):
        raise bad(field, "must be an absolute http(s) URL")
    return value


def _props(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(field, "must be an object of scalar values")
    if len(value) > MAX_PROPS:
        raise bad(field, f"has {len(value)} keys; at most {MAX_PROPS}")
    for key, item in value.items():
        if len(key) > MAX_PROP_KEY:
            raise bad(f"{field}.{key[:20]}…", f"key is longer than {MAX_PROP_KEY} characters")
        plain_text(key, f"{field} key {key!r}")
        if isinstance(item, str):
            if len(item) > MAX_PROP_VALUE:
                raise bad(f"{field}.{key}", f"is longer than {MAX_PROP_VALUE} characters")
            plain_text(item, f"{field}.{key}")
        elif not (item is None or isinstance(item, (int, float, bool))):
            raise bad(f"{field}.{key}", "must be a string, number, boolean or null")
    return orjson.dumps(value).decode() if value else None


def _timestamp(value: Any, field: str, now_ms: int) -> int:
    if value is None:
        return now_ms
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(field, "must be milliseconds since the epoch")
    # Compared before int(), which a huge float would turn into hundreds of digits (and an
    # infinity into OverflowError); NaN fails the comparison too.
    if not EARLIEST_TS <= value <= now_ms + MAX_CLOCK_AHEAD_MS:
        raise bad(field, f"{value:.15g} is not a plausible time in milliseconds since the epoch")
    return int(value)


def _event(obj: Any, index: int, now_ms: int) -> IncomingEvent:
    prefix = f"events[{index}]"
    if not isinstance(obj, dict):
        raise bad(prefix, "must be an object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise bad(f"{prefix}.type", "must be one of pageview, click, custom, conversion")
    return IncomingEvent(
        type=kind,
        name=_text(obj, "name", f"{prefix}.name", MAX_NAME, required=kind in NAMED_TYPES),
        url=_web_url(obj, "url", f"{prefix}.url", required=kind == "pageview"),
        referrer=_text(obj, "referrer", f"{prefix}.referrer", MAX_URL),
        title=_text(obj, "title", f"{prefix}.title", MAX_TITLE),
        ts=_timestamp(obj.get("ts"), f"{prefix}.ts", now_ms),
        session_id=_text(obj, "session_id", f"{prefix}.session_id", MAX_SESSION_ID),
        props_json=_props(obj.get("props"), f"{prefix}.props"),
        user_agent=_text(obj, "user_agent", f"{prefix}.user_agent", MAX_USER_AGENT),
    )


def parse_batch(raw: bytes, now_ms: int) -> EventBatch:
    body = json_object(raw)
    key_id = _text(body, "key_id", "key_id", MAX_ID, required=True)
    project_id = _text(body, "project_id", "project_id", MAX_ID, required=True)
    # The tag reads data-property-id from an attribute, so a digit string is accepted too.
    property_id = positive_id(body.get("property_id"), "property_id")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise bad("events", f"must be a list of 1 to {MAX_EVENTS} events")
    if len(events) > MAX_EVENTS:
        raise bad("events", f"has {len(events)} events; at most {MAX_EVENTS} per request")
    assert key_id is not None and project_id is not None
    return EventBatch(
        key_id=key_id,
        project_id=project_id,
        property_id=property_id,
        events=tuple(_event(item, i, now_ms) for i, item in enumerate(events)),
    )
