"""Enrichment: an ordered list of named steps run over each parsed event.

Each step fills part of a draft and returns the label it is counted under in
`optiview_enrich_steps_total{step, result}`. Nothing is dropped here: bots, AI crawlers and
events whose URL is on another site are stored and labelled; what was ignored or flagged is
said in `notes`, which ?debug=1 shows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ingest.classify.content import content_type, page_path
from ingest.classify.referrer import detect_ai_source, referrer_host
from ingest.classify.useragent import UA_BOT, UserAgent, classify_user_agent
from ingest.collect.parse import IncomingEvent
from ingest.crawlers import ranges, signatures
from ingest.crawlers.client_ip import PEER_ONLY, ProxyTrust, client_ip, is_public
from ingest.crawlers.sources import SIGNED_AGENTS, lists_for, search_crawler
from ingest.crawlers.verify import FAILED, VALID, Claim, Signature, verdict
from ingest.metrics import ENRICH_STEPS

_COUNTRY = re.compile(r"^[A-Z]{2}$")
# Codes CDNs send for "unknown" (XX) and Tor (T1): not countries.
_NOT_COUNTRIES = frozenset({"XX", "T1"})
# Pure functions of their strings, and a site's events repeat the same pages and referrers:
# a page's URL is split and its referrer matched once, not three times for every event.
# Bounded: at most 4,096 entries each (URLs of at most 2 KB, so a few MB per cache however
# varied the URLs; a miss costs what the call did before).
CACHED_STRINGS = 4096
_page_path = lru_cache(maxsize=CACHED_STRINGS)(page_path)
_content_type = lru_cache(maxsize=CACHED_STRINGS)(content_type)
_referrer_host = lru_cache(maxsize=CACHED_STRINGS)(referrer_host)
UNCLASSIFIED = classify_user_agent(None)


@dataclass(frozen=True, slots=True)
class RequestContext:
    header_user_agent: str | None
    server: bool
    property_domain: str
    enabled_sources: frozenset[str]
    country: str | None
    # The client's address, worked out only for hits that claim a crawler: the TCP peer, or
    # the trusted proxies' header (crawlers/client_ip.py). Never stored.
    peer: str | None = None
    forwarded: str | None = None  # the value of trust.header, when the request has one
    trust: ProxyTrust = PEER_ONLY


# The steps fill an Enriched in order, without a draft copied into it afterwards. Not frozen:
# a frozen dataclass's __init__ sets each field through object.__setattr__ at several times a
# plain one's cost, and one is built for every event. Nothing changes it once enrich() is done.
@dataclass(slots=True)
class Enriched:
    event: IncomingEvent
    user_agent_text: str | None = None
    user_agent: UserAgent = UNCLASSIFIED  # until the first step classifies the event's
    path: str | None = None
    content_type: str | None = None
    referrer_host: str | None = None
    ai_source: str | None = None
    ai_via: str | None = None
    ai_note: str | None = None
    country: str | None = None
    off_site: bool = False  # the event's URL is not on the property's site: no content row
    # events.crawler_verified: web_bot_auth | ip_range | none | failed; None: no crawler claimed
    crawler_verified: str | None = None
    crawler_why: str | None = None  # the verdict's reason, for ?debug=1
    notes: list[str] = field(default_factory=list)
    steps: tuple[tuple[str, str], ...] = ()

    def explain(self) -> dict[str, Any]:
        """This event's fate, for ?debug=1."""
        ua = self.user_agent
        return {
            "fate": "stored",
            "type": self.event.type,
            "ua_class": ua.ua_class,
            "ua_reason": ua.reason,
            "crawler": ua.crawler,
            "crawler_kind": ua.crawler_kind,
            "browser": ua.browser,
            "os": ua.os,
            "device": ua.device,
            "path": self.path,
            "content_type": self.content_type,
            "referrer_host": self.referrer_host,
            "ai_source": self.ai_source,
            "ai_source_via": self.ai_via,
            "ai_source_note": self.ai_note,
            "country": self.country,
            "off_site": self.off_site,
            "crawler_verified": self.crawler_verified,
            "crawler_verified_why": self.crawler_why,
            "session_id": self.event.session_id,
            "notes": list(self.notes),
            "steps": [{"step": step, "result": result} for step, result in self.steps],
        }


