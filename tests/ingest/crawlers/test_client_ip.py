"""The client's address (client_ip.py): the peer, or a trusted proxy's header."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from ingest.config import ConfigError, crawler_data_location, load_settings
from ingest.crawlers.client_ip import PEER_ONLY, ProxyTrust, client_ip, is_public, parse_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
XFF = ProxyTrust(b"x-forwarded-for", PROXIES)
CF = ProxyTrust(b"cf-connecting-ip", PROXIES)


@pytest.mark.parametrize(
    ("peer", "header", "trust", "expected"),
    [
        # No header configured: the peer, whatever the request says.
        ("198.51.100.7", "20.171.206.9", PEER_ONLY, "198.51.100.7"),
        ("198.51.100.7", None, PEER_ONLY, "198.51.100.7"),
        (None, "20.171.206.9", XFF, None),  # a Unix socket: no address
        # A single-address header, believed only from a trusted peer.
        ("10.1.2.3", "20.171.206.9", CF, "20.171.206.9"),
        ("198.51.100.7", "20.171.206.9", CF, "198.51.100.7"),
        ("10.1.2.3", "not an address", CF, "10.1.2.3"),
        ("10.1.2.3", None, CF, "10.1.2.3"),
        ("::ffff:10.1.2.3", "20.171.206.9", CF, "20.171.206.9"),  # IPv4-mapped peer
        ("2001:db8::5", "2600:1f18::1", CF, "2600:1f18::1"),
        # X-Forwarded-For: the right-most address that is not a trusted proxy.
        ("10.1.2.3", "20.171.206.9", XFF, "20.171.206.9"),
        ("10.1.2.3", "6.6.6.6, 20.171.206.9", XFF, "20.171.206.9"),  # the left one is forgeable
        ("10.1.2.3", "6.6.6.6, 20.171.206.9, 10.9.9.9", XFF, "20.171.206.9"),
        ("10.1.2.3", "20.171.206.9:4711, 10.9.9.9", XFF, "20.171.206.9"),
        ("10.1.2.3", "[2600:1f18::1]:443", XFF, "2600:1f18::1"),
        ("10.1.2.3", "10.7.7.7, 10.9.9.9", XFF, "10.7.7.7"),  # all trusted: the first
        ("10.1.2.3", "6.6.6.6, garbage", XFF, "10.1.2.3"),  # garbled: the peer only
        ("198.51.100.7", "20.171.206.9", XFF, "198.51.100.7"),  # untrusted peer
    ],
)
def test_client_ip(
    peer: str | None, header: str | None, trust: ProxyTrust, expected: str | None
) -> None:
    assert client_ip(peer, header, trust) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("203.0.113.9:80", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_parse_address(text: str, expected: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("20.171.206.9", True),
        ("::ffff:20.171.206.9", True),
        ("2600:1f18::1", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("203.0.113.9", False),  # documentation
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:10.1.2.3", False),
        ("garbage", False),
    ],
)
def test_is_public(ip: str, public: bool) -> None:
    assert is_public(ip) is public


BASE = {
    "OPTIVIEW_DB": "/nonexistent/optiview.db",
    "OPTIVIEW_ADMIN_TOKEN": "a",
    "KEY_HASH_SECRET": "b",
}


def test_proxy_settings_are_read() -> None:
    settings = load_settings(
        {
            **BASE,
            "OPTIVIEW_CLIENT_IP_HEADER": "CF-Connecting-IP",
            "OPTIVIEW_TRUSTED_PROXIES": "173.245.48.0/20, 2400:cb00::/32 127.0.0.1",
        }
    )
    trust = settings.collector.client_ip
    assert trust.header == b"cf-connecting-ip"
    assert [str(net) for net in trust.proxies] == [
        "173.245.48.0/20",
        "2400:cb00::/32",
        "127.0.0.1/32",
    ]
    assert load_settings(BASE).collector.client_ip == PEER_ONLY


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"OPTIVIEW_TRUSTED_PROXIES": "10.0.0.0/33"}, "'10.0.0.0/33' is not an address or CIDR"),
        ({"OPTIVIEW_CLIENT_IP_HEADER": "X-Forwarded-For"}, "needs OPTIVIEW_TRUSTED_PROXIES"),
        ({"OPTIVIEW_TRUSTED_PROXIES": "10.0.0.0/8"}, "OPTIVIEW_CLIENT_IP_HEADER is not"),
        (
            {"OPTIVIEW_CLIENT_IP_HEADER": "X Forwarded", "OPTIVIEW_TRUSTED_PROXIES": "10.0.0.0/8"},
            "is not a header name",
        ),
    ],
)
def test_bad_proxy_settings_are_refused(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings({**BASE, **env})


def test_the_crawler_data_folder_defaults_beside_the_database() -> None:
    assert crawler_data_location({"OPTIVIEW_DB": "/srv/ov/optiview.db"}) == Path("/srv/ov/crawlers")
    assert crawler_data_location({"OPTIVIEW_DB": "postgresql://u@h/db"}) == Path("data/crawlers")
    given = {"OPTIVIEW_DB": "/srv/ov/optiview.db", "OPTIVIEW_CRAWLER_DATA": "/var/lib/crawlers"}
    assert crawler_data_location(given) == Path("/var/lib/crawlers")
