"""A log request's body: gzip inflated within the bound, lines split (pure)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from ingest.errors import ApiError
from ingest.logs.body import MAX_LINES, decode, gunzip, lines_of


def test_gunzip_reads_every_member() -> None:
    data = gzip.compress(b"a\n") + gzip.compress(b"b\n")
    assert gunzip(data) == b"a\nb\n"


def test_a_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(ApiError) as refused:
        gunzip(bomb, limit=1024 * 1024)
    assert refused.value.status == 413


def test_exactly_the_limit_passes() -> None:
    assert len(gunzip(gzip.compress(b"x" * 4096), limit=4096)) == 4096


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"plain text", "not valid gzip"),
        (gzip.compress(b"a" * 1000, mtime=0)[:20], "truncated"),
        (zlib.compress(b"raw zlib"), "not valid gzip"),
    ],
    ids=["plain", "truncated", "zlib"],
)
def test_bad_gzip_is_a_400(data: bytes, detail: str) -> None:
    with pytest.raises(ApiError) as refused:
        gunzip(data)
    assert refused.value.status == 400
    assert detail in refused.value.detail


def test_other_encodings_are_refused() -> None:
    with pytest.raises(ApiError) as refused:
        decode(b"x", "br")
    assert refused.value.status == 415
    assert decode(b"x", None) == b"x"
    assert decode(gzip.compress(b"x"), "GZIP") == b"x"


def test_lines() -> None:
    assert lines_of(b"a\r\nb\n\xff\n") == ["a", "b", "\udcff"]
    assert lines_of(b'[{"a": 1}, {"b": 2}]', json_array=True) == ['{"a":1}', '{"b":2}']
    assert lines_of(b'[{"a": 1}]') == ['[{"a": 1}]']  # NDJSON formats: one line
    with pytest.raises(ApiError) as refused:
        lines_of(b"x\n" * (MAX_LINES + 1))
    assert refused.value.status == 413
