"""Who runs an AI crawler, from the vendored robots.json (the collector's own table, pure).

Events keep the crawler token as robots.json spells it (`GPTBot`); the operator is not stored,
so a corrected operator in the vendored data shows on old hits too.
"""

from __future__ import annotations

from typing import Final

from ingest.classify.useragent import CRAWLERS, Crawler

# Tokens listed twice in different case ("meta-externalagent"): the first one listed wins,
# as in the collector's matcher.
_BY_LOWER: Final[dict[str, Crawler]] = {}
for _crawler in CRAWLERS.values():
    _BY_LOWER.setdefault(_crawler.token.lower(), _crawler)


def crawler(token: str | None) -> Crawler | None:
    if not token:
        return None
    return CRAWLERS.get(token) or _BY_LOWER.get(token.lower())


def operator_of(token: str | None) -> str | None:
    """The operator's short name (`GPTBot` -> `OpenAI`), None when robots.json does not say."""
    found = crawler(token)
    return found.operator if found else None
