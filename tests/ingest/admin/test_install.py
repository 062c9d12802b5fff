from typing import Any

import httpx

from tests.conftest import Server


def test_snippet_matches_the_runbook(
    admin: httpx.Client, server: Server, project: dict[str, Any], key: dict[str, Any]
):
    prop = project["default_property_id"]
    response = admin.get(
        f"/projects/{project['id']}/install", params={"property_id": prop, "key_id": key["id"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tag_url"] == f"{server.url}/v1/tag.js"
    assert body["snippet"] == (
        f'<script async src="{server.url}/v1/tag.js"\n'
        f'        data-key-id="{key["id"]}"\n'
        f'        data-project-id="{project["id"]}"\n'
        f'        data-property-id="{prop}"\n'
        '        data-clicks="1"\n'
        '        data-spa="1"></script>'
    )
    assert key["secret"] not in body["snippet"]


def test_defaults_to_default_property_and_newest_active_key(
    admin: httpx.Client, project: dict[str, Any], key: dict[str, Any]
):
    body = admin.get(f"/projects/{project['id']}/install").json()
    assert (body["property_id"], body["key_id"]) == (project["default_property_id"], key["id"])


def test_install_refusals(admin: httpx.Client, project: dict[str, Any], key: dict[str, Any]):
    url = f"/projects/{project['id']}/install"
    other = admin.post(
        f"/projects/{project['id']}/properties", json={"domain": f"shop.{project['domain']}"}
    ).json()

    wrong_key = admin.get(url, params={"property_id": other["id"], "key_id": key["id"]})
    assert wrong_key.status_code == 400
    assert "not linked to property" in wrong_key.json()["detail"]

    no_key = admin.get(url, params={"property_id": other["id"]})
    assert no_key.status_code == 409
    assert "no active key" in no_key.json()["detail"]

    assert admin.get(url, params={"property_id": "abc"}).status_code == 400
    assert admin.get(url, params={"property_id": 999999}).status_code == 404
    assert admin.get("/projects/prj_none/install").status_code == 404

    admin.post(f"/keys/{key['id']}/revoke")
    revoked = admin.get(url, params={"key_id": key["id"]})
    assert revoked.status_code == 409
    assert "revoked" in revoked.json()["detail"]


def test_the_snippet_alone_as_html_with_format_or_accept(
    admin: httpx.Client, project: dict[str, Any], key: dict[str, Any]
):
    url = f"/projects/{project['id']}/install"
    snippet = admin.get(url).json()["snippet"]
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for answer in (
        admin.get(url, params={"format": "html"}),
        admin.get(url, params={"format": "HTML"}, headers={"Accept": "application/json"}),
        admin.get(url, headers={"Accept": browser}),
        admin.get(url, headers={"Accept": "application/json;q=0.5, text/html"}),
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.text == snippet + "\n"
    for answer in (
        admin.get(url),
        admin.get(url, headers={"Accept": "*/*"}),
        admin.get(url, headers={"Accept": "text/html;q=0.5, application/json"}),
        admin.get(url, headers={"Accept": "text/*, application/json"}),  # a tie stays JSON
        admin.get(url, params={"format": "json"}, headers={"Accept": browser}),
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["snippet"] == snippet

    bad = admin.get(url, params={"format": "xml"})
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "invalid_field",
        "detail": bad.json()["detail"],
    }
    assert "format" in bad.json()["detail"] and "json, html" in bad.json()["detail"]
    # Errors stay JSON, whatever was asked for.
    missing = admin.get("/projects/prj_none/install", params={"format": "html"})
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
