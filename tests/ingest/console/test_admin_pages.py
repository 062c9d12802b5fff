"""The console's admin pages over real HTTP: install (snippet, pickers, verification,
checklist), sources (the toggle form), data policy (retention by plan, purge log) and health
(crons, alerts, the test-alert button reaching a local Slack stand-in)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import dbprobe
from tests.alerts.conftest import ERROR_500, SlackStandIn
from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, optiview, serving
from tests.ingest.collect.conftest import Site, provision_on
from tests.ingest.console.helpers import console, csrf_of


@pytest.fixture(scope="module")
def server(db_location: Path | str, slack_module: SlackStandIn) -> Iterator[Server]:
    """The module's server, on each backend in turn."""
    yield from serving(db_location, SLACK_WEBHOOK_URL=slack_module.url, **INLINE_WRITER)


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def site(server: Server) -> Site:
    return provision_on(server)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_install_before_the_first_event(server: Server, site: Site) -> None:
    with console(server) as client:
        page = client.get(f"/console/projects/{site.project_id}/install")
        assert page.status_code == 200
        assert f'data-key-id="{site.key_id}"' in html.unescape(page.text)  # the snippet
        assert "Waiting for the first event" in page.text
        assert "Nothing after a minute? Check" in page.text  # what to check
        verify = client.get(f"/console/projects/{site.project_id}/install/verify")
        assert verify.json()["state"] == "waiting"
        assert verify.headers["content-type"] == "application/json"


def test_install_turns_verified_with_the_first_event(server: Server, site: Site) -> None:
    path = f"/console/projects/{site.project_id}/install/verify?property_id={site.property_id}"
    with console(server) as client:
        assert client.get(path).json()["verified"] is False
        assert site.send().status_code == 202
        body = client.get(path).json()
        assert body["state"] == "verified" and body["verified"] is True
        assert body["first_event_at"].endswith("UTC (UTC+00:00)")
        page = client.get(f"/console/projects/{site.project_id}/install")
        assert "Verified: events are arriving" in page.text
        assert "Nothing after a minute?" not in page.text


def test_install_pickers_choose_property_and_key(
    server: Server, admin: httpx.Client, site: Site
) -> None:
    second = admin.post(f"/properties/{site.property_id}/keys", json={"name": "Staging"}).json()
    admin.post(f"/keys/{site.key_id}/revoke")
    with console(server) as client:
        base = f"/console/projects/{site.project_id}/install"
        page = client.get(base)
        assert f'data-key-id="{second["id"]}"' in html.unescape(page.text)  # newest active
        assert f'value="{site.key_id}"' in page.text and "(revoked)" in page.text
        chosen = client.get(base, params={"property_id": site.property_id, "key_id": second["id"]})
        assert f'data-key-id="{second["id"]}"' in html.unescape(chosen.text)
        refused = client.get(base, params={"key_id": site.key_id})
        assert refused.status_code == 200
        assert f"key {site.key_id} is revoked" in refused.text
        admin.post(f"/keys/{second['id']}/revoke")
        none_left = client.get(base)
        assert "has no active key" in none_left.text
        assert f"optiview key create --property {site.property_id}" in none_left.text


def test_the_checklist_links_each_item_to_its_console_page(
    server: Server, admin: httpx.Client, site: Site
) -> None:
    status = admin.get(f"/projects/{site.project_id}/onboarding-status").json()
    paths = {item["id"]: item["console"] for item in status["items"]}
    assert paths["events_arriving"] == f"/console/projects/{site.project_id}/install"
    assert paths["ai_sources_enabled"] == f"/console/projects/{site.project_id}/sources"
    assert paths["slack_test_delivered"] == "/console/health"
    assert paths["purge_running"] == f"/console/projects/{site.project_id}/data-policy"
    assert all(paths.values())
    with console(server) as client:
        page = client.get(f"/console/projects/{site.project_id}/install")
        for path in set(paths.values()):
            assert f'href="{path}"' in page.text
            assert client.get(path).status_code == 200, path


