"""Domain policy for partner onboarding (runbook step 2.1).

Pure functions: no I/O and no network. The Public Suffix List is the copy
bundled with the `publicsuffixlist` package.
"""

import ipaddress
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

MAX_LABEL = 63
MAX_NAME = 253


@cache
def _psl() -> "PublicSuffixList":
    """The list, parsed once on first use (about 50 ms): the collector and most commands,
    which import this module for origin_host, never need it. accept_unknown=False makes
    names under unknown TLDs (`example.local`) have no registrable domain."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(accept_unknown=False)


_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(?=//)", re.IGNORECASE)
_PORT = re.compile(r"[0-9]{0,5}")
_BAD_CHAR = re.compile(r"[^a-z0-9-]")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# As browsers serialize an Origin: no trailing dot, a port without leading zeros (checked to be
# 1-65535 below); anything else was not sent by a browser and is refused as malformed.
_ORIGIN = re.compile(rf"https?://((?:{_LABEL}\.)*{_LABEL})(?::([1-9][0-9]{{0,4}}))?")
MAX_PORT = 65535

_EMPTY = "No domain given; enter the partner's domain, e.g. example.com."
_NOT_WEB = "'{text}' uses the {scheme}: scheme, not http(s); enter a web domain, e.g. example.com."
_BAD_PORT = "'{text}' has an invalid port '{port}'; enter just the domain, e.g. example.com."
_IPV4 = "'{host}' is an IPv4 address; enter the site's domain name instead, e.g. example.com."
_IPV6 = "'{host}' is an IPv6 address; enter the site's domain name instead, e.g. example.com."
_LOCALHOST = "'{host}' is a localhost name; enter the domain the site is publicly served on."
_NOT_IDNA = "'{host}' cannot be converted to punycode; fix the spelling or enter its xn-- form."
_NAME_TOO_LONG = (
    "The name has {length} characters, over the {limit} allowed; enter just the domain."
)
_EMPTY_LABEL = "'{host}' has an empty label (as in a..com or .a.com); remove the extra dot."
_LABEL_TOO_LONG = "'{host}' has a label of {length} characters; a label may have at most {limit}."
_BAD_CHARS = "'{host}' contains {chars}; use only letters a-z, digits 0-9, '-' and '.'."
_EDGE_HYPHEN = "'{host}' has label '{label}' starting or ending with '-'; remove that hyphen."
_NO_DOT = "'{host}' has no dot; enter the full domain with its ending, e.g. example.com."
_NUMERIC_TLD = "'{host}' ends in all-numeric '{tld}', which is no top-level domain; enter a domain."
_PUBLIC_SUFFIX = "'{host}' is a public suffix; enter a domain under it, e.g. example.{host}."
_UNKNOWN_TLD = "'{host}' has no known public top-level domain (like .com); enter its public domain."
_OUTSIDE = "'{host}' is not within the project's domain {apex}; use {apex} or e.g. shop.{apex}."


class DomainError(ValueError):
    """Raised with a human-readable reason; str(err) is the reason."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _strip_www(host: str) -> str:
    # Only when a dotted name remains, so that `www.com` itself stays a domain.
    rest = host[4:]
    return rest if host.startswith("www.") and "." in rest else host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _host_part(text: str) -> str:
    """Host of a typed or pasted address: scheme, userinfo, path, port dropped."""
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise DomainError(_NOT_WEB.format(text=text, scheme=scheme.group(1)))
    rest = (text[scheme.end() :] if scheme else text).removeprefix("//")
    hostport = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if hostport.startswith("[") or hostport.count(":") > 1:
        literal = hostport[1:].partition("]")[0] if hostport[0] == "[" else hostport
        if _is_ip(literal):
            raise DomainError(_IPV6.format(host=literal))
        return hostport  # the character check rejects what is left
    host, _, port = hostport.partition(":")
    if not _PORT.fullmatch(port):
        raise DomainError(_BAD_PORT.format(text=text, port=port))
    return host


def _to_punycode(host: str) -> str:
    try:
        return ".".join(
            label if label.isascii() else label.encode("idna").decode("ascii")
            for label in host.split(".")
        )
    except UnicodeError:
        raise DomainError(_NOT_IDNA.format(host=host)) from None


