"""Where each operator publishes how to check its crawlers, and which crawler tokens each
list speaks for.

A source is an IP range list (kind "ranges": JSON of {"creationTime", "prefixes":
[{"ipv4Prefix"|"ipv6Prefix": CIDR}]}) or a Web Bot Auth key directory (kind "keys": a JWKS).
The key directories are keydirectory.py's (refresh.py lists both kinds). Vendored copies live
in data/ranges/ and data/keys/ beside this module; `optiview crawlers refresh` fetches fresh
ones into the data folder (OPTIVIEW_CRAWLER_DATA).

Known crawlers (whose hits get a `crawler_verified`): every robots.json token the user agent
classifier matches, plus the search crawlers below that are not in robots.json but whose
operators publish ranges (Googlebot, bingbot, DuckDuckBot and their kin). A token whose
operator publishes no list is known but uncheckable ("none").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ingest.classify.useragent import KIND_SEARCH, KIND_USER

KIND_RANGES: Final = "ranges"
KIND_KEYS: Final = "keys"


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # also the file's name in data/ranges or data/keys, without ".json"
    operator: str
    kind: str  # KIND_RANGES | KIND_KEYS
    url: str


RANGE_SOURCES: Final[tuple[Source, ...]] = (
    Source("openai-gptbot", "OpenAI", KIND_RANGES, "https://openai.com/gptbot.json"),
    Source("openai-searchbot", "OpenAI", KIND_RANGES, "https://openai.com/searchbot.json"),
    Source("openai-chatgpt-user", "OpenAI", KIND_RANGES, "https://openai.com/chatgpt-user.json"),
    Source(
        "perplexity-perplexitybot",
        "Perplexity",
        KIND_RANGES,
        "https://www.perplexity.ai/perplexitybot.json",
    ),
    Source(
        "perplexity-user",
        "Perplexity",
        KIND_RANGES,
        "https://www.perplexity.ai/perplexity-user.json",
    ),
    Source(
        "google-googlebot",
        "Google",
        KIND_RANGES,
        "https://developers.google.com/static/search/apis/ipranges/googlebot.json",
    ),
    Source(
        "google-special-crawlers",
        "Google",
        KIND_RANGES,
        "https://developers.google.com/static/search/apis/ipranges/special-crawlers.json",
    ),
    Source(
        "google-user-triggered-fetchers",
        "Google",
        KIND_RANGES,
        "https://developers.google.com/static/search/apis/ipranges/user-triggered-fetchers.json",
    ),
    Source(
        "google-user-triggered-fetchers-google",
        "Google",
        KIND_RANGES,
        "https://developers.google.com/static/search/apis/ipranges/user-triggered-fetchers-google.json",
    ),
    Source(
        "google-user-triggered-agents",
        "Google",
        KIND_RANGES,
        "https://developers.google.com/static/search/apis/ipranges/user-triggered-agents.json",
    ),
    Source("bing-bingbot", "Microsoft", KIND_RANGES, "https://www.bing.com/toolbox/bingbot.json"),
    Source(
        "apple-applebot", "Apple", KIND_RANGES, "https://search.developer.apple.com/applebot.json"
    ),
    Source(
        "duckduckgo-duckduckbot",
        "DuckDuckGo",
        KIND_RANGES,
        "https://duckduckgo.com/duckduckbot.json",
    ),
    Source(
        "commoncrawl-ccbot", "Common Crawl", KIND_RANGES, "https://index.commoncrawl.org/ccbot.json"
    ),
)

RANGE_SOURCES_BY_NAME: Final[dict[str, Source]] = {s.name: s for s in RANGE_SOURCES}

_GOOGLE_USER = ("google-user-triggered-fetchers", "google-user-triggered-fetchers-google")
_GOOGLE_SPECIAL = ("google-special-crawlers",)

# Lower-case crawler token -> the range lists that speak for it. A token absent here has no
# published list: its hits are "none" unless a Web Bot Auth signature settles them.
TOKEN_LISTS: Final[dict[str, tuple[str, ...]]] = {
    "gptbot": ("openai-gptbot",),
    "oai-searchbot": ("openai-searchbot",),
    "chatgpt-user": ("openai-chatgpt-user",),
    "perplexitybot": ("perplexity-perplexitybot",),
    "perplexity-user": ("perplexity-user",),
    "ccbot": ("commoncrawl-ccbot",),
    "applebot": ("apple-applebot",),
    "googlebot": ("google-googlebot",),
    "googlebot-image": ("google-googlebot",),
    "googlebot-news": ("google-googlebot",),
    "googlebot-video": ("google-googlebot",),
    "googleother": _GOOGLE_SPECIAL,
    "googleother-image": _GOOGLE_SPECIAL,
    "googleother-video": _GOOGLE_SPECIAL,
    "google-cloudvertexbot": _GOOGLE_SPECIAL,
    "google-inspectiontool": _GOOGLE_SPECIAL,
    "storebot-google": _GOOGLE_SPECIAL,
    "adsbot-google": _GOOGLE_SPECIAL,
    "mediapartners-google": _GOOGLE_SPECIAL,
    "feedfetcher-google": _GOOGLE_USER,
    "google-read-aloud": _GOOGLE_USER,
    "google-site-verification": _GOOGLE_USER,
    "google-agent": ("google-user-triggered-agents",),
    "bingbot": ("bing-bingbot",),
    "duckduckbot": ("duckduckgo-duckduckbot",),
}


@dataclass(frozen=True, slots=True)
class SearchCrawler:
    """A crawler with a published list that robots.json (AI crawlers) does not name."""

    token: str
    operator: str
    kind: str


# Matched in user agents the classifier left as plain bots (no robots.json token).
SEARCH_CRAWLERS: Final[tuple[SearchCrawler, ...]] = (
    SearchCrawler("Googlebot", "Google", KIND_SEARCH),
    SearchCrawler("Googlebot-Image", "Google", KIND_SEARCH),
    SearchCrawler("Googlebot-News", "Google", KIND_SEARCH),
    SearchCrawler("Googlebot-Video", "Google", KIND_SEARCH),
    SearchCrawler("Storebot-Google", "Google", KIND_SEARCH),
    SearchCrawler("Google-InspectionTool", "Google", KIND_SEARCH),
    SearchCrawler("AdsBot-Google", "Google", KIND_SEARCH),
    SearchCrawler("Mediapartners-Google", "Google", KIND_SEARCH),
    SearchCrawler("FeedFetcher-Google", "Google", KIND_USER),
    SearchCrawler("Google-Read-Aloud", "Google", KIND_USER),
    SearchCrawler("Google-Site-Verification", "Google", KIND_USER),
    SearchCrawler("bingbot", "Microsoft", KIND_SEARCH),
    SearchCrawler("DuckDuckBot", "DuckDuckGo", KIND_SEARCH),
)
_SEARCH_BY_LOWER: Final = {crawler.token.lower(): crawler for crawler in SEARCH_CRAWLERS}
# Longest first, word-bounded as the classifier matches robots.json tokens.
_SEARCH_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    + "|".join(re.escape(t) for t in sorted(_SEARCH_BY_LOWER, key=lambda t: (-len(t), t)))
    + r")(?![A-Za-z0-9])",
    re.IGNORECASE | re.ASCII,
)


# Agents that send a browser's User-Agent and say who they are by their Web Bot Auth signature
# alone: a valid signature by the operator's key (lower-case name) claims its robots.json token.
SIGNED_AGENTS: Final[dict[str, str]] = {
    "openai": "ChatGPT Agent",
    "google": "Google-Agent",
}


def search_crawler(user_agent: str) -> SearchCrawler | None:
    """The search crawler a plain bot's user agent claims to be, if any."""
    found = _SEARCH_RE.search(user_agent)
    return None if found is None else _SEARCH_BY_LOWER[found.group(0).lower()]


def lists_for(token: str) -> tuple[str, ...]:
    """The range lists that speak for a crawler token (any case); () when none is published."""
    return TOKEN_LISTS.get(token.lower(), ())


__all__ = [
    "KIND_KEYS",
    "KIND_RANGES",
    "RANGE_SOURCES",
    "RANGE_SOURCES_BY_NAME",
    "SEARCH_CRAWLERS",
    "SIGNED_AGENTS",
    "TOKEN_LISTS",
    "SearchCrawler",
    "Source",
    "lists_for",
    "search_crawler",
]
