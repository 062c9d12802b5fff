"""POST /v1/events over real HTTP: every answer, and what each accepted event leaves behind."""

import time

import httpx
import orjson
import pytest

from tests.ingest.collect.conftest import CHROME, GPTBOT, Site


def test_pageview_is_committed_before_202_with_cors_echo(site: Site):
    response = site.send(
        site.pageview(
            "/blog/hello?utm_medium=x",
            title="Hello",
            referrer="https://www.google.com/",
            session_id="s1",
            ts=1732100000000,
        )
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert response.headers["access-control-allow-origin"] == site.origin
    assert "Origin" in response.headers["vary"]
    (row,) = site.events(
        "type, url, path, referrer, referrer_host, title, ua_class, browser, os, device,"
        " ai_source, session_id, ts, received_at, key_id, project_id"
    )
    assert row[:12] == (
        "pageview",
        f"{site.origin}/blog/hello?utm_medium=x",
        "/blog/hello",
        "https://www.google.com/",
        "google.com",
        "Hello",
        "human",
        "Chrome",
        "Windows",
        "desktop",
        None,
        "s1",
    )
    assert row[12] == 1732100000000
    assert abs(row[13] - time.time() * 1000) < 60_000
    assert row[14:] == (site.key_id, site.project_id)


def test_application_json_from_a_server_works_too(site: Site):
    response = site.send(
        origin=None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {site.secret}"},
    )
    assert response.status_code == 202
    assert "access-control-allow-origin" not in response.headers


def test_sessions_and_content_are_kept(site: Site):
    site.send(
        site.pageview(
            "/pricing", title="Pricing", session_id="s2", referrer="https://chatgpt.com/"
        ),
        {"type": "click", "url": f"{site.origin}/pricing", "session_id": "s2", "name": "cta"},
    )
    site.send(site.pageview("/pricing", title="Pricing v2", session_id="s2"))
    sessions = site.rows(
        "SELECT id, entry_path, referrer, ai_source, pageviews, events, ua_class FROM sessions"
        " WHERE property_id = ?",
        site.property_id,
    )
    assert sessions == [("s2", "/pricing", "https://chatgpt.com/", "chatgpt", 2, 3, "human")]
    content = site.rows(
        "SELECT path, title, content_type, views, ai_views, crawler_views FROM content"
        " WHERE property_id = ?",
        site.property_id,
    )
    assert content == [("/pricing", "Pricing v2", "pricing", 2, 1, 0)]


def test_ai_referral_by_referrer_and_by_utm_source(site: Site):
    site.send(
        site.pageview("/docs/a", referrer="https://chatgpt.com/", session_id="a"),
        site.pageview("/docs/b?utm_source=chatgpt.com", session_id="b"),
        site.pageview("/docs/c", referrer="https://www.perplexity.ai/search?q=x", session_id="c"),
        site.pageview("/docs/d", referrer="https://duckduckgo.com/", session_id="d"),
    )
    assert [r[3] for r in site.events()] == ["chatgpt", "chatgpt", "perplexity", None]
    referrals = site.rows(
        "SELECT ai_source, via, path, session_id FROM ai_referrals WHERE property_id = ?"
        " ORDER BY id",
        site.property_id,
    )
    assert referrals == [
        ("chatgpt", "referrer", "/docs/a", "a"),
        ("chatgpt", "utm_source", "/docs/b", "b"),
        ("perplexity", "referrer", "/docs/c", "c"),
    ]


def test_sources_not_enabled_are_not_attributed_but_the_referrer_is_kept(site: Site):
    copilot = "https://copilot.microsoft.com/"
    response = site.send(site.pageview("/x", referrer=copilot), params={"debug": "1"})
    (fate,) = response.json()["debug"]["events"]
    assert fate["ai_source"] is None
    assert "copilot" in fate["ai_source_note"] and "not enabled" in fate["ai_source_note"]
    site.admin.put(f"/projects/{site.project_id}/sources", json={"enabled": ["chatgpt", "copilot"]})
    site.send(site.pageview("/y", referrer=copilot))
    rows = site.events("path, referrer, ai_source")
    assert rows == [("/x", copilot, None), ("/y", copilot, "copilot")]


def test_bots_and_ai_crawlers_are_stored_and_labelled(site: Site):
    auth = {"Authorization": f"Bearer {site.secret}"}
    site.send(site.pageview("/"), origin=None, headers={**auth, "User-Agent": GPTBOT})
    forwarded = site.pageview(
        "/about", user_agent="Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"
    )
    site.send(forwarded, origin=None, headers=auth)
    # a browser may not claim another user agent: only servers forward them
    site.send(site.pageview("/c", user_agent=GPTBOT))
    rows = site.events("path, ua_class, crawler, crawler_kind")
    assert rows == [
        ("/", "ai_crawler", "GPTBot", "training"),
        ("/about", "ai_crawler", "ClaudeBot", "training"),
        ("/c", "human", None, None),
    ]
    crawled = site.rows(
        "SELECT path, views, crawler_views FROM content WHERE property_id = ? ORDER BY path",
        site.property_id,
    )
    assert crawled == [("/", 0, 1), ("/about", 0, 1), ("/c", 1, 0)]


def test_debug_explains_each_event(site: Site):
    response = site.send(
        site.pageview("/blog/x", referrer="https://claude.ai/chat/1"),
        {"type": "conversion", "name": "signup", "props": {"plan": "pro"}},
        params={"debug": "1"},
    )
    assert response.status_code == 202
    debug = response.json()["debug"]
    assert debug["committed"] is True
    assert debug["authorized_by"] == f"origin {site.origin}"
    first, second = debug["events"]
    assert (first["index"], first["fate"], first["ai_source"], first["content_type"]) == (
        0,
        "stored",
        "claude",
        "blog",
    )
    assert [s["step"] for s in first["steps"]] == [
        "user_agent",
        "crawler",
        "site",
        "page",
        "ai_source",
        "country",
    ]
    assert (second["type"], second["ua_class"], second["path"]) == ("conversion", "human", None)


def test_every_refusal_answers_json_with_a_reason(site: Site):
    cases = [
        (site.send(body=b"{not json"), 400, "invalid_json"),
        (site.send(events=[{"type": "nope"}]), 400, "invalid_field"),
        (site.send(key_id="key_doesnotexist00"), 401, "invalid_key"),
        (site.send(property_id=site.property_id + 100000), 403, "key_not_linked"),
        (site.send(project_id="prj_other"), 403, "key_not_linked"),
        (site.send(origin="https://evil.com"), 403, "origin_not_allowed"),
        (site.send(origin=None), 403, "origin_not_allowed"),
        (
            site.send(origin=None, headers={"Authorization": "Bearer ovsk_wrong"}),
            401,
            "invalid_key",
        ),
        (site.send(headers={"Authorization": "Basic x"}), 401, "invalid_key"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
        assert response.json()["detail"]
    assert site.events() == []


def test_errors_from_a_registered_site_are_readable_there_but_not_elsewhere(site: Site):
    bad = site.send(events=[{"type": "nope"}])
    assert bad.headers["access-control-allow-origin"] == site.origin
    foreign = site.send(origin="https://evil.com")
    assert "access-control-allow-origin" not in foreign.headers


def test_revoked_key_is_refused_at_once(site: Site):
    assert site.send().status_code == 202
    site.admin.post(f"/keys/{site.key_id}/revoke")
    response = site.send()
    assert response.status_code == 401
    assert response.json()["error"] == "key_revoked"


def test_rotated_secret_replaces_the_old_one(site: Site):
    rotated = site.admin.post(f"/keys/{site.key_id}/rotate").json()["secret"]
    old = site.send(origin=None, headers={"Authorization": f"Bearer {site.secret}"})
    new = site.send(origin=None, headers={"Authorization": f"Bearer {rotated}"})
    assert (old.status_code, new.status_code) == (401, 202)
    assert site.send().status_code == 202  # the tag (key id and origin) keeps working


def test_expired_key_is_refused(site: Site, admin: httpx.Client):
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    key = admin.post(
        f"/properties/{site.property_id}/keys", json={"name": "short", "expires_at": soon}
    ).json()
    time.sleep(3)
    response = site.send(key_id=key["id"])
    assert response.status_code == 401
    assert response.json()["error"] == "key_expired"


def test_body_limits(site: Site):
    big_title = "t" * 500
    events = [
        site.pageview(f"/{i}", title=big_title, props={f"k{j}": "v" * 500 for j in range(30)})
        for i in range(5)
    ]
    payload = orjson.dumps(site.payload(*events))
    assert 64 * 1024 < len(payload) < 1024 * 1024
    browser = site.send(body=payload)
    assert browser.status_code == 413
    assert browser.json()["error"] == "payload_too_large"
    server = site.send(
        body=payload, origin=None, headers={"Authorization": f"Bearer {site.secret}"}
    )
    assert server.status_code == 202
    huge = site.send(
        body=b" " * (1024 * 1024 + 1),
        origin=None,
        headers={"Authorization": f"Bearer {site.secret}"},
    )
    assert huge.status_code == 413


def test_install_verify_and_onboarding_report_the_first_event(site: Site):
    url = f"/projects/{site.project_id}/install/verify"
    assert site.admin.get(url).json() == {
        "project_id": site.project_id,
        "property_id": None,
        "verified": False,
        "first_event_at": None,
        "last_event_at": None,
    }
    site.send()
    verified = site.admin.get(url, params={"property_id": site.property_id}).json()
    assert verified["verified"] is True
    assert verified["first_event_at"] == verified["last_event_at"]
    status = site.admin.get(f"/projects/{site.project_id}/onboarding-status").json()
    item = next(i for i in status["items"] if i["id"] == "events_arriving")
    assert item["done"] is True
    assert status["first_event_at"] == verified["first_event_at"]
    assert site.admin.get(url, params={"property_id": 99999999}).status_code == 404


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://{d}", True),
        ("https://www.{d}", True),
        ("http://{d}", True),
        ("https://{d}:8443", True),
        ("http://www.{d}:3000", True),
        ("https://shop.{d}", False),
        ("https://{d}.evil.net", False),
        ("https://evil-{d}", False),
        ("https://evil.com", False),
        ("null", False),
    ],
)
def test_cors_matrix(site: Site, origin: str, allowed: bool):
    origin = origin.format(d=site.domain)
    response = site.send(origin=origin)
    assert response.status_code == (202 if allowed else 403)
    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)
    preflight = httpx.options(
        site.server.url + "/v1/events",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    # a preflight has no body, so it is allowed for any registered site, not per property
    if allowed:
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        assert preflight.headers["access-control-max-age"] == "7200"
        assert "POST" in preflight.headers["access-control-allow-methods"]
    else:
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers


def test_metrics_count_answers(site: Site):
    site.send()
    text = httpx.get(site.server.url + "/metrics").text
    assert 'optiview_collector_requests_total{status="202"}' in text
    assert "optiview_enrich_steps_total" in text
    assert "optiview_write_flush_seconds_bucket" in text


def test_user_agent_from_the_header_is_classified(site: Site):
    site.send(
        headers={
            "User-Agent": CHROME.replace(
                "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7"
            )
        }
    )
    assert site.events("os, device") == [("Mac OS X", "desktop")]
