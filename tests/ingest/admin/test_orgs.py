import httpx
import pytest

from tests.ingest.admin.conftest import created, unique_domain


def test_create_org_normalizes_domain_and_answers_201(admin: httpx.Client):
    domain = unique_domain()
    body = created(
        admin.post(
            "/orgs", json={"name": " Acme Corp ", "domain": f"https://WWW.{domain}/", "plan": "Pro"}
        )
    )
    assert body["id"].startswith("org_") and len(body["id"]) == 16
    assert body["name"] == "Acme Corp"
    assert body["domain"] == domain
    assert body["plan"] == "pro"
    assert body["created_at"].endswith("Z")
    assert body.pop("warnings") == []

    listed = admin.get("/orgs").json()["orgs"]
    assert body in listed
    shown = admin.get(f"/orgs/{body['id']}").json()
    assert shown == {**body, "projects": []}


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({"domain": "acme.com", "plan": "pro"}, 400, "invalid_field", "name: is required"),
        ({"name": "", "domain": "acme.com", "plan": "pro"}, 400, "invalid_field", "name: must not"),
        (
            {"name": 7, "domain": "acme.com", "plan": "pro"},
            400,
            "invalid_field",
            "name: must be a string",
        ),
        (
            {"name": "x" * 201, "domain": "acme.com", "plan": "pro"},
            400,
            "invalid_field",
            "at most 200",
        ),
        ({"name": "A", "domain": "acme.com"}, 400, "invalid_field", "plan: is required"),
        (
            {"name": "A", "domain": "acme.com", "plan": "gold"},
            400,
            "invalid_field",
            "starter, growth, pro",
        ),
        ({"name": "A", "plan": "pro"}, 400, "invalid_field", "domain: is required"),
        ({"name": "A", "domain": "localhost", "plan": "pro"}, 400, "invalid_domain", "localhost"),
        ({"name": "A", "domain": "10.1.2.3", "plan": "pro"}, 400, "invalid_domain", "IPv4"),
        ({"name": "A", "domain": "[::1]", "plan": "pro"}, 400, "invalid_domain", "IPv6"),
        ({"name": "A", "domain": "co.uk", "plan": "pro"}, 400, "invalid_domain", "public suffix"),
        ({"name": "A", "domain": "ex_ample.com", "plan": "pro"}, 400, "invalid_domain", "'_'"),
    ],
)
def test_create_org_rejects_bad_fields(
    admin: httpx.Client, payload: dict[str, object], status: int, code: str, fragment: str
):
    response = admin.post("/orgs", json=payload)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code
    assert fragment in body["detail"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "body is empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
    ],
)
def test_create_org_rejects_bad_json(admin: httpx.Client, raw: bytes, fragment: str):
    response = admin.post("/orgs", content=raw)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert fragment in response.json()["detail"]


def test_oversized_body_is_413(admin: httpx.Client):
    response = admin.post("/orgs", content=b'{"name": "' + b"x" * 70_000 + b'"}')
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_unknown_org_is_404(admin: httpx.Client):
    response = admin.get("/orgs/org_doesnotexist")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "organization org_doesnotexist does not exist",
    }


def test_wrong_method_is_405_with_json(admin: httpx.Client):
    response = admin.delete("/orgs")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
