"""PATCH of orgs, projects and properties over real HTTP, and what the collector then says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.ingest.admin.conftest import created, unique_domain
from tests.ingest.collect.conftest import provision


def test_org_name_and_plan_change(admin: httpx.Client, org: dict[str, Any]):
    answer = admin.patch(f"/orgs/{org['id']}", json={"name": "Acme Corp", "plan": "pro"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == {**org, "name": "Acme Corp", "plan": "pro", "warnings": []}
    shown = admin.get(f"/orgs/{org['id']}").json()
    assert (shown["name"], shown["plan"], shown["domain"]) == ("Acme Corp", "pro", org["domain"])

    again = admin.patch(f"/orgs/{org['id']}", json={"plan": "STARTER"}).json()
    assert (again["name"], again["plan"]) == ("Acme Corp", "starter")


def test_project_name_and_description_change(admin: httpx.Client, project: dict[str, Any]):
    body = admin.patch(
        f"/projects/{project['id']}", json={"name": "Shop", "description": "the shop"}
    ).json()
    assert (body["name"], body["description"], body["domain"]) == (
        "Shop",
        "the shop",
        project["domain"],
    )
    cleared = admin.patch(f"/projects/{project['id']}", json={"description": None}).json()
    assert (cleared["name"], cleared["description"]) == ("Shop", None)
    assert admin.get(f"/projects/{project['id']}").json()["description"] is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/orgs/org_nope", {"name": "x"}),
        ("/projects/prj_nope", {"name": "x"}),
        ("/properties/999999999", {"active": False}),
    ],
)
def test_unknown_ids_are_404(admin: httpx.Client, path: str, body: dict[str, Any]):
    answer = admin.patch(path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"


def test_bad_fields_are_400_naming_the_field(admin: httpx.Client, project: dict[str, Any]):
    org_path = f"/orgs/{project['org_id']}"
    cases = [
        (org_path, {"plan": "platinum"}, "plan: must be one of starter, growth, pro"),
        (org_path, {"name": ""}, "name: must not be empty"),
        (org_path, {}, "give at least one of name, plan, domain"),
        (org_path, {"domain": "localhost"}, "domain: "),
        (f"/projects/{project['id']}", {"domain": "other.com"}, "domain: cannot be changed"),
        (f"/projects/{project['id']}", {"name": 7}, "name: must be a string"),
        (f"/properties/{project['default_property_id']}", {"active": "no"}, "active: must be"),
        (f"/properties/{project['default_property_id']}", {"type": "app"}, "type: cannot"),
        ("/properties/abc", {"active": True}, "property_id"),
    ]
    for path, body, fragment in cases:
        answer = admin.patch(path, json=body)
        assert answer.status_code == 400, (path, body, answer.text)
        assert fragment in answer.json()["detail"], (body, answer.json())
    assert admin.get(org_path).json()["plan"] == "growth"


def test_two_orgs_claiming_a_domain_get_a_warning(admin: httpx.Client, org: dict[str, Any]):
    twin = created(
        admin.post("/orgs", json={"name": "Acme 2", "domain": org["domain"], "plan": "starter"})
    )
    assert twin["warnings"] == [
        f"organization {org['id']} (Acme) already claims domain {org['domain']}"
    ]
    other = created(
        admin.post("/orgs", json={"name": "Other", "domain": unique_domain(), "plan": "starter"})
    )
    assert other["warnings"] == []
    moved = admin.patch(f"/orgs/{other['id']}", json={"domain": "www." + org["domain"]}).json()
    assert moved["domain"] == org["domain"]
    assert len(moved["warnings"]) == 2 and org["id"] in moved["warnings"][0]
    # Its own domain is no clash.
    assert admin.patch(f"/orgs/{org['id']}", json={"name": "Acme"}).json()["warnings"] == []


def preflight(server: Server, origin: str) -> httpx.Response:
    return httpx.options(
        server.url + "/v1/events",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )


def test_deactivated_property_is_refused_with_the_reason(server: Server, admin: httpx.Client):
    site = provision(server, admin)
    assert site.send().status_code == 202
    assert preflight(server, site.origin).status_code == 204

    off = admin.patch(f"/properties/{site.property_id}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False

    refused = site.send()
    assert refused.status_code == 403
    assert refused.json()["error"] == "property_inactive"
    detail = refused.json()["detail"]
    assert f"property {site.property_id} ({site.domain}) is deactivated" in detail
    assert f"PATCH /api/admin/properties/{site.property_id}" in detail
    server_side = site.send(origin=None, headers={"Authorization": f"Bearer {site.secret}"})
    assert server_side.status_code == 403
    assert server_side.json()["error"] == "property_inactive"
    blocked = preflight(server, site.origin)
    assert blocked.status_code == 403
    assert blocked.json()["error"] == "property_inactive"
    assert str(site.property_id) in blocked.json()["detail"]
    assert "access-control-allow-origin" not in blocked.headers
    stranger = preflight(server, "https://nobody-" + site.domain)
    assert stranger.json()["error"] == "origin_not_allowed"

    on = admin.patch(f"/properties/{site.property_id}", json={"active": True})
    assert on.json()["active"] is True
    assert site.send().status_code == 202
    assert preflight(server, site.origin).status_code == 204
    assert len(site.events()) == 2  # nothing was stored while it was deactivated
