"""Which AI assistant sent a visit: from the Referer header, else from `utm_source`.

Hosts come from `ingest.sources.SOURCE_HOSTS` (vendored AIAssistants.yml + our supplement).
A referrer host matches a listed host exactly or as a subdomain of it (parent domains are
walked: `www.perplexity.ai` -> `perplexity.ai`), never the other way round: listing
`gemini.google.com` does not make `google.com` match. A listed `host/path` entry
(`x.com/i/grok`) matches only that host with that path prefix.

Pure, never raises on garbage input; host and utm lookups are dict hits behind lru_cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from ingest.sources import KNOWN_SOURCES, SOURCE_HOSTS

VIA_REFERRER: Final = "referrer"
VIA_UTM_SOURCE: Final = "utm_source"

MAX_URL_CHARS = 8192
"""Longer referrers/URLs are treated as garbage."""
MAX_UTM_CHARS = 512

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_RE: Final = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class SourceMatch:
    source: str  # a KNOWN_SOURCES id
    via: str  # "referrer" | "utm_source"
    matched: str  # the referrer host or the utm_source value that matched


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def normalize_host(host: str) -> str | None:
    """Lower-case ASCII host without `www.` or a trailing dot; None if it is not a host name."""
    host = host.strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = _strip_www(host)
    if not host or len(host) > 253 or not _HOST_RE.match(host):
        return None
    return host


def _tables() -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    hosts: dict[str, str] = {}
    paths: dict[str, list[tuple[str, str]]] = {}
    for source, listed in SOURCE_HOSTS.items():
        for entry in listed:
            host, slash, path = entry.partition("/")
            normal = normalize_host(host)
            if normal is None:
                raise ValueError(f"source {source!r}: bad host {entry!r}")
            if slash:
                paths.setdefault(normal, []).append(("/" + path.rstrip("/"), source))
            else:
                hosts.setdefault(normal, source)  # first listed wins; tests forbid clashes
    return hosts, paths


_hosts, _paths = _tables()
HOST_SOURCES: Final[Mapping[str, str]] = MappingProxyType(_hosts)
"""Listed host (normalized) -> source id."""
PATH_SOURCES: Final[Mapping[str, list[tuple[str, str]]]] = MappingProxyType(_paths)
"""Listed host -> [(path prefix, source id)] for `host/path` entries such as x.com/i/grok."""

# utm_source values that name a source: its id or its label, case-insensitively.
_NAMED: Final[dict[str, str]] = {}
for _source, _label in KNOWN_SOURCES.items():
    _NAMED.setdefault(_source.casefold(), _source)
    _NAMED.setdefault(_label.casefold(), _source)


def referrer_host(referrer: str | None) -> str | None:
    """Lower-case host of an http(s) referrer, `www.` stripped; None for anything else."""
    if not referrer or not isinstance(referrer, str) or len(referrer) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(referrer.strip())
        if parts.scheme.lower() not in ("http", "https"):
            return None
        host = parts.hostname
    except ValueError:
        return None
    return normalize_host(host) if host else None


@lru_cache(maxsize=10_000)
def source_for_host(host: str) -> str | None:
    """Source id for a normalized host: exact or subdomain of a listed host."""
    labels = host.split(".")
    for start in range(len(labels) - 1):  # never a bare TLD
        source = HOST_SOURCES.get(".".join(labels[start:]))
        if source is not None:
            return source
    return None


def _source_for_path(host: str, path: str) -> tuple[str, str] | None:
    for prefix, source in PATH_SOURCES.get(host, ()):
        if path == prefix or path.startswith(prefix + "/"):
            return source, host + prefix
    return None


@lru_cache(maxsize=10_000)
def source_for_utm(value: str) -> str | None:
    """Source id for a utm_source value: a listed host (or subdomain), or a source id/name."""
    text = value.strip()
    if not text or len(text) > MAX_UTM_CHARS:
        return None
    named = _NAMED.get(text.casefold())
    if named is not None:
        return named
    host = referrer_host(text) if "://" in text else normalize_host(text.split("/", 1)[0])
    if host is None or "." not in host:
        return None
    return source_for_host(host)


def _utm_source(page_url: str) -> str | None:
    try:
        query = urlsplit(page_url.strip()).query
        pairs = parse_qsl(query, keep_blank_values=False)
    except ValueError:
        return None
    for key, value in pairs:
        if key.strip().lower() == "utm_source":
            return value
    return None


def detect_ai_source(referrer: str | None, page_url: str | None) -> SourceMatch | None:
    """The AI source of a visit; the referrer wins over the page URL's utm_source."""
    host = referrer_host(referrer)
    if host is not None:
        source = source_for_host(host)
        if source is not None:
            return SourceMatch(source, VIA_REFERRER, host)
        if host in PATH_SOURCES and referrer:
            try:
                path = urlsplit(referrer.strip()).path
            except ValueError:
                path = ""
            by_path = _source_for_path(host, path)
            if by_path is not None:
                return SourceMatch(by_path[0], VIA_REFERRER, by_path[1])
    if not page_url or not isinstance(page_url, str) or len(page_url) > MAX_URL_CHARS:
        return None
    value = _utm_source(page_url)
    if value is None or len(value) > MAX_UTM_CHARS:  # checked before the cache sees it
        return None
    source = source_for_utm(value)
    return SourceMatch(source, VIA_UTM_SOURCE, value) if source is not None else None
