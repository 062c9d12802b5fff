"""Label an event's User-Agent: human, bot, AI crawler or AI agent; browser, OS and device.

Order of checks (first hit wins):

1. Empty or missing UA -> bot.
2. A token from the vendored `robots.json` (ai-robots-txt/ai.robots.txt), matched
   case-insensitively and word-bounded (no letter or digit right before or after it),
   -> `ai_agent` when the crawler fetches on a user's behalf, else `ai_crawler`.
3. ua-parser's device family "Spider" -> bot.
4. `_TOOL_RE`: HTTP libraries, headless automation, and a standalone bot/crawler/spider
   word -> bot.
5. Neither browser nor OS recognised by ua-parser -> bot (no real browser is unknown to it).
6. Otherwise human, with browser/OS/device from ua-parser and `_device_of`.

`browser`, `browser_version` and `os` are filled for humans only; every other class has
device "bot". `reason` names the rule (and the token) that decided, for ?debug=1. Pure
function of its input, cached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final

import ua_parser

UA_HUMAN: Final = "human"
UA_BOT: Final = "bot"
UA_AI_CRAWLER: Final = "ai_crawler"
UA_AI_AGENT: Final = "ai_agent"

KIND_TRAINING: Final = "training"
KIND_SEARCH: Final = "search"
KIND_USER: Final = "user"

MAX_UA_CHARS = 1024
"""Longer UAs are cut before matching, to bound the work per event."""


@dataclass(frozen=True)
class UserAgent:
    ua_class: str  # "human" | "bot" | "ai_crawler" | "ai_agent"
    browser: str | None  # e.g. "Chrome", "Mobile Safari"
    browser_version: str | None  # major version, e.g. "131"
    os: str | None  # e.g. "Windows", "iOS", "Mac OS X", "Android"
    device: str  # "desktop" | "mobile" | "tablet" | "bot"
    crawler: str | None  # the matched token as spelled in robots.json, e.g. "GPTBot"
    crawler_operator: str | None  # e.g. "OpenAI"
    crawler_kind: str | None  # "training" | "search" | "user"
    reason: str  # which rule decided, e.g. "robots.json token GPTBot", "HeadlessChrome"


@dataclass(frozen=True)
class Crawler:
    """One robots.json entry, reduced to what we label events with."""

    token: str
    operator: str | None
    kind: str
    name_and_version: bool = False  # robots.json "has_name_and_version": match "Token/<v>" only


# Where robots.json's prose is ambiguous or wrong for our purpose, keyed by lower-case token.
_KIND_OVERRIDES: Final[dict[str, str]] = {
    "gptbot": KIND_TRAINING,
    "oai-searchbot": KIND_SEARCH,
    "chatgpt-user": KIND_USER,
    "claudebot": KIND_TRAINING,
    "claude-searchbot": KIND_SEARCH,
    "claude-user": KIND_USER,
    "perplexitybot": KIND_SEARCH,
    "perplexity-user": KIND_USER,
    "google-extended": KIND_TRAINING,
    "applebot-extended": KIND_TRAINING,
    "ccbot": KIND_TRAINING,
    "bytespider": KIND_TRAINING,
    "meta-externalagent": KIND_TRAINING,
    "amazonbot": KIND_SEARCH,
    "mistralai-user": KIND_USER,
    "duckassistbot": KIND_SEARCH,
    "meta-webindexer": KIND_SEARCH,  # filed under "AI Assistants", but it is Meta AI's indexer
}

# robots.json says "Unclear at this time." for these operators.
_OPERATOR_OVERRIDES: Final[dict[str, str]] = {
    "applebot": "Apple",
    "duckassistbot": "DuckDuckGo",
}

# Kind from robots.json's prose: the `function` field first (it mostly holds a category
# such as "AI Search Crawlers", "AI Assistants", "AI Data Scrapers"), then `description`;
# within a field the first pattern that matches wins. Word-initial, so "research" is not
# "search" and "constraint" is not "train".
_KIND_TEXT: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\btrain|\bscraper|\bdataset", re.IGNORECASE), KIND_TRAINING),
    (re.compile(r"\bsearch|\bindex", re.IGNORECASE), KIND_SEARCH),
    (
        re.compile(r"on behalf of|\buser|\bprompt|\bassistant|\bagent", re.IGNORECASE),
        KIND_USER,
    ),
)
_DEFAULT_KIND = KIND_TRAINING  # an AI scraper that says nothing more is collecting data
# Boilerplate that would otherwise match ("knownagents.com/agents/...").
_NOISE = re.compile(r"https?://\S+|\S*knownagents\.com\S*", re.IGNORECASE)

_MARKDOWN_LINK = re.compile(r"^\[([^\]]+)\]\(")
_OPERATOR_CUT = re.compile(r",| that | to | used | who |\(|\.(?:\s|$)|\u2026")
_UNKNOWN_OPERATOR = re.compile(r"^(unclear|unknown|no information|anyone)", re.IGNORECASE)
# A token that is another token plus a version ("MistralAI-User/1.0", "Brightbot 1.0").
_VERSIONED = re.compile(r"^(.+?)[ /]v?\d[\d.]*$")

_BOUNDARY_BEFORE = r"(?<![A-Za-z0-9])"
_BOUNDARY_AFTER = r"(?![A-Za-z0-9])"


def crawler_kind(function: str, description: str) -> str:
    """training / search / user from robots.json's prose (see `_KIND_TEXT`)."""
    if function.strip().lower().startswith(("undocumented", "unclear")):
        function = ""  # "Undocumented AI Agents" says nothing about what it does
    for text in (_NOISE.sub(" ", function), _NOISE.sub(" ", description)):
        for pattern, kind in _KIND_TEXT:
            if pattern.search(text):
                return kind
    return _DEFAULT_KIND