def _check_labels(host: str) -> None:
    if len(host) > MAX_NAME:
        raise DomainError(_NAME_TOO_LONG.format(length=len(host), limit=MAX_NAME))
    labels = host.split(".")
    for label in labels:
        if not label:
            raise DomainError(_EMPTY_LABEL.format(host=host))
        if len(label) > MAX_LABEL:
            raise DomainError(_LABEL_TOO_LONG.format(host=host, length=len(label), limit=MAX_LABEL))
        if bad := sorted(set(_BAD_CHAR.findall(label))):
            chars = ", ".join(repr(char) for char in bad)
            raise DomainError(_BAD_CHARS.format(host=host, chars=chars))
        if label.startswith("-") or label.endswith("-"):
            raise DomainError(_EDGE_HYPHEN.format(host=host, label=label))
    if len(labels) == 1:
        reason = _PUBLIC_SUFFIX if _psl().is_public(host) else _NO_DOT
        raise DomainError(reason.format(host=host))
    if labels[-1].isdigit():
        raise DomainError(_NUMERIC_TLD.format(host=host, tld=labels[-1]))


def normalize_host(raw: str) -> str:
    """Lower-case host with scheme/port/path/www./trailing dot removed.

    Validated (labels, not localhost/IP). Does NOT require a registrable domain.
    """
    text = raw.strip()
    host = _host_part(text).lower().removesuffix(".") if text else ""
    if not host:
        raise DomainError(_EMPTY)
    if not host.isascii():
        host = _to_punycode(host)
    if _is_ip(host):
        raise DomainError(_IPV4.format(host=host))
    if host == "localhost" or host.endswith(".localhost"):
        raise DomainError(_LOCALHOST.format(host=host))
    host = _strip_www(host)
    _check_labels(host)
    return host


def registrable_domain(host: str) -> str | None:
    """eTLD+1 by the bundled PSL; None for a bare public suffix or an unknown TLD."""
    return _psl().privatesuffix(host)


def _apex(host: str) -> str:
    apex = registrable_domain(host)
    if apex is None:
        reason = _PUBLIC_SUFFIX if _psl().is_public(host) else _UNKNOWN_TLD
        raise DomainError(reason.format(host=host))
    return apex


def project_domain(raw: str) -> str:
    """Normalized apex (eTLD+1) for a project. Raises DomainError.

    `blog.example.com` -> `example.com`, `shop.example.co.uk` -> `example.co.uk`,
    `user.github.io` stays `user.github.io`.
    """
    return _apex(normalize_host(raw))


def project_site(raw: str) -> tuple[str, str]:
    """(site host, apex) of the address a project is created with. Raises DomainError.

    The project takes the apex (runbook 2.1) but its default property the host given, so that
    `blog.example.co.uk` is not silently replaced by `example.co.uk`, a site the partner may
    not serve at all.
    """
    host = normalize_host(raw)
    return host, _apex(host)


def property_domain(raw: str, project_apex: str) -> str:
    """Normalized host for a property.

    Either the project's apex itself or an exact site host under it
    (`shop.example.com` for apex `example.com`). A host outside the project's
    apex raises DomainError saying it is not within the project's domain, as
    does everything normalize_host/registrable_domain rejects.
    """
    host = normalize_host(raw)
    apex = project_domain(project_apex)
    if _apex(host) != apex:
        raise DomainError(_OUTSIDE.format(host=host, apex=apex))
    return host


# Every collector request checks its Origin, and a service sees few distinct ones (its sites).
@lru_cache(maxsize=1024)
def origin_host(origin: str) -> str | None:
    """Host of a browser Origin header value, for the CORS check.

    `https://www.Shop.Example.com:8443` -> `shop.example.com`: lower-cased,
    www. stripped, port ignored. None for `null`, empty, malformed (a port
    outside 1-65535, a trailing dot) or non-http(s) origins. Never raises;
    cheap enough per request (no PSL lookup), and cached.
    """
    match = _ORIGIN.fullmatch(origin.strip().lower())
    if match is None or (match.group(2) is not None and int(match.group(2)) > MAX_PORT):
        return None
    host = match.group(1)
    return _strip_www(host) if len(host) <= MAX_NAME else None
