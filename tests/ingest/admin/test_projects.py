from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.ingest.admin.conftest import created, unique_domain


def test_project_gets_apex_domain_and_default_property(admin: httpx.Client, org: dict[str, Any]):
    apex = unique_domain()
    body = created(
        admin.post(
            f"/orgs/{org['id']}/projects",
            json={"name": "Main Website", "domain": f"https://www.{apex}:443/path"},
        )
    )
    assert body["id"].startswith("prj_")
    assert body["domain"] == apex
    assert body["description"] is None
    assert "warnings" not in body  # www. is the apex's own site
    default = body["default_property"]
    assert body["default_property_id"] == default["id"]
    assert isinstance(default["id"], int)
    assert default == {
        **default,
        "domain": apex,
        "type": "website",
        "active": True,
        "is_default": True,
        "project_id": body["id"],
    }

    # runbook 2.2: the project appears in the org's project list
    listed = admin.get(f"/orgs/{org['id']}/projects").json()["projects"]
    assert [p["id"] for p in listed] == [body["id"]]
    shown = admin.get(f"/projects/{body['id']}").json()
    assert shown["properties"] == [default]


def test_a_subdomain_project_keeps_the_site_host_on_its_default_property_and_warns(
    admin: httpx.Client, org: dict[str, Any], server: Server
):
    """The subdomain trap: `blog.example.co.uk` made a project and a default property on
    `example.co.uk`, silently, and the partner's real site was then refused."""
    apex = unique_domain().removesuffix(".com") + ".co.uk"
    body = created(
        admin.post(
            f"/orgs/{org['id']}/projects",
            json={"name": "Blog", "domain": f"https://Blog.{apex}/posts/1"},
        )
    )
    assert body["domain"] == apex  # runbook 2.1: the project is the registrable domain
    default = body["default_property"]
    assert default["domain"] == f"blog.{apex}"
    assert default["is_default"] is True
    (warning,) = body["warnings"]
    assert apex in warning and f"blog.{apex}" in warning
    assert admin.get(f"/projects/{body['id']}").json()["properties"] == [default]

    # The partner's real site is accepted by the collector (it was refused before).
    key = created(admin.post(f"/properties/{default['id']}/keys", json={"name": "Site"}))
    event = {"type": "pageview", "url": f"https://blog.{apex}/posts/1"}
    sent = httpx.post(
        f"{server.url}/v1/events",
        json={
            "key_id": key["id"],
            "project_id": body["id"],
            "property_id": default["id"],
            "events": [event],
        },
        headers={"Origin": f"https://blog.{apex}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text


def test_same_domain_twice_in_one_org_is_409(admin: httpx.Client, project: dict[str, Any]):
    response = admin.post(
        f"/orgs/{project['org_id']}/projects",
        json={"name": "Again", "domain": "www." + project["domain"]},
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert project["id"] in response.json()["detail"]


def test_project_in_unknown_org_is_404_and_writes_nothing(admin: httpx.Client):
    response = admin.post(
        "/orgs/org_missing/projects", json={"name": "X", "domain": unique_domain()}
    )
    assert response.status_code == 404
    assert "org_missing" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        ({"domain": "acme.com"}, "invalid_field", "name: is required"),
        ({"name": "X"}, "invalid_field", "domain: is required"),
        ({"name": "X", "domain": "localhost"}, "invalid_domain", "localhost"),
        ({"name": "X", "domain": "192.168.0.1"}, "invalid_domain", "IPv4"),
        ({"name": "X", "domain": "github.io"}, "invalid_domain", "public suffix"),
        ({"name": "X", "domain": "example.internal"}, "invalid_domain", "no known public"),
        ({"name": "X", "domain": "exa mple.com"}, "invalid_domain", "' '"),
        ({"name": "X", "domain": "acme.com", "description": 5}, "invalid_field", "description"),
    ],
)
def test_bad_project_fields_are_400(
    admin: httpx.Client, org: dict[str, Any], payload: dict[str, object], code: str, fragment: str
):
    response = admin.post(f"/orgs/{org['id']}/projects", json=payload)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert fragment in response.json()["detail"]
    assert admin.get(f"/orgs/{org['id']}/projects").json()["projects"] == []


def test_unknown_project_is_404(admin: httpx.Client):
    assert admin.get("/projects/prj_nope").status_code == 404
    assert admin.get("/projects/prj_nope/properties").status_code == 404
    assert admin.get("/orgs/org_nope/projects").status_code == 404
