"""The Host header is the client's to choose: nothing the service answers is built from it,
except the development-only install snippet, which says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, optiview, service_env, serving

EVIL = {"Host": "evil.example"}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/health/", EVIL),
        ("/metrics/", EVIL),
        ("/v1/tag.js/", EVIL),
        ("/api/admin/orgs/", {**EVIL, **AUTH}),
        ("/api/admin/health/", {**EVIL, **AUTH}),
    ],
)
def test_no_redirect_is_built_from_host(server: Server, path: str, headers: dict[str, str]):
    response = httpx.get(server.url + path, headers=headers, follow_redirects=False, timeout=5)
    assert response.status_code == 404, response.text
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.json() == {"error": "not_found", "detail": f"no route for GET {path}"}


def install(url: str, project: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.get(
        f"{url}/api/admin/projects/{project['id']}/install",
        headers={**AUTH, **headers},
        timeout=10,
    )


def provision(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url + "/api/admin", headers=AUTH, timeout=10) as admin:
        org = admin.post("/orgs", json={"name": "A", "domain": "host-test.com", "plan": "pro"})
        project = admin.post(
            f"/orgs/{org.json()['id']}/projects", json={"name": "M", "domain": "host-test.com"}
        ).json()
        admin.post(f"/properties/{project['default_property_id']}/keys", json={"name": "k"})
        return dict(project)


def test_development_falls_back_to_the_request_and_says_so(server: Server):
    project = provision(server.url)
    body = install(server.url, project, {}).json()
    assert body["tag_url"] == f"{server.url}/v1/tag.js"
    assert "OPTIVIEW_PUBLIC_URL is not set" in body["warning"]
    assert "development only" in body["warning"]


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("production") / "optiview.db"
    optiview("migrate", env=service_env(db, OPTIVIEW_ENV="production"), check=True)
    yield from serving(db, OPTIVIEW_ENV="production", **INLINE_WRITER)


def test_production_without_public_url_refuses_the_snippet(production: Server):
    project = provision(production.url)
    response = install(production.url, project, EVIL)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "not_configured"
    assert "OPTIVIEW_PUBLIC_URL is not set" in body["detail"]
    assert "evil.example" not in response.text
    # the operator is told at start, not only when a partner asks for the snippet
    log = next(production.db.parent.glob("server-*.log")).read_text()
    assert "OPTIVIEW_PUBLIC_URL is not set: the install snippet is refused" in log


def test_production_cli_without_public_url_refuses_the_snippet(production: Server):
    project = provision(production.url)
    result = optiview("install", "--project", project["id"], env=production.env)
    assert result.returncode == 1
    assert "not_configured: OPTIVIEW_PUBLIC_URL is not set" in result.stderr
    with_url = {**production.env, "OPTIVIEW_PUBLIC_URL": "https://edge.example.com/"}
    result = optiview("install", "--project", project["id"], env=with_url)
    assert result.returncode == 0, result.stderr
    assert '"tag_url": "https://edge.example.com/v1/tag.js"' in result.stdout


@pytest.fixture(scope="module")
def production_with_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("production-url") / "optiview.db"
    optiview("migrate", env=service_env(db, OPTIVIEW_ENV="production"), check=True)
    yield from serving(
        db,
        OPTIVIEW_ENV="production",
        OPTIVIEW_PUBLIC_URL="https://edge.example.com",
        **INLINE_WRITER,
    )


def test_production_snippet_comes_from_the_public_url_only(production_with_url: Server):
    project = provision(production_with_url.url)
    body = install(production_with_url.url, project, EVIL).json()
    assert body["tag_url"] == "https://edge.example.com/v1/tag.js"
    assert "warning" not in body
    assert "evil.example" not in body["snippet"]
    log = next(production_with_url.db.parent.glob("server-*.log")).read_text()
    assert "OPTIVIEW_PUBLIC_URL is not set" not in log
