import gzip

import brotli
import httpx
import pytest

from tag.serving import choose_encoding, not_modified
from tests.conftest import Server


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", "identity"),
        ("*", "br"),
        ("*;q=0, identity", "identity"),
        ("br;q=0.5, gzip;q=0.9", "br"),  # any accepted br wins: it is the smaller
        ("GZIP", "gzip"),
        ("deflate", "identity"),
        ("gzip;q=bogus", "identity"),
    ],
)
def test_choose_encoding(header: str | None, chosen: str):
    assert choose_encoding(header) == chosen


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [
        (None, False),
        ('"abc-gz"', True),
        ('"x", "abc-gz"', True),
        ("*", True),
        ('W/"abc-gz"', False),
        ('"abc-br"', False),
    ],
)
def test_not_modified(if_none_match: str | None, expected: bool):
    assert not_modified(if_none_match, '"abc-gz"') is expected


def get(server: Server, query: str = "", **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/tag.js{query}", headers=headers, timeout=10)


def test_tag_is_served_with_cache_headers_and_cross_origin(server: Server):
    response = get(server, **{"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300, stale-while-revalidate=86400"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers
    assert response.text.startswith("(function(")


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_precompressed_variants(server: Server, encoding: str):
    plain = get(server, **{"Accept-Encoding": "identity"}).content
    response = httpx.get(
        f"{server.url}/v1/tag.js", headers={"Accept-Encoding": encoding}, timeout=10
    )
    assert response.headers["content-encoding"] == encoding
    # httpx decodes gzip and br itself; check the decoded script and the wire size
    assert response.content == plain
    wire = int(response.headers["content-length"])
    assert wire < len(plain)
    decode = gzip.decompress if encoding == "gzip" else brotli.decompress
    with httpx.stream(
        "GET", f"{server.url}/v1/tag.js", headers={"Accept-Encoding": encoding}
    ) as stream:
        assert decode(b"".join(stream.iter_raw())) == plain


def test_etag_revalidation_answers_304(server: Server):
    first = get(server, **{"Accept-Encoding": "gzip"})
    etag = first.headers["etag"]
    assert not etag.startswith("W/")
    again = get(server, **{"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"].startswith("public")
    other = get(server, **{"Accept-Encoding": "br", "If-None-Match": etag})
    assert other.status_code == 200  # a different representation, a different ETag


def test_debug_build(server: Server):
    production = get(server, **{"Accept-Encoding": "identity"})
    debug = get(server, "?debug=1", **{"Accept-Encoding": "identity"})
    assert debug.status_code == 200
    assert debug.headers["cache-control"] == "no-cache"
    assert debug.headers["etag"] != production.headers["etag"]
    assert "[optiview]" in debug.text and "console.log" in debug.text
    assert "console.log" not in production.text


def test_head_answers_headers_only(server: Server):
    response = httpx.head(f"{server.url}/v1/tag.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["etag"]
    assert response.content == b""
