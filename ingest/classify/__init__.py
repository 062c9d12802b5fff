"""Traffic classification for ingested events: user agent, AI-assistant referral, page type.

Everything here is pure (no I/O after import, no network) and safe on garbage input.
The data it uses is vendored under `ingest/data/` (see its README).
"""

from __future__ import annotations

from ingest.classify.content import content_type, page_path
from ingest.classify.referrer import SourceMatch, detect_ai_source, referrer_host
from ingest.classify.useragent import UserAgent, classify_user_agent

__all__ = [
    "SourceMatch",
    "UserAgent",
    "classify_user_agent",
    "content_type",
    "detect_ai_source",
    "page_path",
    "referrer_host",
]