def test_sources_toggle_through_the_form(server: Server, admin: httpx.Client, site: Site) -> None:
    path = f"/console/projects/{site.project_id}/sources"
    with console(server) as client:
        page = client.get(path)
        assert page.text.count("checked") == 4  # the runbook's four, by default
        saved = client.post(
            path, data={"enabled": ["chatgpt", "perplexity"], "csrf_token": csrf_of(page.text)}
        )
        assert saved.status_code == 303 and saved.headers["location"] == path + "?saved=1"
        assert admin.get(f"/projects/{site.project_id}/sources").json()["enabled"] == [
            "chatgpt",
            "perplexity",
        ]
        shown = client.get(saved.headers["location"])
        assert "Saved: chatgpt, perplexity" in shown.text
        cleared = client.post(path, data={"csrf_token": csrf_of(page.text)})
        assert cleared.status_code == 303
        assert admin.get(f"/projects/{site.project_id}/sources").json()["enabled"] == []
        empty = client.get(path)
        assert "No AI source is enabled" in empty.text  # the empty state says what to do
        unknown = client.post(path, data={"enabled": "askjeeves", "csrf_token": csrf_of(page.text)})
        assert unknown.status_code == 400 and "unknown source" in unknown.text


def test_data_policy_follows_the_plan_and_shows_the_purge_log(
    server: Server, admin: httpx.Client, site: Site
) -> None:
    path = f"/console/projects/{site.project_id}/data-policy"
    with console(server) as client:
        page = text_of(client.get(path).text)
        assert "plan pro" in page
        assert "events every event the tag and the collector stored 365 days (pro)" in page
        assert "sessions visits, by their last activity 90 days" in page
        assert "ai_referrals visits that landed from an AI source 365 days" in page
        assert "The purge has never run" in page and "No purge has run yet" in page
        org_id = admin.get(f"/projects/{site.project_id}").json()["org_id"]
        admin.patch(f"/orgs/{org_id}", json={"plan": "starter"})
        assert "90 days (starter)" in text_of(client.get(path).text)
        result = optiview("purge", "run", env=server.env)
        assert result.returncode == 0, result.stderr
        after = text_of(client.get(path).text)
        assert "No purge has run yet" not in after
        assert f"{org_id} (starter)" in after and "running" in after
        logged = dbprobe.value(
            server.db,
            "SELECT count(*) FROM purge_log WHERE org_id = ? OR org_id IS NULL",
            (org_id,),
        )
        assert after.count(" ms ") >= min(logged, 50) > 0


def test_health_shows_crons_slack_and_sends_a_test_alert(
    server: Server, slack_module: SlackStandIn
) -> None:
    slack_module.reset()
    with console(server) as client:
        page = client.get("/console/health")
        assert page.status_code == 200
        words = text_of(page.text)
        assert "purge" in words and "alerts" in words and "configured" in words
        sent = client.post("/console/health/test-alert", data={"csrf_token": csrf_of(page.text)})
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/console/health?test_alert=")
        assert len(slack_module.wait_for(1)) == 1
        shown = client.get(sent.headers["location"])
        assert "delivered to Slack" in shown.text
        slack_module.script(ERROR_500, ERROR_500, ERROR_500, ERROR_500, ERROR_500)
        failed = client.post("/console/health/test-alert", data={"csrf_token": csrf_of(page.text)})
        result = client.get(failed.headers["location"])
        assert "is failed" in result.text and "The next alerts run retries it" in result.text
        slack_module.reset()


def test_health_without_slack_says_so(tmp_path: Path) -> None:
    # SQLite only: a fresh server of its own costs ~10 s more on PostgreSQL; the health page
    # on PostgreSQL (alerts recorded, crons, checks) is held by the test above.
    for bare in serving(tmp_path / "optiview.db", SLACK_WEBHOOK_URL="", **INLINE_WRITER):
        with console(bare) as client:
            page = client.get("/console/health")
            assert "not configured" in page.text and "SLACK_WEBHOOK_URL" in page.text
            assert "No alert yet" in page.text  # the empty state
            sent = client.post(
                "/console/health/test-alert", data={"csrf_token": csrf_of(page.text)}
            )
            shown = client.get(sent.headers["location"])
            assert "recorded but not sent" in shown.text
            home = client.get("/console/")
            assert "No projects yet" in home.text  # a fresh service: what to do next


def test_the_project_picker_goes_to_the_same_page_of_another_project(
    server: Server, site: Site
) -> None:
    other = provision_on(server)
    with console(server) as client:
        page = client.get(f"/console/projects/{site.project_id}/sources")
        assert f'value="{other.project_id}"' in page.text  # the admin's picker lists every one
        moved = client.get("/console/go", params={"project": other.project_id, "page": "sources"})
        assert moved.status_code == 303
        assert moved.headers["location"] == f"/console/projects/{other.project_id}/sources"
        odd = client.get("/console/go", params={"project": other.project_id, "page": "../admin"})
        assert odd.headers["location"] == f"/console/projects/{other.project_id}/install"