def clean_operator(raw: str) -> str | None:
    """A short operator name from robots.json's free text, or None when it says nothing."""
    text = raw.strip()
    if link := _MARKDOWN_LINK.match(text):
        text = link.group(1)
    if not text or _UNKNOWN_OPERATOR.match(text) or text.startswith(("http://", "https://")):
        return None
    text = _OPERATOR_CUT.split(text, maxsplit=1)[0].strip()
    return text if 0 < len(text) <= 40 else None


def _field(entry: dict[str, object], name: str) -> str:
    value = entry.get(name)
    return value if isinstance(value, str) else ""


def load_crawlers() -> dict[str, Crawler]:
    """Every robots.json token (as spelled there) -> Crawler, in file order."""
    raw = (resources.files("ingest") / "data" / "robots.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("robots.json: expected an object of token -> details")
    crawlers: dict[str, Crawler] = {}
    for token, entry in data.items():
        if not isinstance(token, str) or not token.strip() or not isinstance(entry, dict):
            raise ValueError(f"robots.json: malformed entry {token!r}")
        key = token.lower()
        kind = _KIND_OVERRIDES.get(key) or crawler_kind(
            _field(entry, "function"), _field(entry, "description")
        )
        operator = _OPERATOR_OVERRIDES.get(key) or clean_operator(_field(entry, "operator"))
        name_and_version = entry.get("has_name_and_version") is True
        crawlers[token] = Crawler(token, operator, kind, name_and_version)
    return crawlers


def build_matcher(crawlers: dict[str, Crawler]) -> re.Pattern[str]:
    """ONE case-insensitive alternation of every token, longest first, word-bounded."""
    lower = {token.lower() for token in crawlers}
    patterns: dict[str, str] = {}
    for crawler in crawlers.values():
        versioned = _VERSIONED.match(crawler.token)
        if versioned and versioned.group(1).lower() in lower:
            continue  # the bare token already matches "Token/1.0"
        # "has_name_and_version" tokens (e.g. "Code") only count when followed by "/<version>".
        after = r"(?=/)" if crawler.name_and_version else _BOUNDARY_AFTER
        patterns.setdefault(crawler.token.lower(), re.escape(crawler.token) + after)
    # Longest first, so "Claude-SearchBot" is tried before a shorter token at the same spot.
    ordered = sorted(patterns.items(), key=lambda item: (-len(item[0]), item[0]))
    alternation = "|".join(pattern for _, pattern in ordered)
    # ASCII: Unicode case folding would let U+017F (long s) match "s", U+212A (Kelvin) "k".
    return re.compile(f"{_BOUNDARY_BEFORE}(?:{alternation})", re.IGNORECASE | re.ASCII)


def _by_lower(crawlers: dict[str, Crawler]) -> dict[str, list[Crawler]]:
    index: dict[str, list[Crawler]] = {}
    for crawler in crawlers.values():
        index.setdefault(crawler.token.lower(), []).append(crawler)
    return index


CRAWLERS: Final = load_crawlers()
_CRAWLERS_BY_LOWER: Final = _by_lower(CRAWLERS)
_AI_TOKEN_RE: Final = build_matcher(CRAWLERS)

# Non-browser clients ua-parser does not mark as "Spider": HTTP libraries, headless
# automation, and a bot/crawler/spider word standing alone ("(compatible; bot)"); the
# word must not touch a letter or digit, so "CUBOT X30" phones stay human.
_TOOL_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:curl|wget|python-requests|python-httpx|python-urllib|aiohttp"
    r"|go-http-client|okhttp|node-fetch|axios|headlesschrome|phantomjs"
    r"|bot|crawler|spider)(?![A-Za-z0-9])|java/)",
    re.IGNORECASE | re.ASCII,
)

