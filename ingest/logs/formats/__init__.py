"""The log formats by name: each a pure function of one line to a Hit, a skip reason, or
None (unparseable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ingest.logs.formats import cloudflare, combined, generic, vercel
from ingest.logs.hit import Hit

Parse = Callable[[str], "Hit | str | None"]

FORMATS: Final[dict[str, Parse]] = {
    "nginx": combined.parse,
    "apache": combined.parse,
    "cloudflare": cloudflare.parse,
    "vercel": vercel.parse,
    "generic": generic.parse,
}
Peek = Callable[[str], "str | None"]
# Formats whose lines give their user agent for less than a full parse: most lines are
# people's, skipped as soon as their user agent is known to be a browser's.
PEEKS: Final[dict[str, Peek]] = {
    "nginx": combined.user_agent_of,
    "apache": combined.user_agent_of,
}
# What POST /v1/logs takes: NDJSON that a CDN or a shipper sends (files go through the CLI).
HTTP_FORMATS: Final = ("cloudflare", "vercel", "generic")
