"""User-agent classification against real UA strings.

Every UA below was copied from public material found through code search, never typed
from memory: vendor-documented strings quoted in public repositories, request captures
(a Worker's `wrangler tail` of assistants fetching a probe URL), web-server access logs
and other projects' browser/bot test tables. A few are marked with where they came from.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import pytest

from ingest.classify.useragent import (
    CRAWLERS,
    MAX_UA_CHARS,
    Crawler,
    UserAgent,
    _classify,
    classify_user_agent,
    clean_operator,
    crawler_kind,
    match_crawler,
)

# (ua, crawler token as spelled in robots.json, operator, kind)
AI_CASES = [
    pytest.param(
        # access-log capture from 74.7.242.47
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.4;"
        " +https://openai.com/gptbot)",
        "GPTBot",
        "OpenAI",
        "training",
        id="gptbot",
    ),
    pytest.param(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0;"
        " +https://openai.com/searchbot",
        "OAI-SearchBot",
        "OpenAI",
        "search",
        id="oai-searchbot",
    ),
    pytest.param(
        # the newer form: a full Chrome UA with the bot token appended
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/131.0.0.0 Safari/537.36; compatible; OAI-SearchBot/1.4;"
        " +https://openai.com/searchbot",
        "OAI-SearchBot",
        "OpenAI",
        "search",
        id="oai-searchbot-chrome-form",
    ),
    pytest.param(
        # request capture of ChatGPT opening a probe URL
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0;"
        " +https://openai.com/bot",
        "ChatGPT-User",
        "OpenAI",
        "user",
        id="chatgpt-user",
    ),
    pytest.param(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0;"
        " +claudebot@anthropic.com)",
        "ClaudeBot",
        "Anthropic",
        "training",
        id="claudebot",
    ),
    pytest.param(
        # request capture of Claude opening a probe URL
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0;"
        " +claude-user@anthropic.com)",
        "Claude-User",
        "Anthropic",
        "user",
        id="claude-user",
    ),
    pytest.param(
        # request capture of Claude Code's web fetch: Claude-User comes first in the UA
        "Claude-User (claude-code/2.1.259; +https://support.anthropic.com/)",
        "Claude-User",
        "Anthropic",
        "user",
        id="claude-user-from-claude-code",
    ),
    pytest.param(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-SearchBot/1.0;"
        " +Claude-SearchBot@anthropic.com)",
        "Claude-SearchBot",
        "Anthropic",
        "search",
        id="claude-searchbot",
    ),
    pytest.param(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0;"
        " +https://perplexity.ai/perplexitybot)",
        "PerplexityBot",
        "Perplexity",
        "search",
        id="perplexitybot",
    ),
    pytest.param(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0;"
        " +https://perplexity.ai/perplexity-user)",
        "Perplexity-User",
        "Perplexity",
        "user",
        id="perplexity-user",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile"
        " Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "Bytespider",
        "ByteDance",
        "training",
        id="bytespider",
    ),
    pytest.param(
        "CCBot/2.0 (https://commoncrawl.org/faq/)",
        "CCBot",
        "Common Crawl Foundation",
        "training",
        id="ccbot",
    ),
    pytest.param(
        # access-log capture from 52.205.141.124
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1;"
        " +https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36",
        "Amazonbot",
        "Amazon",
        "search",
        id="amazonbot",
    ),
    pytest.param(
        # Applebot-Extended is a robots.txt-only token; Apple fetches as Applebot
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Applebot",
        "Apple",
        "search",
        id="applebot",
    ),
    pytest.param(
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "meta-externalagent",
        "Meta",
        "training",
        id="meta-externalagent",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/145.0.0.0 Safari/537.36 (compatible; meta-webindexer/1.1"
        " (+https://developers.facebook.com/docs/sharing/webmasters/crawler))",
        "meta-webindexer",
        "Meta",
        "search",
        id="meta-webindexer",
    ),
    pytest.param(
        # request capture of Le Chat opening a probe URL (IP in mistralai-user-ips.json)
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; MistralAI-User/1.0;"
        " +https://docs.mistral.ai/robots)",
        "MistralAI-User",
        "Mistral",
        "user",
        id="mistralai-user",
    ),
    pytest.param(
        # request capture (IP in duckassistbot.json)
        "DuckAssistBot/1.2; (+http://duckduckgo.com/duckassistbot.html)",
        "DuckAssistBot",
        "DuckDuckGo",
        "search",
        id="duckassistbot",
    ),
    pytest.param(
        # access-log capture from 114.119.156.140
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile"
        " Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "PetalBot",
        "Huawei",
        "search",
        id="petalbot",
    ),
    pytest.param(
        # robots.json lists the link-preview fetcher as likely AI; we follow the list
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit",
        "Meta/Facebook",
        "training",
        id="facebookexternalhit",
    ),
    pytest.param(
        "Scrapy/2.11 (+https://scrapy.org)",
        "Scrapy",
        "Zyte",
        "training",
        id="scrapy",
    ),
]

# Non-AI automated clients: classic crawlers, HTTP libraries, headless browsers.
BOT_CASES = [
    pytest.param(
        # access-log capture from 66.249.77.224
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        id="googlebot",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML,"
        " like Gecko) Chrome/125.0.6422.175 Mobile Safari/537.36 (compatible; Googlebot/2.1;"
        " +http://www.google.com/bot.html)",
        id="googlebot-smartphone",
    ),
    pytest.param(
        # access-log capture from 66.249.83.65
        "Mozilla/5.0 (X11; Linux x86_64; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like"
        " Gecko) Chrome/121.0.0.0 Safari/537.36",
        id="storebot-google",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", id="bingbot"
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", id="yandexbot"
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", id="ahrefsbot"
    ),
    pytest.param("Mozilla/5.0 (compatible; Yeti/1.1; +https://naver.me/spd)", id="naver-yeti"),
    pytest.param("curl/8.5.0", id="curl"),
    pytest.param("Wget/1.21.4", id="wget"),
    pytest.param("python-requests/2.32.3", id="python-requests"),
    pytest.param("Python-urllib/3.12", id="python-urllib"),
    pytest.param("Go-http-client/2.0", id="go-http-client"),
    pytest.param("okhttp/4.12.0", id="okhttp"),
    pytest.param("axios/1.7.2", id="axios"),
    pytest.param("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", id="node-fetch"),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " HeadlessChrome/126.0.0.0 Safari/537.36",
        id="headless-chrome",
    ),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/150.0.0.0 Safari/537.36",
        id="headless-chrome-short",
    ),
    # access-log captures: neither a browser nor an OS that ua-parser knows
    pytest.param("Python requests someversion", id="unknown-client-python"),
    pytest.param("This is a very serious browser!", id="unknown-client-prose"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param(None, id="none"),
]

# (ua, browser, major version, os, device)
HUMAN_CASES = [
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Safari/537.36",
        "Chrome",
        "139",
        "Windows",
        "desktop",
        id="chrome-windows",
    ),
    pytest.param(
        # request capture; Grok's fetcher sent exactly this, so it counts as human by UA
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/143.0.0.0 Safari/537.36",
        "Chrome",
        "143",
        "Mac OS X",
        "desktop",
        id="chrome-macos",
    ),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Safari/537.36",
        "Chrome",
        "139",
        "Linux",
        "desktop",
        id="chrome-linux",
    ),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "133",
        "Linux",
        "desktop",
        id="firefox-linux",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0",
        "Firefox",
        "141",
        "Windows",
        "desktop",
        id="firefox-windows",
    ),
    pytest.param(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:147.0) Gecko/20100101 Firefox/147.0",
        "Firefox",
        "147",
        "Mac OS X",
        "desktop",
        id="firefox-macos",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0",
        "Edge",
        "139",
        "Windows",
        "desktop",
        id="edge-windows",
    ),
    pytest.param(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/18.5 Safari/605.1.15",
        "Safari",
        "18",
        "Mac OS X",
        "desktop",
        id="safari-macos",
    ),
    pytest.param(
        # request capture (Grok's other fetcher profile)
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/26.2 Safari/605.1.15",
        "Safari",
        "26",
        "Mac OS X",
        "desktop",
        id="safari-26-macos",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/135.0.0.0 Safari/537.36 OPR/117.0.0.0",
        "Opera",
        "117",
        "Windows",
        "desktop",
        id="opera-windows",
    ),
    pytest.param(
        # access-log capture
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Brave/1.63.162 Chrome/122.0.6261.111 Safari/537.36",
        "Brave",
        "1",
        "Windows",
        "desktop",
        id="brave-windows",
    ),
    pytest.param(
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Safari/537.36",
        "Chrome",
        "139",
        "Chrome OS",
        "desktop",
        id="chrome-chromeos",
    ),
    pytest.param(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "18",
        "iOS",
        "mobile",
        id="safari-iphone",
    ),
    pytest.param(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) CriOS/138.0.7204.119 Mobile/15E148 Safari/604.1",
        "Chrome Mobile iOS",
        "138",
        "iOS",
        "mobile",
        id="chrome-iphone",
    ),
    pytest.param(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) Version/17.0 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
        "DuckDuckGo Mobile",
        "7",
        "iOS",
        "mobile",
        id="duckduckgo-browser-iphone",
    ),
    pytest.param(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.37.106;FBBV/600000000;"
        "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBCR/;FBID/phone;FBLC/he_IL;"
        "FBOP/80]",
        "Facebook",
        "470",
        "iOS",
        "mobile",
        id="facebook-in-app-iphone",
    ),
    pytest.param(
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "17",
        "iOS",
        "tablet",
        id="safari-ipad",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "139",
        "Android",
        "mobile",
        id="chrome-android-phone",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/129.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "129",
        "Android",
        "mobile",
        id="chrome-android-reduced-ua",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/139.0.0.0 Safari/537.36",
        "Chrome",
        "139",
        "Android",
        "tablet",
        id="chrome-android-tablet",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko)"
        " SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
        "Samsung Internet",
        "27",
        "Android",
        "mobile",
        id="samsung-internet",
    ),
    pytest.param(
        "Mozilla/5.0 (Android 14; Mobile; rv:141.0) Gecko/141.0 Firefox/141.0",
        "Firefox Mobile",
        "141",
        "Android",
        "mobile",
        id="firefox-android",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Version/4.0 Chrome/139.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile WebView",
        "139",
        "Android",
        "mobile",
        id="android-webview",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36"
        " (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.81 Mobile Safari/537.36 Instagram"
        " 350.0.0.42.89 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825;"
        " he_IL; 643317080)",
        "Instagram",
        "350",
        "Android",
        "mobile",
        id="instagram-in-app-android",
    ),
    pytest.param(
        # a phone brand ending in "bot" stays human
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/129.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "129",
        "Android",
        "mobile",
        id="cubot-phone",
    ),
    pytest.param(
        "Mozilla/5.0 (Linux; Android 10; CUBOT_X30 Build/QP1A.190711.020) AppleWebKit/537.36"
        " (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "118",
        "Android",
        "mobile",
        id="cubot-underscore-phone",
    ),
]

HUMAN_UAS: list[str] = [str(case.values[0]) for case in HUMAN_CASES]


@pytest.mark.parametrize(("ua", "crawler", "operator", "kind"), AI_CASES)
def test_ai_user_agents(ua: str, crawler: str, operator: str, kind: str) -> None:
    result = classify_user_agent(ua)
    assert result == UserAgent(
        ua_class="ai_agent" if kind == "user" else "ai_crawler",
        browser=None,
        browser_version=None,
        os=None,
        device="bot",
        crawler=crawler,
        crawler_operator=operator,
        crawler_kind=kind,
        reason=f"robots.json token {crawler}",
    )


@pytest.mark.parametrize("ua", BOT_CASES)
def test_other_bots(ua: str | None) -> None:
    result = classify_user_agent(ua)
    assert result.reason  # which rule decided: checked case by case below
    assert dataclasses.replace(result, reason="") == UserAgent(
        ua_class="bot",
        browser=None,
        browser_version=None,
        os=None,
        device="bot",
        crawler=None,
        crawler_operator=None,
        crawler_kind=None,
        reason="",
    )


@pytest.mark.parametrize(("ua", "browser", "version", "os", "device"), HUMAN_CASES)
def test_humans(ua: str, browser: str, version: str, os: str, device: str) -> None:
    assert classify_user_agent(ua) == UserAgent(
        ua_class="human",
        browser=browser,
        browser_version=version,
        os=os,
        device=device,
        crawler=None,
        crawler_operator=None,
        crawler_kind=None,
        reason=f"ua-parser: {browser} on {os}",
    )


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        (None, "no User-Agent"),
        ("   ", "no User-Agent"),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "ua-parser: device family Spider",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " HeadlessChrome/131.0.0.0 Safari/537.36",
            "HeadlessChrome in the User-Agent",
        ),
        ("curl/8.5.0", "curl in the User-Agent"),
        ("python-httpx/0.28.1", "python-httpx in the User-Agent"),
        ("SomeThing/1.0", "ua-parser knows neither its browser nor its OS"),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0;"
            " +claudebot@anthropic.com)",
            "robots.json token ClaudeBot",
        ),
    ],
)
def test_the_reason_names_the_rule_that_decided(ua: str | None, reason: str) -> None:
    """?debug=1 prints it, so that a partner sees why an event was filed as a bot."""
    assert classify_user_agent(ua).reason == reason


def test_no_robots_token_matches_a_real_browser() -> None:
    """Generic tokens ("Code", "Spider", "Operator", "Cursor", "LCC", "YaK") stay silent."""
    flagged = {ua: match_crawler(ua) for ua in HUMAN_UAS}
    assert {ua: c for ua, c in flagged.items() if c is not None} == {}
    assert all(classify_user_agent(ua).ua_class == "human" for ua in HUMAN_UAS)


def test_there_are_enough_real_user_agents() -> None:
    real = [c.values[0] for c in [*AI_CASES, *BOT_CASES, *HUMAN_CASES] if c.values[0]]
    assert len(set(real)) >= 30


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        pytest.param("GPTBot/1.1", "GPTBot", id="token-at-start"),
        pytest.param("(compatible; gptbot)", "GPTBot", id="case-insensitive"),
        pytest.param("xGPTBot/1.1", None, id="letter-before"),
        pytest.param("GPTBotx/1.1", None, id="letter-after"),
        pytest.param("2GPTBot", None, id="digit-before"),
        pytest.param("Bytespider", "Bytespider", id="longer-token-not-cut-to-spider"),
        pytest.param("(compatible; Spider/1.0)", "Spider", id="generic-token-alone"),
        pytest.param("Claude-SearchBot/1.0", "Claude-SearchBot", id="longest-token-wins"),
        pytest.param("GoogleOther-Image/1.0", "GoogleOther-Image", id="hyphenated-longer-token"),
        pytest.param("MistralAI-User/1.0", "MistralAI-User", id="versioned-duplicate-folded"),
        pytest.param("Meta-ExternalAgent/1.1", "Meta-ExternalAgent", id="spelling-as-in-ua"),
        pytest.param("META-EXTERNALAGENT/1.1", "meta-externalagent", id="other-case-first-listed"),
        pytest.param("Code/1.95.0", "Code", id="name-and-version-token"),
        pytest.param("(Code; Chrome)", None, id="name-and-version-token-without-version"),
    ],
)
def test_token_matching_rules(ua: str, expected: str | None) -> None:
    found = match_crawler(ua)
    assert (found.token if found else None) == expected


def test_every_robots_token_is_matchable_as_itself() -> None:
    """Longest-first alternation: no token is shadowed by a shorter one."""
    for token in CRAWLERS:
        found = match_crawler(f"Mozilla/5.0 (compatible; {token}/1.0)")
        assert found is not None, token
        base = token.split("/")[0].removesuffix(" 1.0")
        assert found.token.lower() in (token.lower(), base.lower()), token


def test_every_robots_json_entry_is_loaded() -> None:
    raw = (resources.files("ingest") / "data" / "robots.json").read_text(encoding="utf-8")
    assert list(CRAWLERS) == list(json.loads(raw))
    assert {c.kind for c in CRAWLERS.values()} == {"training", "search", "user"}


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("GPTBot", "training"),
        ("OAI-SearchBot", "search"),
        ("ChatGPT-User", "user"),
        ("ClaudeBot", "training"),
        ("Claude-SearchBot", "search"),
        ("Claude-User", "user"),
        ("PerplexityBot", "search"),
        ("Perplexity-User", "user"),
        ("Google-Extended", "training"),
        ("Applebot-Extended", "training"),
        ("CCBot", "training"),
        ("Bytespider", "training"),
        ("meta-externalagent", "training"),
        ("Amazonbot", "search"),
        ("MistralAI-User", "user"),
        ("DuckAssistBot", "search"),
        # from the prose alone (no override)
        ("anthropic-ai", "training"),
        ("AddSearchBot", "search"),
        ("Kimi-User", "user"),
        ("Google-Agent", "user"),
        ("YouBot", "search"),
    ],
)
def test_crawler_kinds(token: str, kind: str) -> None:
    assert CRAWLERS[token].kind == kind


@pytest.mark.parametrize(
    ("function", "description", "kind"),
    [
        ("AI Search Crawlers", "Builds an index. Does not train models.", "search"),
        ("AI Assistants", "a personal research assistant", "user"),
        ("AI Data Scrapers", "Description unavailable from knownagents.com", "training"),
        (
            "Undocumented AI Agents",
            "More info can be found at https://knownagents.com/agents/x",
            "training",
        ),
        ("AI Data Providers", "indexes web content for an AI search API", "search"),
        ("Takes action based on user prompts.", "", "user"),
        ("Data is sold.", "Data also sold for LLM training.", "training"),
    ],
)
def test_kind_from_prose(function: str, description: str, kind: str) -> None:
    assert crawler_kind(function, description) == kind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[OpenAI](https://openai.com)", "OpenAI"),
        ("Amazon", "Amazon"),
        ("Unclear at this time.", None),
        ("Unknown", None),
        ("https://brightdata.com/brightbot", None),
        ("Google that retrieves web content on behalf of Gemini API users", "Google"),
        ("Ai2, a non-profit AI research institute", "Ai2"),
        ("Naget Inc (founded by Chris Samarinas)", "Naget Inc"),
        ("Anyone who downloads the Lightpanda client.", None),
    ],
)
def test_clean_operator(raw: str, expected: str | None) -> None:
    assert clean_operator(raw) == expected


def test_result_is_frozen_and_cached() -> None:
    ua = HUMAN_UAS[0]
    first = classify_user_agent(ua)
    assert classify_user_agent(ua) is first
    assert classify_user_agent(f"  {ua}  ") is first
    assert _classify.cache_info().maxsize == 10_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.browser = "x"  # type: ignore[misc]
    assert isinstance(CRAWLERS["GPTBot"], Crawler)


def test_overlong_user_agent_is_cut_not_rejected() -> None:
    ua = HUMAN_UAS[0] + " " + "x" * 100_000
    result = classify_user_agent(ua)
    assert result.browser == "Chrome"
    # cut before the cache: the cut value is the cache key that holds this very result
    assert _classify(ua[:MAX_UA_CHARS]) is result


@pytest.mark.parametrize(
    "ua",
    [
        pytest.param("ChatGPT-U\u017fer/1.0", id="long-s-is-not-s"),
        pytest.param("\u212aimi-User/1.0", id="kelvin-is-not-k"),
        pytest.param("\x00\x01", id="control-characters"),
        pytest.param(b"GPTBot/1.1", id="bytes"),
        pytest.param(42, id="number"),
    ],
)
def test_odd_input_never_raises(ua: object) -> None:
    assert classify_user_agent(ua).ua_class == "bot"  # type: ignore[arg-type]