_TABLET_RE: Final = re.compile(r"\b(?:iPad|Tablet|Kindle|Silk|PlayBook)\b")
_PHONE_RE: Final = re.compile(r"\b(?:iPhone|iPod|Mobile|Windows Phone|Opera Mini)\b")


def _bot(reason: str, ua_class: str = UA_BOT, crawler: Crawler | None = None) -> UserAgent:
    return UserAgent(
        ua_class=ua_class,
        browser=None,
        browser_version=None,
        os=None,
        device="bot",
        crawler=crawler.token if crawler else None,
        crawler_operator=crawler.operator if crawler else None,
        crawler_kind=crawler.kind if crawler else None,
        reason=reason,
    )


def match_crawler(ua: str) -> Crawler | None:
    """The robots.json entry whose token appears word-bounded in `ua`, if any."""
    found = _AI_TOKEN_RE.search(ua)
    if found is None:
        return None
    candidates = _CRAWLERS_BY_LOWER.get(found.group(0).lower())
    if not candidates:
        return None
    # Tokens listed twice in different case ("meta-externalagent", "Meta-ExternalAgent"):
    # prefer the spelling the UA uses, else the first one listed.
    exact = [c for c in candidates if c.token == found.group(0)]
    return (exact or candidates)[0]


def _device_of(ua: str, os_family: str | None, device_family: str | None) -> str:
    if device_family == "iPad" or _TABLET_RE.search(ua):
        return "tablet"
    if os_family == "Android" or "Android" in ua:
        return "mobile" if "Mobile" in ua else "tablet"
    if device_family in ("iPhone", "iPod") or os_family == "iOS" or _PHONE_RE.search(ua):
        return "mobile"
    return "desktop"


def _known(family: str | None) -> str | None:
    return family if family and family != "Other" else None


def classify_user_agent(ua: str | None) -> UserAgent:
    """Classify one User-Agent header value (see the module docstring for the rules).

    Cached: the value is trimmed and cut to MAX_UA_CHARS, then looked up in an LRU cache
    of 10,000 entries (cutting first keeps an oversized header from bloating the cache).
    """
    if not isinstance(ua, str):
        return _classify("")
    return _classify(ua.strip()[:MAX_UA_CHARS])


@lru_cache(maxsize=10_000)
def _classify(ua: str) -> UserAgent:
    if not ua:
        return _bot("no User-Agent")
    crawler = match_crawler(ua)
    if crawler is not None:
        kind = UA_AI_AGENT if crawler.kind == KIND_USER else UA_AI_CRAWLER
        return _bot(f"robots.json token {crawler.token}", kind, crawler)
    parsed = ua_parser.parse(ua)
    device_family = parsed.device.family if parsed.device else None
    if device_family == "Spider":
        return _bot("ua-parser: device family Spider")
    if tool := _TOOL_RE.search(ua):
        return _bot(f"{tool.group(0)} in the User-Agent")
    browser = _known(parsed.user_agent.family if parsed.user_agent else None)
    os_family = _known(parsed.os.family if parsed.os else None)
    if browser is None and os_family is None:
        return _bot("ua-parser knows neither its browser nor its OS")
    return UserAgent(
        ua_class=UA_HUMAN,
        browser=browser,
        browser_version=parsed.user_agent.major if browser and parsed.user_agent else None,
        os=os_family,
        device=_device_of(ua, os_family, device_family),
        crawler=None,
        crawler_operator=None,
        crawler_kind=None,
        reason=f"ua-parser: {browser or 'an unknown browser'} on {os_family or 'an unknown OS'}",
    )
