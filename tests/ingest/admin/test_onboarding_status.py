from typing import Any

import httpx

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
        "purge_running": False,
    }
    assert before["complete"] is False
    assert (before["done"], before["total"]) == (5, 9)
    prop = project["default_property_id"]
    assert f"/api/admin/properties/{prop}/keys" in before["next_step"]
    assert f"optiview key create --property {prop}" in before["next_step"]

    key = created(admin.post(f"/properties/{prop}/keys", json={"name": "Prod"}))
    after = admin.get(url).json()
    assert [item["id"] for item in after["items"] if not item["done"]] == [
        "events_arriving",
        "events_classified",
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
