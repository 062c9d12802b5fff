"""Console forms: urlencoded bodies only (no uploads), small, parsed by the standard library."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from ingest.jsonbody import read_limited

MAX_FORM_BYTES = 16 * 1024


async def read_form(request: Request) -> dict[str, list[str]]:
    """Every field of the posted form with all its values (a checkbox group repeats a name).
    Another content type reads as an empty form, which then fails its CSRF check."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_limited(request, MAX_FORM_BYTES)
    if kind != "application/x-www-form-urlencoded":
        return {}
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


def first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None
