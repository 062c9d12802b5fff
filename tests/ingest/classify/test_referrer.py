"""AI-assistant referral detection: Referer header first, then the page URL's utm_source."""

from __future__ import annotations

import pytest

from ingest.classify.referrer import (
    SourceMatch,
    detect_ai_source,
    referrer_host,
    source_for_host,
    source_for_utm,
)

PAGE = "https://shop.example.com/products/kettle"

# (referrer, page_url, expected match or None)
CASES = [
    # every required host, plain and www./subdomain form
    pytest.param(
        "https://chatgpt.com/",
        PAGE,
        SourceMatch("chatgpt", "referrer", "chatgpt.com"),
        id="chatgpt",
    ),
    pytest.param(
        "https://www.chatgpt.com/c/abc",
        PAGE,
        SourceMatch("chatgpt", "referrer", "chatgpt.com"),
        id="chatgpt-www",
    ),
    pytest.param(
        "https://chat.openai.com/",
        PAGE,
        SourceMatch("chatgpt", "referrer", "chat.openai.com"),
        id="chat-openai",
    ),
    pytest.param(
        "https://claude.ai/", PAGE, SourceMatch("claude", "referrer", "claude.ai"), id="claude"
    ),
    pytest.param(
        "https://www.claude.ai/chat/1",
        PAGE,
        SourceMatch("claude", "referrer", "claude.ai"),
        id="claude-www",
    ),
    pytest.param(
        "https://perplexity.ai/",
        PAGE,
        SourceMatch("perplexity", "referrer", "perplexity.ai"),
        id="perplexity",
    ),
    pytest.param(
        "https://www.perplexity.ai/search/x",
        PAGE,
        SourceMatch("perplexity", "referrer", "perplexity.ai"),
        id="perplexity-www",
    ),
    pytest.param(
        "https://labs.perplexity.ai/",
        PAGE,
        SourceMatch("perplexity", "referrer", "labs.perplexity.ai"),
        id="perplexity-subdomain",
    ),
    pytest.param(
        "https://gemini.google.com/",
        PAGE,
        SourceMatch("gemini", "referrer", "gemini.google.com"),
        id="gemini",
    ),
    pytest.param(
        "https://copilot.microsoft.com/chats/1",
        PAGE,
        SourceMatch("copilot", "referrer", "copilot.microsoft.com"),
        id="copilot",
    ),
    pytest.param(
        "https://chat.deepseek.com/",
        PAGE,
        SourceMatch("deepseek", "referrer", "chat.deepseek.com"),
        id="deepseek",
    ),
    pytest.param("https://grok.com/", PAGE, SourceMatch("grok", "referrer", "grok.com"), id="grok"),
    pytest.param(
        "https://www.grok.com/", PAGE, SourceMatch("grok", "referrer", "grok.com"), id="grok-www"
    ),
    pytest.param(
        "https://x.com/i/grok?conversation=1",
        PAGE,
        SourceMatch("grok", "referrer", "x.com/i/grok"),
        id="grok-on-x",
    ),
    pytest.param("https://x.com/someone/status/1", PAGE, None, id="x-not-grok"),
    pytest.param("https://x.com/i/grokking", PAGE, None, id="x-path-prefix-is-segment-bounded"),
    pytest.param(
        "https://meta.ai/", PAGE, SourceMatch("meta_ai", "referrer", "meta.ai"), id="meta-ai"
    ),
    pytest.param(
        "https://www.meta.ai/",
        PAGE,
        SourceMatch("meta_ai", "referrer", "meta.ai"),
        id="meta-ai-www",
    ),
    pytest.param(
        "https://chat.mistral.ai/chat",
        PAGE,
        SourceMatch("mistral", "referrer", "chat.mistral.ai"),
        id="mistral",
    ),
    pytest.param(
        "https://you.com/search?q=x", PAGE, SourceMatch("you", "referrer", "you.com"), id="you"
    ),
    pytest.param(
        "https://www.phind.com/", PAGE, SourceMatch("phind", "referrer", "phind.com"), id="phind"
    ),
    pytest.param(
        "https://duck.ai/", PAGE, SourceMatch("duckduckgo", "referrer", "duck.ai"), id="duck-ai"
    ),
    pytest.param("https://poe.com/", PAGE, SourceMatch("poe", "referrer", "poe.com"), id="poe"),
    pytest.param(
        "http://CLAUDE.AI:443/x",
        PAGE,
        SourceMatch("claude", "referrer", "claude.ai"),
        id="http-upper-port",
    ),
    pytest.param(
        "https://claude.ai./",
        PAGE,
        SourceMatch("claude", "referrer", "claude.ai"),
        id="trailing-dot",
    ),
    pytest.param(
        "https://claude.ai:notaport/",
        PAGE,
        SourceMatch("claude", "referrer", "claude.ai"),
        id="bad-port-ignored",
    ),
    # utm_source variants
    pytest.param(
        None,
        PAGE + "?utm_source=chatgpt.com",
        SourceMatch("chatgpt", "utm_source", "chatgpt.com"),
        id="utm-chatgpt-host",
    ),
    pytest.param(
        "",
        PAGE + "?ref=1&utm_source=ChatGPT",
        SourceMatch("chatgpt", "utm_source", "ChatGPT"),
        id="utm-name",
    ),
    pytest.param(
        None,
        PAGE + "?utm_source=perplexity",
        SourceMatch("perplexity", "utm_source", "perplexity"),
        id="utm-id",
    ),
    pytest.param(
        None,
        PAGE + "?utm_source=www.perplexity.ai&utm_medium=referral",
        SourceMatch("perplexity", "utm_source", "www.perplexity.ai"),
        id="utm-www-host",
    ),
    pytest.param(
        "https://www.google.com/",
        PAGE + "?utm_source=copilot.microsoft.com",
        SourceMatch("copilot", "utm_source", "copilot.microsoft.com"),
        id="utm-when-referrer-is-not-ai",
    ),
    pytest.param(
        None,
        PAGE + "?utm_source=https%3A%2F%2Fclaude.ai%2F",
        SourceMatch("claude", "utm_source", "https://claude.ai/"),
        id="utm-url-value",
    ),
    pytest.param(
        None,
        PAGE + "?utm_source=Le%20Chat",
        SourceMatch("mistral", "utm_source", "Le Chat"),
        id="utm-label",
    ),
    pytest.param(
        None,
        PAGE + "?utm_source=meta_ai",
        SourceMatch("meta_ai", "utm_source", "meta_ai"),
        id="utm-meta-id",
    ),
    pytest.param(None, PAGE + "?utm_source=newsletter", None, id="utm-other"),
    pytest.param(None, PAGE + "?utm_source=google.com", None, id="utm-google"),
    pytest.param(None, PAGE + "?utm_source=x.com", None, id="utm-x-without-path"),
    pytest.param(None, PAGE + "?utm_source=chatgpt.com.evil.net", None, id="utm-lookalike"),
    pytest.param(None, PAGE + "?utm_source=", None, id="utm-empty"),
    pytest.param(None, PAGE + "#utm_source=chatgpt.com", None, id="utm-in-fragment-ignored"),
    # precedence: a referrer match wins over utm_source
    pytest.param(
        "https://claude.ai/",
        PAGE + "?utm_source=chatgpt.com",
        SourceMatch("claude", "referrer", "claude.ai"),
        id="referrer-wins-over-utm",
    ),
    # non-AI referrers
    pytest.param("https://google.com/", PAGE, None, id="google"),
    pytest.param("https://www.google.com/search?q=gemini.google.com", PAGE, None, id="www-google"),
    pytest.param("https://mail.google.com/", PAGE, None, id="google-sibling-of-gemini"),
    pytest.param("https://www.bing.com/", PAGE, None, id="bing"),
    pytest.param("https://t.co/abc", PAGE, None, id="t-co"),
    pytest.param("https://shop.example.com/cart", PAGE, None, id="same-site"),
    pytest.param("", PAGE, None, id="empty"),
    pytest.param(None, PAGE, None, id="none"),
    pytest.param(None, None, None, id="both-none"),
    pytest.param("android-app://com.google.android.gm/", PAGE, None, id="android-app"),
    pytest.param("chatgpt.com", PAGE, None, id="no-scheme"),
    pytest.param("ftp://chatgpt.com/", PAGE, None, id="ftp"),
    pytest.param("not a url at all", PAGE, None, id="garbage"),
    pytest.param("https://[::1", PAGE, None, id="broken-ipv6"),
    pytest.param("https://", "::::", None, id="empty-host-garbage-page"),
    pytest.param("https://chatgpt.com@evil.net/", PAGE, None, id="userinfo-trick"),
    pytest.param("https://evil.net/?r=https://chatgpt.com", PAGE, None, id="ai-host-in-query"),
    # look-alikes
    pytest.param("https://chatgpt.com.evil.net/", PAGE, None, id="lookalike-suffix"),
    pytest.param("https://notclaude.ai/", PAGE, None, id="lookalike-prefix"),
    pytest.param("https://evilperplexity.ai/", PAGE, None, id="lookalike-glued"),
    pytest.param("https://claude.ai.evil.net/", PAGE, None, id="lookalike-claude-suffix"),
]


