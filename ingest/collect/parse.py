"""Parse a collector body into a frozen EventBatch, enforcing every limit (400 names the field).

Accepts the same JSON whether the tag sent it as text/plain (no preflight) or a server sent
application/json.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any, NamedTuple

import orjson

from ingest.crawlers.signed import SignedHit
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
MAX_IP = 64  # the longest IPv6 text with a zone is 45 characters or so
# A forwarded hit's signature: the request's method, authority and path, and its headers.
MAX_METHOD = 16
MAX_AUTHORITY = 255
MAX_SIGNATURE_HEADER = 4096
SIGNATURE_FIELDS = (
    "method",
    "authority",
    "path",
    "signature",
    "signature_input",
    "signature_agent",
)
EVENT_TYPES = frozenset({"pageview", "click", "custom", "conversion"})
NAMED_TYPES = frozenset({"custom", "conversion"})
# Client clocks drift and queued events arrive late; beyond these bounds a timestamp is wrong.
EARLIEST_TS = 946_684_800_000  # 2000-01-01
MAX_CLOCK_AHEAD_MS = 24 * 3600 * 1000

Scalar = str | int | float | bool | None


class IncomingEvent(NamedTuple):
    """One parsed event; immutable. A tuple rather than a frozen dataclass, whose __init__
    sets each field through object.__setattr__ at several times the cost, for every event."""

    type: str
    name: str | None
    url: str | None
    referrer: str | None
    title: str | None
    ts: int
    session_id: str | None
    props_json: str | None
    user_agent: str | None  # only honoured server-to-server, for forwarded traffic
    # Server to server only, for forwarded hits: the visitor's address (checked against the
    # crawler operators' published ranges, never stored) and the original request's Web Bot
    # Auth signature.
    ip: str | None = None
    signature: SignedHit | None = None


@dataclass(frozen=True, slots=True)
class EventBatch:
    key_id: str
    project_id: str
    property_id: int
    events: tuple[IncomingEvent, ...]


def bad(field: str, reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_FIELD, f"{field}: {reason}")


def _field(index: int, key: str) -> str:
    """The field's name in an error (events[i].key, or the key of the body when index < 0):
    built only when there is an error to report."""
    return f"events[{index}].{key}" if index >= 0 else key


def _text(
    obj: dict[str, Any],
    key: str,
    index: int,
    limit: int,
    required: bool = False,
    clean: bool = False,
) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise bad(_field(index, key), "is required")
        return None
    if not isinstance(value, str):
        raise bad(_field(index, key), f"must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise bad(_field(index, key), f"is {len(value)} characters; at most {limit}")
    return value if clean else plain_text(value, _field(index, key))


def _web_url(obj: dict[str, Any], index: int, required: bool, clean: bool) -> str | None:
    value = _text(obj, "url", index, MAX_URL, required, clean)
    if value is not None and not value.startswith(("https://", "http://")):
        raise bad(_field(index, "url"), "must be an absolute http(s) URL")
    return value


def _props(value: Any, index: int) -> str | None:
    if value is None:
        return None
    field = _field(index, "props")
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


def _ip(obj: dict[str, Any], index: int, clean: bool) -> str | None:
    value = _text(obj, "ip", index, MAX_IP, False, clean)
    if value is None:
        return None
    try:
        return str(ip_address(value.strip()))
    except ValueError:
        raise bad(
            _field(index, "ip"), f"{value[:64]!r} is not an IPv4 or IPv6 address (no port)"
        ) from None


def _signature(value: Any, index: int, clean: bool) -> SignedHit | None:
    if value is None:
        return None
    field = _field(index, "signature")
    if not isinstance(value, dict):
        raise bad(field, f"must be an object with {', '.join(SIGNATURE_FIELDS)}")
    # Other keys are ignored, as unknown fields are everywhere (docs/http-api.md).

    def part(key: str, limit: int, required: bool = True) -> str | None:
        return _text(value, key, index, limit, required, clean)

    try:
        method = part("method", MAX_METHOD)
        authority = part("authority", MAX_AUTHORITY)
        path = part("path", MAX_URL)
        signature = part("signature", MAX_SIGNATURE_HEADER)
        signature_input = part("signature_input", MAX_SIGNATURE_HEADER)
        agent = part("signature_agent", MAX_SIGNATURE_HEADER, required=False)
    except ApiError as error:  # name the field inside the object: events[i].signature.path
        raise ApiError(
            error.code, error.detail.replace(f"events[{index}].", f"{field}.", 1)
        ) from None
    assert method and authority and path and signature and signature_input
    if not path.startswith("/"):
        raise bad(f"{field}.path", "must start with / (the request's path and query)")
    return SignedHit(method.upper(), authority, path, signature, signature_input, agent)


def _timestamp(value: Any, index: int, now_ms: int) -> int:
    if value is None:
        return now_ms
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(_field(index, "ts"), "must be milliseconds since the epoch")
    # Compared before int(), which a huge float would turn into hundreds of digits (and an
    # infinity into OverflowError); NaN fails the comparison too.
    if not EARLIEST_TS <= value <= now_ms + MAX_CLOCK_AHEAD_MS:
        raise bad(
            _field(index, "ts"),
            f"{value:.15g} is not a plausible time in milliseconds since the epoch",
        )
    return value if type(value) is int else int(value)


def _event(obj: Any, index: int, now_ms: int, clean: bool) -> IncomingEvent:
    if not isinstance(obj, dict):
        raise bad(f"events[{index}]", "must be an object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise bad(_field(index, "type"), "must be one of pageview, click, custom, conversion")
    return IncomingEvent(
        type=kind,
        name=_text(obj, "name", index, MAX_NAME, kind in NAMED_TYPES, clean),
        url=_web_url(obj, index, kind == "pageview", clean),
        referrer=_text(obj, "referrer", index, MAX_URL, False, clean),
        title=_text(obj, "title", index, MAX_TITLE, False, clean),
        ts=_timestamp(obj.get("ts"), index, now_ms),
        session_id=_text(obj, "session_id", index, MAX_SESSION_ID, False, clean),
        props_json=_props(obj.get("props"), index),
        user_agent=_text(obj, "user_agent", index, MAX_USER_AGENT, False, clean),
        ip=_ip(obj, index, clean) if "ip" in obj else None,
        signature=_signature(obj.get("signature"), index, clean) if "signature" in obj else None,
    )


def _without_control(raw: bytes) -> bool:
    """True when no string of this JSON can hold a control character, so that the per-field
    check may be skipped: JSON has C0 characters in strings only as escapes (a backslash;
    orjson refuses them raw), DEL only as the byte 0x7f, and C1 only as UTF-8 0xc2 0x80-0x9f.
    Three scans of the body at memchr speed instead of a regular expression per field."""
    return b"\\" not in raw and b"\x7f" not in raw and b"\xc2" not in raw


def parse_batch(raw: bytes, now_ms: int) -> EventBatch:
    body = json_object(raw)
    clean = _without_control(raw)
    key_id = _text(body, "key_id", -1, MAX_ID, True, clean)
    project_id = _text(body, "project_id", -1, MAX_ID, True, clean)
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
        events=tuple([_event(item, i, now_ms, clean) for i, item in enumerate(events)]),
    )
