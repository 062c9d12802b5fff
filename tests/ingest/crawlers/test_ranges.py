"""The range lookup (ranges.py) on the vendored lists and on refreshed copies in a data folder."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest

from ingest.crawlers.ranges import (
    REFRESHED,
    VENDORED,
    RangeIndex,
    build_index,
    load_lists,
    parse_range_file,
    refreshed_path,
)
from ingest.crawlers.sources import RANGE_SOURCES, RANGE_SOURCES_BY_NAME, lists_for, search_crawler

VENDORED_INDEX = build_index(load_lists(None))


@pytest.mark.parametrize(
    ("ip", "lists"),
    [
        ("20.171.206.9", {"openai-gptbot"}),  # 20.171.206.0/24 in gptbot.json
        ("132.196.86.0", {"openai-gptbot"}),  # first address of 132.196.86.0/24
        ("132.196.86.255", {"openai-gptbot"}),  # last
        ("132.196.87.0", set()),  # one past it
        ("::ffff:20.171.206.9", {"openai-gptbot"}),  # IPv4-mapped IPv6
        ("66.249.66.1", {"google-googlebot"}),
        ("203.0.113.9", set()),  # documentation range: nobody's crawler
        ("2001:db8::1", set()),
        ("not an address", set()),
        ("20.171.206", set()),  # inet_aton's shorthand is no address here
        ("20.171.206.9\x00", set()),
        ("2001:4860:4801:10::1", {"google-googlebot"}),
        ("::ffff:66.249.66.1", {"google-googlebot"}),
        ("", set()),
    ],
)
def test_vendored_lookup(ip: str, lists: set[str]) -> None:
    assert VENDORED_INDEX.lists_containing(ip) == lists


def test_every_vendored_prefix_is_found_at_both_ends() -> None:
    """Each prefix's first and last address map to (at least) its own list."""
    lists = load_lists(None)
    assert set(lists) == {source.name for source in RANGE_SOURCES}
    for name, item in lists.items():
        assert item.origin == VENDORED and item.networks
        for net in item.networks:
            for address in (net.network_address, net.broadcast_address):
                assert name in VENDORED_INDEX.lists_containing(str(address)), (name, net)


def test_overlapping_lists_are_all_reported() -> None:
    index = RangeIndex(
        {
            "wide": [ipaddress.ip_network("10.0.0.0/8")],
            "narrow": [ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("10.1.2.0/24")],
            "v6": [ipaddress.ip_network("2001:db8::/32")],
        }
    )
    assert index.lists_containing("10.1.2.3") == {"wide", "narrow"}
    assert index.lists_containing("10.2.0.0") == {"wide"}
    assert index.lists_containing("10.1.255.255") == {"wide", "narrow"}
    assert index.lists_containing("11.0.0.0") == set()
    assert index.lists_containing("9.255.255.255") == set()
    assert index.lists_containing("2001:db8:ffff::1") == {"v6"}
    assert index.lists_containing("10.0.0.1") == {"wide"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"prefixes": []}', "empty"),
        (b'{"creationTime": "2026-01-01T00:00:00Z"}', "prefixes"),
        (b'{"prefixes": [{"ipv4Prefix": "300.1.1.0/24"}]}', r"prefixes\[0\]"),
        (b'{"prefixes": [{"service": "x"}]}', r"prefixes\[0\]"),
        (b'{"prefixes": ["1.2.3.0/24"]}', r"prefixes\[0\]"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_range_file(body)


def test_creation_time_is_read() -> None:
    created, networks = parse_range_file(
        b'{"creationTime": "2026-11-30T10:00:00.000000",'
        b' "prefixes": [{"ipv6Prefix": "2001:db8::/32"}]}'
    )
    assert created is not None and created.isoformat() == "2026-11-30T10:00:00+00:00"
    assert networks == [ipaddress.ip_network("2001:db8::/32")]


def _write(path: Path, created: str | None, prefixes: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {"prefixes": [{"ipv4Prefix": p} for p in prefixes]}
    if created is not None:
        doc["creationTime"] = created
    path.write_text(json.dumps(doc))


def test_a_newer_refreshed_copy_replaces_the_vendored_one(tmp_path: Path) -> None:
    source = RANGE_SOURCES_BY_NAME["openai-gptbot"]
    _write(refreshed_path(tmp_path, source), "2027-01-01T00:00:00Z", ["198.51.100.0/24"])
    lists = load_lists(tmp_path)
    assert lists["openai-gptbot"].origin == REFRESHED
    index = build_index(lists)
    assert index.lists_containing("198.51.100.7") == {"openai-gptbot"}
    assert index.lists_containing("20.171.206.9") == set()  # the vendored list is not used
    assert lists["openai-searchbot"].origin == VENDORED  # the others are


def test_an_older_refreshed_copy_is_passed_over(tmp_path: Path) -> None:
    source = RANGE_SOURCES_BY_NAME["openai-gptbot"]
    _write(refreshed_path(tmp_path, source), "2020-01-01T00:00:00Z", ["198.51.100.0/24"])
    assert load_lists(tmp_path)["openai-gptbot"].origin == VENDORED


def test_without_creation_time_the_file_time_counts(tmp_path: Path) -> None:
    path = refreshed_path(tmp_path, RANGE_SOURCES_BY_NAME["bing-bingbot"])
    _write(path, None, ["198.51.100.0/24"])
    assert load_lists(tmp_path)["bing-bingbot"].origin == REFRESHED  # written now: newer
    os.utime(path, (0, 0))  # 1970
    assert load_lists(tmp_path)["bing-bingbot"].origin == VENDORED


def test_a_broken_refreshed_copy_leaves_the_vendored_one(tmp_path: Path) -> None:
    path = refreshed_path(tmp_path, RANGE_SOURCES_BY_NAME["openai-gptbot"])
    path.parent.mkdir(parents=True)
    path.write_text('{"prefixes": [')
    lists = load_lists(tmp_path)
    assert lists["openai-gptbot"].origin == VENDORED


@pytest.mark.parametrize(
    ("token", "lists"),
    [
        ("GPTBot", ("openai-gptbot",)),
        ("gptbot", ("openai-gptbot",)),
        ("OAI-SearchBot", ("openai-searchbot",)),
        ("ChatGPT-User", ("openai-chatgpt-user",)),
        ("PerplexityBot", ("perplexity-perplexitybot",)),
        ("Perplexity-User", ("perplexity-user",)),
        ("Googlebot", ("google-googlebot",)),
        ("bingbot", ("bing-bingbot",)),
        ("ClaudeBot", ()),
    ],
)
def test_tokens_map_to_their_operators_lists(token: str, lists: tuple[str, ...]) -> None:
    assert lists_for(token) == lists
    for name in lists:
        assert name in RANGE_SOURCES_BY_NAME


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        ("Googlebot-Image/1.0", "Googlebot-Image"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
        ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "DuckDuckBot"),
        ("Mozilla/5.0 (compatible; MyGooglebotter/1.0)", None),  # not word-bounded
        ("curl/8.0", None),
    ],
)
def test_search_crawlers_are_recognised(user_agent: str, token: str | None) -> None:
    found = search_crawler(user_agent)
    assert (found.token if found else None) == token
