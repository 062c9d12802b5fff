"""The event's `ip` and `signature` fields (server-to-server forwarded hits): parsed and
checked at the edge, every bad value a 400 naming the field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ingest.collect.parse import parse_batch
from ingest.crawlers.signed import SignedHit
from ingest.errors import ApiError

NOW = 1_800_000_000_000
SIGNATURE: dict[str, Any] = {
    "method": "get",
    "authority": "www.example.com",
    "path": "/pricing?x=1",
    "signature": "sig1=:AAAA:",
    "signature_input": 'sig1=("@authority");created=1;keyid="k";tag="web-bot-auth"',
    "signature_agent": '"https://chatgpt.com"',
}


def parse(**fields: Any) -> Any:
    event = {"type": "pageview", "url": "https://www.example.com/", "ts": NOW - 5, **fields}
    raw = orjson.dumps(
        {"key_id": "key_abc", "project_id": "prj_abc", "property_id": 7, "events": [event]}
    )
    return parse_batch(raw, NOW).events[0]


def refused(**fields: Any) -> str:
    with pytest.raises(ApiError) as caught:
        parse(**fields)
    assert caught.value.status == 400
    return caught.value.detail


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("20.171.206.9", "20.171.206.9"),
        (" 20.171.206.9 ", "20.171.206.9"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:20.171.206.9", "::ffff:14ab:ce09"),
        (None, None),
        ("", None),
    ],
)
def test_ip_is_parsed(given: str | None, stored: str | None) -> None:
    assert parse(ip=given).ip == stored


def test_no_ip_and_no_signature_by_default() -> None:
    event = parse()
    assert (event.ip, event.signature) == (None, None)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("203.0.113.9:443", "events[0].ip: '203.0.113.9:443' is not an IPv4 or IPv6 address"),
        ("example.com", "events[0].ip: 'example.com' is not"),
        ("999.1.1.1", "events[0].ip"),
        (42, "events[0].ip: must be a string"),
        ("1" * 65, "events[0].ip: is 65 characters; at most 64"),
    ],
)
def test_a_bad_ip_is_refused(value: Any, says: str) -> None:
    assert says in refused(ip=value)


def test_signature_is_parsed() -> None:
    hit = parse(signature=SIGNATURE).signature
    assert hit == SignedHit(
        method="GET",
        authority="www.example.com",
        path="/pricing?x=1",
        signature="sig1=:AAAA:",
        signature_input=SIGNATURE["signature_input"],
        signature_agent='"https://chatgpt.com"',
    )
    assert parse(signature={**SIGNATURE, "extra": 1}).signature == hit  # ignored, as elsewhere
    without_agent = {k: v for k, v in SIGNATURE.items() if k != "signature_agent"}
    assert parse(signature=without_agent).signature.signature_agent is None


@pytest.mark.parametrize(
    ("signature", "says"),
    [
        ("sig1=:AAAA:", "events[0].signature: must be an object"),
        (
            {**SIGNATURE, "signature_input": None},
            "events[0].signature.signature_input: is required",
        ),
        ({**SIGNATURE, "authority": ""}, "events[0].signature.authority: is required"),
        ({**SIGNATURE, "path": "pricing"}, "events[0].signature.path: must start with /"),
        ({**SIGNATURE, "method": 1}, "events[0].signature.method: must be a string"),
        ({**SIGNATURE, "signature": "x" * 4097}, "events[0].signature.signature: is 4097"),
        ({**SIGNATURE, "path": "/a\x00b"}, "events[0].signature.path"),
    ],
)
def test_a_bad_signature_is_refused(signature: Any, says: str) -> None:
    assert says in refused(signature=signature)
