"""A log request's body: read within its limit, gunzipped within the same (a small gzip that
inflates past it is a 413 as soon as it does, never inflated whole), split into lines."""

from __future__ import annotations

import zlib
from typing import Final

import orjson

from ingest.errors import ApiError, ErrorCode

# Logpush sends batches of up to 5 MB (max_upload_bytes' least setting) unless told otherwise;
# the same bound holds for the body as sent and as inflated.
LOG_BODY_LIMIT: Final = 8 * 1024 * 1024
MAX_LINES: Final = 50_000
_GZIP_WINDOW = 16 + zlib.MAX_WBITS  # a gzip header and trailer, not raw deflate
_CHUNK = 64 * 1024


def too_large(what: str) -> ApiError:
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, what)


def gunzip(data: bytes, limit: int = LOG_BODY_LIMIT) -> bytes:
    """Every member of a gzip stream, inflated a piece at a time: past `limit` bytes, a 413."""
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(_GZIP_WINDOW)
            pending = rest
            while True:  # until the member ends, or the input does with nothing left to give
                piece = inflater.decompress(pending, _CHUNK)
                size += len(piece)
                if size > limit:
                    raise too_large(f"the gzip body inflates past {limit} bytes")
                out.append(piece)
                pending = inflater.unconsumed_tail
                if inflater.eof or (not pending and not piece):
                    break
            if not inflater.eof:
                raise ApiError(ErrorCode.MALFORMED_REQUEST, "the gzip body is truncated")
            rest = inflater.unused_data
            if not rest.strip(b"\x00"):  # a member's padding, or the end
                return b"".join(out)
    except zlib.error as exc:
        raise ApiError(ErrorCode.MALFORMED_REQUEST, f"the body is not valid gzip: {exc}") from None


def decode(raw: bytes, encoding: str | None) -> bytes:
    value = (encoding or "identity").strip().lower()
    if value == "gzip":
        return gunzip(raw)
    if value == "identity":
        return raw
    raise ApiError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Encoding {encoding}: send gzip, or no Content-Encoding",
    )


def lines_of(data: bytes, json_array: bool = False) -> list[str]:
    """The body's lines (NDJSON). With `json_array`, a body that is one JSON array (Vercel's
    `json` delivery) is taken as one line per element."""
    if json_array and data.lstrip()[:1] == b"[":
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ApiError(ErrorCode.INVALID_JSON, f"the body is not a JSON array: {exc}") from None
        lines = [orjson.dumps(item).decode() for item in items]
    else:
        # Invalid UTF-8 is kept as escapes (its line then fails to parse, counted), not refused
        # for the whole batch.
        lines = data.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) > MAX_LINES:
        raise too_large(f"the body has {len(lines)} lines; at most {MAX_LINES} per request")
    return lines