def country_from_header(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    return code if _COUNTRY.match(code) and code not in _NOT_COUNTRIES else None


def step_user_agent(draft: Enriched, ctx: RequestContext) -> str:
    # A server forwarding its visitors' traffic may name each visitor's user agent; a page
    # may not (any script could then pass for any browser or crawler).
    given = draft.event.user_agent if ctx.server else None
    if draft.event.user_agent is not None and not ctx.server:
        draft.notes.append(
            "the event's user_agent field was ignored: it is honoured only server-to-server"
            " (Authorization: Bearer <key secret>); the request's User-Agent header was used"
        )
    draft.user_agent_text = given or ctx.header_user_agent
    draft.user_agent = classify_user_agent(draft.user_agent_text)
    return draft.user_agent.ua_class


@lru_cache(maxsize=CACHED_STRINGS)
def search_user_agent(user_agent: str) -> UserAgent | None:
    """A plain bot's label with the search crawler it claims filled in (class kept), or None
    when it names none of them (sources.SEARCH_CRAWLERS)."""
    found = search_crawler(user_agent)
    if found is None:
        return None
    label = classify_user_agent(user_agent)
    return replace(
        label, crawler=found.token, crawler_operator=found.operator, crawler_kind=found.kind
    )


@lru_cache(maxsize=256)
def _claim(token: str, operator: str | None) -> Claim:
    return Claim(token, operator, lists_for(token))


@lru_cache(maxsize=1024)
def _client_ip(peer: str | None, forwarded: str | None, trust: ProxyTrust) -> str | None:
    return client_ip(peer, forwarded, trust)


_is_public = lru_cache(maxsize=1024)(is_public)


@lru_cache(maxsize=64)
def signed_agent(operator: str) -> UserAgent | None:
    """The label of the agent a valid signature by `operator`'s key speaks for, when that
    operator's agent sends a browser's User-Agent (sources.SIGNED_AGENTS)."""
    token = SIGNED_AGENTS.get(operator.lower())
    if token is None:
        return None
    label = classify_user_agent(token)
    return replace(
        label,
        crawler_operator=label.crawler_operator or operator,
        reason=f"a valid Web Bot Auth signature by {operator}'s key",
    )


def _signature(event: IncomingEvent, ctx: RequestContext) -> Signature | None:
    """The event's signature checked, once (a second check would see its own nonce replayed)."""
    if not ctx.server or event.signature is None:
        return None
    domain = ctx.property_domain
    return signatures.check(event.signature, (domain, f"www.{domain}"))


# On an unsigned hit that claims no crawler (most hits) this step costs about 6.5k
# instructions, mostly its own metric's count (callgrind, 20,000 enrich() calls of a browser's
# pageview with and without it: 107.4k against 100.8k per call).
def step_crawler(draft: Enriched, ctx: RequestContext) -> str:
    event = draft.event
    if not ctx.server and (event.ip is not None or event.signature is not None):
        draft.notes.append(
            "the event's ip and signature fields were ignored: they are honoured only"
            " server-to-server (Authorization: Bearer <key secret>)"
        )
    ua = draft.user_agent
    signature = None
    if ua.crawler is None and event.signature is not None:
        # An agent with a browser's User-Agent may say who it is by its signature alone.
        signature = _signature(event, ctx)
        if signature is not None and signature.outcome == VALID and signature.operator:
            ua = draft.user_agent = signed_agent(signature.operator) or ua
    if ua.crawler is None:
        # Humans and most bots stop here: no crawler claimed, nothing to check.
        if ua.ua_class != UA_BOT or not draft.user_agent_text:
            return "not_claimed"
        searched = search_user_agent(draft.user_agent_text)
        if searched is None:
            return "not_claimed"
        ua = draft.user_agent = searched
    else:
        signature = signature or _signature(event, ctx)
    assert ua.crawler is not None
    claim = _claim(ua.crawler, ua.crawler_operator)
    # Server to server, the peer is the partner's server forwarding the hit, not the crawler:
    # only the event's ip field names the crawler's address. From a browser, the peer does.
    ip = event.ip if ctx.server else _client_ip(ctx.peer, ctx.forwarded, ctx.trust)
    if ip is not None and not _is_public(ip):
        draft.notes.append(
            f"the client address {ip} is not a public one (a proxy's? see"
            " OPTIVIEW_TRUSTED_PROXIES): it cannot verify a crawler, nor refute one"
        )
        ip = None
    ip_lists = ranges.current().lists_containing(ip) if ip and claim.lists else None
    found = verdict(claim, ip_lists, signature)
    draft.crawler_verified, draft.crawler_why = found.result, found.why
    if found.result == FAILED:
        if ua.ua_class != UA_BOT:  # a search crawler's claim is a bot's already
            draft.user_agent = replace(
                ua, ua_class=UA_BOT, reason=f"{ua.reason}, a claim that failed verification"
            )
        draft.notes.append(f"stored as bot, not as {ua.crawler}: {found.why}")
    return found.result or "not_claimed"


@lru_cache(maxsize=CACHED_STRINGS)
def url_on_site(url: str, property_domain: str) -> bool:
    """The URL's host is the property's domain or www. of it (port, case, userinfo ignored)."""
    try:
        host = urlsplit(url).hostname or ""
        host = host.encode("idna").decode("ascii")  # the domain is stored in punycode
    except (ValueError, UnicodeError):
        return False
    return host in (property_domain, f"www.{property_domain}")


def step_site(draft: Enriched, ctx: RequestContext) -> str:
    url = draft.event.url
    if url is None:
        return "no_url"
    if url_on_site(url, ctx.property_domain):
        return "on_site"
    draft.off_site = True
    draft.notes.append(
        f"url {url[:200]} is not on this property's site ({ctx.property_domain} or"
        f" www.{ctx.property_domain}): stored with off_site=1 and counted as no page of"
        " this property (no content row)"
    )
    return "off_site"


def step_page(draft: Enriched, ctx: RequestContext) -> str:
    if draft.event.url is not None:
        draft.path = _page_path(draft.event.url)
    draft.referrer_host = _referrer_host(draft.event.referrer)
    if draft.event.type != "pageview" or draft.path is None:
        return "not_a_page"
    draft.content_type = _content_type(draft.path)
    return draft.content_type


Attribution = tuple[str | None, str | None, str | None, str]  # source, via, note, result


@lru_cache(maxsize=CACHED_STRINGS)
def ai_attribution(
    referrer: str | None, url: str | None, enabled_sources: frozenset[str]
) -> Attribution:
    """The AI source a visit is attributed to (if its project has it enabled), how, the note
    for ?debug=1 and the step's result. Pure, so cached, its note string included."""
    match = detect_ai_source(referrer, url)
    if match is None:
        return None, None, None, "none"
    if match.source not in enabled_sources:
        note = (
            f"{match.source} recognised by {match.via} {match.matched!r} but not enabled for"
            " this project (runbook step 7), so not attributed"
        )
        return None, None, note, "not_enabled"
    return match.source, match.via, f"attributed by {match.via} {match.matched!r}", match.source


def step_ai_source(draft: Enriched, ctx: RequestContext) -> str:
    event = draft.event
    attribution = ai_attribution(event.referrer, event.url, ctx.enabled_sources)
    draft.ai_source, draft.ai_via, draft.ai_note, result = attribution
    return result


def step_country(draft: Enriched, ctx: RequestContext) -> str:
    draft.country = ctx.country
    return "known" if ctx.country else "unknown"


Step = Callable[[Enriched, RequestContext], str]
STEPS: tuple[tuple[str, Step], ...] = (
    ("user_agent", step_user_agent),
    ("crawler", step_crawler),
    ("site", step_site),
    ("page", step_page),
    ("ai_source", step_ai_source),
    ("country", step_country),
)


def enrich(events: Sequence[IncomingEvent], ctx: RequestContext) -> list[Enriched]:
    enriched = []
    counted: Counter[tuple[str, str]] = Counter()
    for event in events:
        item = Enriched(event)
        item.steps = results = tuple([(name, step(item, ctx)) for name, step in STEPS])
        counted.update(results)
        enriched.append(item)
    for (name, result), count in counted.items():
        ENRICH_STEPS.labels(name, result).inc(count)
    return enriched
