"""What of a log is stored: the policy's pure decisions, table-driven."""

from __future__ import annotations

import pytest

from ingest.logs.hit import Hit
from ingest.logs.policy import (
    TAG_WINDOW_MS,
    TagViews,
    class_skip,
    on_host,
    request_skip,
    tag_skip,
)


def hit(
    target: str = "/", *, host: str | None = None, method: str = "GET", status: int | None = 200
) -> Hit:
    return Hit(0, None, method, host, target, status, "ua", None)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (hit("/pricing"), None),
        (hit("/pricing", host="shop.example"), None),
        (hit("/", host="WWW.Shop.Example:443"), None),
        (hit("/", host="shop.example."), None),
        (hit("/", host="blog.shop.example"), "not_this_host"),
        (hit("/", host="other.example"), "not_this_host"),
        (hit("/", method="POST"), "not_get"),
        (hit("/", method="HEAD"), None),
        (hit("/app.js?v=3"), "asset"),
        (hit("/img/Logo.PNG"), "asset"),
        (hit("/fonts/a.woff2"), "asset"),
        (hit("/old", status=301), "redirect"),
        (hit("/cached", status=304), None),
        (hit("/missing", status=404), "error_status"),
        (hit("/boom", status=503), "error_status"),
        (hit("/page", status=None), None),
        # The crawler funnel's files, whatever their status.
        (hit("/robots.txt", status=404), None),
        (hit("/llms.txt", status=404), None),
        (hit("/llms-full.txt"), None),
        (hit("/docs/intro.md", status=404), None),
        (hit("/sitemap.xml", status=301), None),
        (hit("/robots.txt", method="POST"), "not_get"),
    ],
)
def test_request_skip(given: Hit, reason: str | None) -> None:
    assert request_skip(given, "shop.example") == reason


def test_on_host_ipv6_literal_is_not_the_domain() -> None:
    assert not on_host("[::1]:8080", "shop.example")


@pytest.mark.parametrize(
    ("ua_class", "include_humans", "reason"),
    [
        ("human", False, "human"),
        ("human", True, None),
        ("bot", False, None),
        ("ai_crawler", False, None),
        ("ai_agent", False, None),
    ],
)
def test_class_skip(ua_class: str, include_humans: bool, reason: str | None) -> None:
    assert class_skip(ua_class, include_humans) == reason


@pytest.mark.parametrize(
    ("path", "ua", "ts", "reason"),
    [
        ("/a", "ua", 1_000_000, "seen_by_tag"),
        ("/a", "ua", 1_000_000 + TAG_WINDOW_MS, "seen_by_tag"),
        ("/a", "ua", 1_000_000 - TAG_WINDOW_MS, "seen_by_tag"),
        ("/a", "ua", 1_000_000 + TAG_WINDOW_MS + 1, None),
        ("/a", "other", 1_000_000, None),
        ("/b", "ua", 1_000_000, None),
    ],
)
def test_tag_skip(path: str, ua: str, ts: int, reason: str | None) -> None:
    views: TagViews = {("/a", "ua"): [1_000_000], ("/b", "ua"): [5_000_000]}
    assert tag_skip(path, ua, ts, views) == reason
