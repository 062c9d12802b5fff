import httpx
import pytest

from tests.conftest import ADMIN_TOKEN

ADMIN_PATHS = [
    ("GET", "/api/admin/orgs"),
    ("POST", "/api/admin/orgs"),
    ("GET", "/api/admin/projects/prj_x/onboarding-status"),
    ("POST", "/api/admin/keys/key_x/revoke"),
    ("GET", "/api/admin/health"),
    ("GET", "/api/admin/no-such-route"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
def test_admin_api_without_token_is_401_with_reason(anon: httpx.Client, method: str, path: str):
    response = anon.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": "unauthorized",
        "detail": "missing Authorization header; send Authorization: Bearer $OPTIVIEW_ADMIN_TOKEN",
    }


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        f"Bearer{ADMIN_TOKEN}",
        f"Bearer: {ADMIN_TOKEN}",
        "Bearer x",
        f"Token {ADMIN_TOKEN}",
    ],
)
def test_wrong_token_is_401(anon: httpx.Client, header: str):
    response = anon.get("/api/admin/orgs", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid admin token"


def test_right_token_is_let_through(anon: httpx.Client):
    response = anon.get("/api/admin/orgs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert "orgs" in response.json()


def test_public_health_needs_no_token(anon: httpx.Client):
    assert anon.get("/health").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        f"bearer {ADMIN_TOKEN}",
        f"BEARER {ADMIN_TOKEN}",
        f"BeArEr {ADMIN_TOKEN}",
        f"Bearer  {ADMIN_TOKEN}",
        f"Bearer \t{ADMIN_TOKEN}",
    ],
)
def test_bearer_scheme_is_case_insensitive_as_in_the_collector(anon: httpx.Client, header: str):
    response = anon.get("/api/admin/orgs", headers={"Authorization": header})
    assert response.status_code == 200, response.text


def test_two_authorization_headers_are_refused(anon: httpx.Client):
    right = f"Bearer {ADMIN_TOKEN}"
    for pair in ([right, "Bearer wrong"], ["Bearer wrong", right], [right, right]):
        response = anon.get("/api/admin/orgs", headers=[("Authorization", v) for v in pair])
        assert response.status_code == 401
        assert response.json()["detail"] == (
            "the request has 2 Authorization headers; send exactly one"
        )
