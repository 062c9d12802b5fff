"""What of a log is stored: pure decisions on one hit, each a skip reason or None (kept).

- Only the property's host (its domain or www.); a format without hosts is the property's.
- Only GET and HEAD: a form post or an API call is no page fetch.
- The crawler funnel's files (robots.txt, llms.txt, llms-full.txt, sitemap.xml and any `.md`
  page) are kept whatever their status: a crawler's fetch of a missing llms.txt is still a
  step of its funnel.
- Otherwise assets (scripts, styles, images, fonts, media) are skipped: pages fetch them.
- 3xx is skipped (the fetch of its target is the hit), 4xx and 5xx too.
- People are counted by the tag: a human hit is skipped unless humans are included.
- A hit the tag already has (a collector pageview of the same path and user agent within
  TAG_WINDOW_MS) is skipped, so a page seen by both is counted once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Final

from ingest.classify.useragent import UA_HUMAN
from ingest.logs.hit import (
    ASSET,
    ERROR_STATUS,
    HUMAN,
    NOT_GET,
    NOT_THIS_HOST,
    REDIRECT,
    SEEN_BY_TAG,
    Hit,
)

PAGE_METHODS: Final = frozenset({"GET", "HEAD"})
FUNNEL_FILES: Final = frozenset({"/robots.txt", "/llms.txt", "/llms-full.txt", "/sitemap.xml"})
ASSET_SUFFIXES: Final = (
    ".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg",
    ".ico", ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".ogg",
    ".wav", ".wasm", ".zip", ".gz",
)  # fmt: skip
# The tag stamps a pageview with the browser's clock, a log with the server's: a minute either
# way covers the two clocks and the page's load.
TAG_WINDOW_MS: Final = 60_000


@lru_cache(maxsize=256)
def on_host(host: str, domain: str) -> bool:
    """The host (any case, a port or a trailing dot) is the domain or www. of it."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower().rstrip(".")
    return name == domain or name == f"www.{domain}"


@lru_cache(maxsize=4096)
def _path_kind(path: str) -> str:
    """'funnel', 'asset' or 'page', from the path alone (lower-cased, no query)."""
    lowered = path.lower()
    if lowered in FUNNEL_FILES or lowered.endswith(".md"):
        return "funnel"
    if lowered.endswith(ASSET_SUFFIXES):
        return "asset"
    return "page"


def path_of(target: str) -> str:
    return target.split("?", 1)[0].split("#", 1)[0] or "/"


def request_skip(hit: Hit, domain: str) -> str | None:
    """Why this request is no hit of the property's, or None: its host, method, path, status."""
    if hit.host is not None and not on_host(hit.host, domain):
        return NOT_THIS_HOST
    if hit.method not in PAGE_METHODS:
        return NOT_GET
    kind = _path_kind(path_of(hit.target))
    if kind == "funnel":
        return None
    if kind == "asset":
        return ASSET
    status = hit.status
    if status is not None and status >= 300 and status != 304:  # 304: the page, cached
        return REDIRECT if status < 400 else ERROR_STATUS
    return None


def class_skip(ua_class: str, include_humans: bool) -> str | None:
    return HUMAN if ua_class == UA_HUMAN and not include_humans else None


TagViews = Mapping[tuple[str, str | None], Sequence[int]]  # (path, user agent) -> sorted ts


def tag_skip(path: str, user_agent: str | None, ts: int, tag_views: TagViews) -> str | None:
    """SEEN_BY_TAG when the tag has a pageview of this path by this user agent near `ts`."""
    times = tag_views.get((path, user_agent))
    if not times:
        return None
    at = bisect_left(times, ts - TAG_WINDOW_MS)
    return SEEN_BY_TAG if at < len(times) and times[at] <= ts + TAG_WINDOW_MS else None
