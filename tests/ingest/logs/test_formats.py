"""Each format's parser: lines to hits, table-driven (pure)."""

from __future__ import annotations

import pytest

from ingest.logs.formats import FORMATS
from ingest.logs.hit import NOT_A_REQUEST, Hit

UA = "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)"
T0 = 1_764_583_200_000  # 2025-12-01T10:00:00Z
AT = "1.2.3.4 - - [01/Dec/2025:10:00:00 +0000]"
EMPTY = Hit(T0, None, "GET", None, "/", None, None, None)

COMBINED = [
    (
        f'{AT} "GET /a?b=1 HTTP/1.1" 200 5 "https://r.example/" "{UA}"',
        Hit(T0, "1.2.3.4", "GET", None, "/a?b=1", 200, UA, "https://r.example/"),
    ),
    (  # another zone: 11:00 at +0100 is 10:00 UTC
        f'1.2.3.4 - bob [01/Dec/2025:11:00:00 +0100] "HEAD / HTTP/2.0" 304 - "-" "{UA}"',
        Hit(T0, "1.2.3.4", "HEAD", None, "/", 304, UA, None),
    ),
    (  # common: no referrer, no user agent
        '::1 - - [01/Dec/2025:10:00:00 -0000] "GET /x HTTP/1.0" 404 0',
        Hit(T0, "::1", "GET", None, "/x", 404, None, None),
    ),
    (  # a proxy's absolute target: its host is the hit's
        f'{AT} "GET https://Shop.example/p HTTP/1.1" 200 1 "-" "{UA}" "extra"',
        Hit(T0, "1.2.3.4", "GET", "Shop.example", "/p", 200, UA, None),
    ),
    (  # escaped quotes inside the user agent
        r'1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a \"quoted\" agent"',
        Hit(T0, "1.2.3.4", "GET", None, "/", 200, r"a \"quoted\" agent", None),
    ),
    ('1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "OPTIONS * HTTP/1.1" 200 0 "-" "x"', None),
    ('1.2.3.4 - - [31/Foo/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "x"', None),
    ('1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"', None),
    ("", None),
    ("just text", None),
]


@pytest.mark.parametrize(("line", "expected"), COMBINED)
def test_combined(line: str, expected: Hit | None) -> None:
    assert FORMATS["nginx"](line) == expected
    assert FORMATS["apache"](line) == expected


CF = (
    '{"ClientIP":"1.2.3.4","ClientRequestHost":"shop.example","ClientRequestMethod":"GET",'
    '"ClientRequestURI":"/a?b=1","ClientRequestUserAgent":"%s","ClientRequestReferer":"",'
    '"EdgeResponseStatus":200,"EdgeStartTimestamp":%s}'
)
CF_HIT = Hit(T0, "1.2.3.4", "GET", "shop.example", "/a?b=1", 200, UA, None)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ('"2025-12-01T10:00:00Z"', CF_HIT),  # rfc3339
        ('"2025-12-01T11:00:00+01:00"', CF_HIT),
        ("1764583200", CF_HIT),  # unix
        ("1764583200000", CF_HIT),  # unixmilli
        ("1764583200000000000", CF_HIT),  # unixnano
        ('"1764583200000000000"', CF_HIT),
        ('"yesterday"', None),
        ("null", None),
        ("true", None),
    ],
)
def test_cloudflare_timestamps(stamp: str, expected: Hit | None) -> None:
    assert FORMATS["cloudflare"](CF % (UA, stamp)) == expected


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"EdgeStartTimestamp": 1764583200}',  # no URI
        '{"ClientRequestURI": "/"}',  # no time
    ],
)
def test_cloudflare_unparseable(line: str) -> None:
    assert FORMATS["cloudflare"](line) is None


def test_vercel() -> None:
    line = (
        '{"id":"1","requestId":"req1","host":"x.vercel.app","timestamp":1,"source":"edge",'
        '"proxy":{"timestamp":1764583200000,"method":"GET","host":"shop.example",'
        '"path":"/p?q=1","userAgent":["UA"],"referer":"https://r.example/","statusCode":200,'
        '"clientIp":"1.2.3.4"}}'
    ).replace('"UA"', f'"{UA}"')
    assert FORMATS["vercel"](line) == Hit(
        T0, "1.2.3.4", "GET", "shop.example", "/p?q=1", 200, UA, "https://r.example/",
        "vercel:req1",
    )  # fmt: skip
    assert FORMATS["vercel"]('{"id":"b","message":"built","source":"build"}') == NOT_A_REQUEST
    assert FORMATS["vercel"]('{"proxy":{"path":"/"}}') is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"ts":1764583200000,"ip":"1.2.3.4","method":"GET","host":"shop.example",'
            '"path":"/a","status":200,"user_agent":"ua","referrer":"r"}',
            Hit(T0, "1.2.3.4", "GET", "shop.example", "/a", 200, "ua", "r"),
        ),
        (
            '{"ts":"2025-12-01T10:00:00Z","path":"/"}',
            Hit(T0, None, "GET", None, "/", None, None, None),
        ),
        (
            '{"ts":1764583200,"path":"/","status":"200"}',
            Hit(T0, None, "GET", None, "/", None, None, None),
        ),
        ('{"path":"/"}', None),
        ('{"ts":1764583200}', None),
    ],
)
def test_generic(line: str, expected: Hit | None) -> None:
    assert FORMATS["generic"](line) == expected