@pytest.mark.parametrize(("referrer", "page_url", "expected"), CASES)
def test_detect_ai_source(
    referrer: str | None, page_url: str | None, expected: SourceMatch | None
) -> None:
    assert detect_ai_source(referrer, page_url) == expected


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        pytest.param("https://www.Perplexity.AI/search", "perplexity.ai", id="www-and-case"),
        pytest.param("http://chat.openai.com:8080/x", "chat.openai.com", id="port"),
        pytest.param("https://bücher.example/", "xn--bcher-kva.example", id="idn"),
        pytest.param("https://www/", "www", id="bare-www-label"),
        pytest.param("https://192.0.2.1/", "192.0.2.1", id="ipv4"),
        pytest.param("https://exa mple.com/", None, id="space-in-host"),
        pytest.param("https://[::1]/", None, id="ipv6"),
        pytest.param("mailto:someone@claude.ai", None, id="mailto"),
        pytest.param("//claude.ai/", None, id="scheme-relative"),
        pytest.param("https://" + "a" * 300 + ".com/", None, id="too-long"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_referrer_host(referrer: str | None, host: str | None) -> None:
    assert referrer_host(referrer) == host


@pytest.mark.parametrize(
    "garbage",
    [
        "\x00\x01\x02",
        "https://\udcff.com/",
        "http://" + "x" * 10_000,
        "https://a..b/",
        "https://-claude.ai/",
        "?utm_source",
        "https://%%%/",
    ],
)
def test_garbage_never_raises(garbage: str) -> None:
    assert detect_ai_source(garbage, garbage) is None


def test_non_string_input_never_raises() -> None:
    assert detect_ai_source(12, b"https://claude.ai/") is None  # type: ignore[arg-type]


def test_lookups_are_cached() -> None:
    assert source_for_host("chatgpt.com") == "chatgpt"
    assert source_for_host.cache_info().maxsize == 10_000
    assert source_for_utm("ChatGPT") == "chatgpt"
    assert source_for_utm.cache_info().hits + source_for_utm.cache_info().misses > 0
