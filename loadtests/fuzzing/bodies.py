"""Hypothesis strategies for collector requests: mostly-valid batches for a real key, with
fields mutated into wrong types, hostile text, huge numbers, deep nesting and broken bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ingest.collect import parse

# Past every limit the parser knows, and past what SQLite and orjson can hold.
HUGE_NUMBERS = (
    0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1,
    1e308, -1e308, 1e-308, 0.5, float("inf"), float("-inf"), float("nan"),
)  # fmt: skip
HOSTILE_TEXT = (
    "", " ", "\x00", "a\x00b", "\x1b[31m", "\u202e", "\ufeff", "\ud800", "\udfff",
    # digits that str.isdigit() or int() take but are not ASCII
    "\u00b9", "\u00b2", "\u0661", "\u0663\u0664", "\u0661\u0662\u0663", "\U0001d7d9",
    "1_000", " 1", "1 ", "-1", "+1", "0x10", "1e3", "NaN", "null", "true",
    "javascript:alert(1)", "https://", "http://[::1", "http://a b", "//evil.example/",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """What a real, provisioned key needs to get past authorization."""

    key_id: str
    project_id: str
    property_id: int
    domain: str
    secret: str

    @property
    def origin(self) -> str:
        return f"https://{self.domain}"


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]
    debug: bool


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(HUGE_NUMBERS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    # lone surrogates and control characters are what naive decoders trip on
    st.text(st.characters(codec=None, categories=("Cs", "Cc", "Co", "Cn")), max_size=8),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# Printable text: what a real page sends (control characters belong to the mutations).
_printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"))


def _text(limit: int, minimum: int = 0) -> st.SearchStrategy[str]:
    return st.text(_printable, min_size=minimum, max_size=min(limit, 40))


def _valid_event(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    path = st.text(st.characters(codec="ascii", categories=("L", "N")), max_size=20)
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(sorted(parse.EVENT_TYPES)),
            "url": path.map(lambda p: f"{target.origin}/{p}"),
            "name": _text(parse.MAX_NAME, 1).filter(str.strip),
        },
        optional={
            "referrer": st.sampled_from(("https://chatgpt.com/", "https://www.google.com/", "")),
            "title": _text(parse.MAX_TITLE),
            "ts": st.integers(parse.EARLIEST_TS, 1_700_000_000_000),
            "session_id": _text(parse.MAX_SESSION_ID),
            "props": st.dictionaries(
                _text(parse.MAX_PROP_KEY),
                st.one_of(_text(20), st.integers(-(2**53), 2**53), st.booleans(), st.none()),
                max_size=5,
            ),
            "user_agent": _text(parse.MAX_USER_AGENT),
        },
    )


@st.composite
def _mutated(draw: st.DrawFn, value: dict[str, Any]) -> Any:
    """The same object with a few fields replaced by junk, dropped, or added."""
    out = dict(value)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from([*out, "extra", "__proto__"]))
        action = draw(st.sampled_from(("replace", "replace", "drop")))
        if action == "drop":
            out.pop(field, None)
        else:
            out[field] = draw(junk)
    return out


@st.composite
def batches(draw: st.DrawFn, target: Target) -> Any:
    events = draw(st.lists(_valid_event(target), min_size=1, max_size=4))
    if draw(st.integers(0, 4)) == 0:
        events = [draw(_mutated(e)) for e in events]
    if draw(st.integers(0, 30)) == 0:
        events = events * (parse.MAX_EVENTS // len(events) + 1)  # one over the limit, or so
    property_id: Any = target.property_id
    if draw(st.booleans()):
        property_id = str(property_id)
    batch: Any = {
        "key_id": target.key_id,
        "project_id": target.project_id,
        "property_id": property_id,
        "events": events,
    }
    if draw(st.integers(0, 4)) == 0:
        batch = draw(_mutated(batch))
    if draw(st.integers(0, 40)) == 0:
        batch = draw(junk)
    return batch


def nested(depth: int) -> bytes:
    return b'{"events":' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def encoded(draw: st.DrawFn, value: Any) -> bytes:
    """JSON text of `value`, sometimes broken: invalid UTF-8, truncated, padded or nested."""
    ascii_only = draw(st.booleans())
    text = json.dumps(value, ensure_ascii=ascii_only)  # NaN and big ints pass, as attackers send
    raw = text.encode("utf-8", "surrogatepass")
    damage = draw(st.integers(0, 20))
    if damage == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == 1:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif damage == 2:
        raw = nested(draw(st.sampled_from((10, 600, 1100, 5000))))
    elif damage == 3:
        raw = draw(st.sampled_from((b"", b" ", b"null", b"[]", b"\xef\xbb\xbf{}", b'{"a":1}' * 2)))
    return raw


@st.composite
def requests(draw: st.DrawFn, target: Target) -> Request:
    body = draw(encoded(draw(batches(target))))
    headers = {
        "Content-Type": draw(
            st.sampled_from(
                (
                    "text/plain;charset=UTF-8",
                    "application/json",
                    "application/x-www-form-urlencoded",
                )
            )
        )
    }
    caller = draw(
        st.sampled_from(("browser",) * 3 + ("server",) * 2 + ("foreign", "anonymous", "bad"))
    )
    if caller == "browser":
        headers["Origin"] = draw(
            st.sampled_from(
                (target.origin, f"https://www.{target.domain}", f"{target.origin}:8443")
            )
        )
    elif caller == "server":
        headers["Authorization"] = f"Bearer {target.secret}"
    elif caller == "foreign":
        headers["Origin"] = draw(st.sampled_from(("https://evil.example", "null", "https://x:0")))
    elif caller == "bad":
        headers["Authorization"] = draw(
            st.sampled_from(("Bearer", "Bearer  ", "Basic a", "bearer x"))
        )
    return Request(body=body, headers=headers, debug=draw(st.integers(0, 4)) == 0)
