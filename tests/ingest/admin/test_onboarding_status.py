from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.conftest import NOT_FOUND, OK, SlackStandIn
from tests.conftest import ADMIN_TOKEN, Server, optiview, serving
from tests.ingest.admin.conftest import created, unique_domain


def items(body: dict[str, Any]) -> dict[str, bool]:
    return {item["id"]: item["done"] for item in body["items"]}


def test_checklist_follows_the_runbook(admin: httpx.Client, org: dict[str, Any]):
    project = created(
        admin.post(f"/orgs/{org['id']}/projects", json={"name": "Main", "domain": unique_domain()})
    )
    url = f"/projects/{project['id']}/onboarding-status"

    before = admin.get(url).json()
    assert before["project_id"] == project["id"]
    assert before["org_id"] == org["id"]
    assert items(before) == {
        "org_created": True,
        "project_created": True,
        "default_property": True,
        "property_active": True,
        "key_active": False,
        "events_arriving": False,
        "events_classified": False,
        "ai_sources_enabled": True,
        "slack_test_delivered": False,
        "purge_running": False,
    }
    assert before["complete"] is False
    assert (before["done"], before["total"]) == (5, 10)
    prop = project["default_property_id"]
    assert f"/api/admin/properties/{prop}/keys" in before["next_step"]
    assert f"optiview key create --property {prop}" in before["next_step"]

    key = created(admin.post(f"/properties/{prop}/keys", json={"name": "Prod"}))
    after = admin.get(url).json()
    assert [item["id"] for item in after["items"] if not item["done"]] == [
        "events_arriving",
        "events_classified",
        "slack_test_delivered",
        "purge_running",
    ]
    assert f"/api/admin/projects/{project['id']}/install" in after["next_step"]

    admin.put(f"/projects/{project['id']}/sources", json={"enabled": []})
    admin.post(f"/keys/{key['id']}/revoke")
    undone = admin.get(url).json()
    assert items(undone)["key_active"] is False
    assert items(undone)["ai_sources_enabled"] is False
    assert undone["done"] == 4  # org, project, default property, property


def test_unknown_project_is_404(admin: httpx.Client):
    response = admin.get("/projects/prj_none/onboarding-status")
    assert response.status_code == 404
    assert response.json()["detail"] == "project prj_none does not exist"


@pytest.fixture(scope="module")
def with_slack(db_location: Path | str, slack_module: SlackStandIn) -> Iterator[Server]:
    yield from serving(db_location, SLACK_WEBHOOK_URL=slack_module.url)


def slack_item(client: httpx.Client, project_id: str) -> dict[str, Any]:
    body = client.get(f"/projects/{project_id}/onboarding-status").json()
    (item,) = [i for i in body["items"] if i["id"] == "slack_test_delivered"]
    assert item["step"] == "9.2"
    return item


def test_step_9_2_is_done_once_a_test_alert_reached_slack(
    with_slack: Server, slack_module: SlackStandIn
):
    slack_module.reset()
    with httpx.Client(
        base_url=with_slack.url + "/api/admin",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ) as client:
        org = created(
            client.post(
                "/orgs", json={"name": "Acme", "domain": unique_domain(), "plan": "starter"}
            )
        )
        project = created(
            client.post(
                f"/orgs/{org['id']}/projects", json={"name": "M", "domain": unique_domain()}
            )
        )
        before = slack_item(client, project["id"])
        assert (before["done"], before["detail"]) == (False, "no test alert sent yet")
        assert "POST /api/admin/alerts/test" in before["hint"]

        slack_module.mode = NOT_FOUND  # a revoked webhook: not done, and the reason shown
        assert client.post("/alerts/test").status_code == 502
        failed = slack_item(client, project["id"])
        assert failed["done"] is False
        assert "is failed: HTTP 404: no_service" in failed["detail"]

        slack_module.mode = OK
        sent = client.post("/alerts/test").json()
        assert sent["delivery"] == "sent"
        after = slack_item(client, project["id"])
        assert after["done"] is True
        assert after["detail"].startswith(f"test alert {sent['id']} delivered ")
        assert after["hint"] is None

        # the command does the same from a shell with the webhook
        result = optiview("alerts", "test", env=with_slack.env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"alerts: test alert {sent['id'] + 1} delivered to Slack\n"
        assert slack_item(client, project["id"])["detail"].startswith(
            f"test alert {sent['id'] + 1} delivered "
        )
