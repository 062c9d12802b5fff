"""The client's address for one request. Pure.

The TCP peer, unless it is a proxy the operator listed (OPTIVIEW_TRUSTED_PROXIES) and a
header was named to carry the client's address (OPTIVIEW_CLIENT_IP_HEADER): a header from
anyone else could name any address, so it is ignored. For X-Forwarded-For, whose entries
each hop appends, the right-most address that is not itself a trusted proxy is the client
(those left of it were written by the client and may be forged).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class ProxyTrust:
    header: bytes | None  # lower-case header name, e.g. b"x-forwarded-for"; None: the peer only
    proxies: tuple[Network, ...]  # the peers whose header is believed

    @property
    def forwarded_for(self) -> bool:
        return self.header == b"x-forwarded-for"


PEER_ONLY = ProxyTrust(None, ())


def parse_address(text: str) -> Address | None:
    """An address from a header entry or an event field: plain, or an IPv6 one in brackets;
    a port after an IPv4 address or a bracketed IPv6 one is dropped. None when not one."""
    value = text.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]  # "203.0.113.9:4711"
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def trusted(address: Address, proxies: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in proxies)


def is_public(ip: str) -> bool:
    """A globally routable address: one a crawler can fetch from. A loopback, private,
    shared (CGNAT), link-local or documentation address is a proxy's or a test's, so it says
    nothing about a crawler (the hit came through a proxy that is not a trusted one)."""
    address = parse_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_global


def client_ip(peer: str | None, header_value: str | None, trust: ProxyTrust) -> str | None:
    """The client's address as text, or None when the peer is unknown (a Unix socket)."""
    if not peer:
        return None
    if trust.header is None or header_value is None or not trust.proxies:
        return peer
    peer_address = parse_address(peer)
    if peer_address is None or not trusted(peer_address, trust.proxies):
        return peer
    if not trust.forwarded_for:
        given = parse_address(header_value)
        return str(given) if given is not None else peer
    hop: Address | None = None
    for entry in reversed(header_value.split(",")):
        hop = parse_address(entry)
        if hop is None:
            return peer  # a garbled chain: believe only what we saw ourselves
        if not trusted(hop, trust.proxies):
            return str(hop)
    # Every hop is a trusted proxy: the client is the first of them (an internal one).
    return str(hop) if hop is not None else peer


__all__ = ["PEER_ONLY", "ProxyTrust", "client_ip", "is_public", "parse_address", "trusted"]
