"""The CORS decision for the collector (pure): a browser may send events for a property only
from that property's own site."""

from __future__ import annotations

from ingest.domains import origin_host

PREFLIGHT_MAX_AGE_S = 7200  # Chromium caps preflight caching at 2 hours anyway


def origin_allowed(origin: str | None, property_domain: str) -> bool:
    """Origin host, lower-cased, www. stripped, port ignored, must equal the property domain."""
    return origin is not None and origin_host(origin) == property_domain


def allow_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        **allow_headers(origin),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
    }
