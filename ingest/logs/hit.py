"""One request read from an access log, and the closed set of reasons a line is not stored."""

from __future__ import annotations

from typing import Final, NamedTuple


class Hit(NamedTuple):
    """A request as the log line says it (a tuple: one is built for every line)."""

    ts: int  # ms since the epoch
    ip: str | None
    method: str
    host: str | None  # None when the format has none (nginx/apache combined): the property's
    target: str  # path and query, as requested
    status: int | None
    user_agent: str | None
    referrer: str | None
    # What makes the request itself unique, when the format says (Vercel's requestId: a
    # request's every log entry carries it); else the raw line is its identity.
    identity: str | None = None


# Why a line is not stored: the keys of `skipped` in answers and summaries.
UNPARSEABLE: Final = "unparseable"  # not a line of the format, or a field out of bounds
NOT_A_REQUEST: Final = "not_a_request"  # a line of the format about no request (a build log)
NOT_THIS_HOST: Final = "not_this_host"  # another host than the property's domain (or www.)
NOT_GET: Final = "not_get"  # neither GET nor HEAD: form posts and API calls are no page fetch
ASSET: Final = "asset"  # scripts, styles, images, fonts: fetched by pages, not pages
REDIRECT: Final = "redirect"  # 3xx: the fetch of its target is the hit
ERROR_STATUS: Final = "error_status"  # 4xx and 5xx (except on the crawler funnel's files)
HUMAN: Final = "human"  # people are counted by the tag (the switch stores them too)
SEEN_BY_TAG: Final = "seen_by_tag"  # the tag already has this pageview
DUPLICATE: Final = "duplicate"  # this very line was stored before

SKIP_REASONS: Final = (
    UNPARSEABLE,
    NOT_A_REQUEST,
    NOT_THIS_HOST,
    NOT_GET,
    ASSET,
    REDIRECT,
    ERROR_STATUS,
    HUMAN,
    SEEN_BY_TAG,
    DUPLICATE,
)
