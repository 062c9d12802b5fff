from typing import Any

import httpx
import pytest

from tests.ingest.admin.conftest import created


def test_property_on_exact_host_and_apex(admin: httpx.Client, project: dict[str, Any]):
    apex = project["domain"]
    shop = created(
        admin.post(
            f"/projects/{project['id']}/properties",
            json={"domain": f"https://www.Shop.{apex}/", "type": "app"},
        )
    )
    assert shop["domain"] == f"shop.{apex}"
    assert shop["type"] == "app"
    assert shop["active"] is True
    assert shop["is_default"] is False
    assert shop["project_id"] == project["id"]

    api = created(
        admin.post(
            f"/projects/{project['id']}/properties", json={"domain": f"api.{apex}", "type": "api"}
        )
    )
    listed = admin.get(f"/projects/{project['id']}/properties").json()["properties"]
    assert [p["id"] for p in listed] == [project["default_property_id"], shop["id"], api["id"]]
    assert admin.get(f"/properties/{shop['id']}").json() == {**shop, "keys": []}


def test_type_defaults_to_website(admin: httpx.Client, project: dict[str, Any]):
    body = created(
        admin.post(
            f"/projects/{project['id']}/properties", json={"domain": f"blog.{project['domain']}"}
        )
    )
    assert body["type"] == "website"


def test_duplicate_property_domain_is_409(admin: httpx.Client, project: dict[str, Any]):
    # the default property already holds the apex
    response = admin.post(
        f"/projects/{project['id']}/properties", json={"domain": "www." + project["domain"]}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert str(project["default_property_id"]) in response.json()["detail"]


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [
        ("other-company.com", "not within the project's domain"),
        ("localhost", "localhost"),
        ("127.0.0.1", "IPv4"),
        ("http://[2001:db8::1]/", "IPv6"),
        ("-bad-.com", "'-'"),
    ],
)
def test_bad_property_domain_is_400(
    admin: httpx.Client, project: dict[str, Any], domain: str, fragment: str
):
    response = admin.post(f"/projects/{project['id']}/properties", json={"domain": domain})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_domain"
    assert fragment in response.json()["detail"]


def test_look_alike_domains_are_refused(admin: httpx.Client, project: dict[str, Any]):
    apex = project["domain"]
    for look_alike in (f"evil-{apex}", f"{apex}.evil.net"):
        response = admin.post(f"/projects/{project['id']}/properties", json={"domain": look_alike})
        assert response.status_code == 400, look_alike


def test_bad_type_is_400(admin: httpx.Client, project: dict[str, Any]):
    response = admin.post(
        f"/projects/{project['id']}/properties",
        json={"domain": f"m.{project['domain']}", "type": "tv"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "type: must be one of website, app, api, not 'tv'"


def test_property_of_unknown_project_is_404(admin: httpx.Client):
    response = admin.post("/projects/prj_gone/properties", json={"domain": "acme.com"})
    assert response.status_code == 404
    assert admin.get("/properties/999999").status_code == 404
