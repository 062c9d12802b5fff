"""The admin API tests run on both backends, and factories that walk runbook steps 1-4
through it, each with a unique domain."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import postgres
from tests.alerts.conftest import slack_module  # noqa: F401 (the Slack stand-in, shared)
from tests.conftest import BACKENDS, Server, serving


@pytest.fixture(scope="package", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every admin test runs once on SQLite and once on PostgreSQL. Package scope, not the
    suite's module scope: the tests already share one server (unique domains keep them
    apart), so two servers serve the whole package instead of two per module."""
    name: str = request.param
    return name


@pytest.fixture(scope="package")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            location: Any = tmp_path_factory.mktemp("admin") / "optiview.db"
        else:
            server_url: str = request.getfixturevalue("postgres_server")
            location = stack.enter_context(postgres.fresh_database(server_url, "admin"))
        yield from serving(location)


def unique_domain() -> str:
    return f"acme-{uuid.uuid4().hex[:10]}.com"


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def org(admin: httpx.Client) -> dict[str, Any]:
    return created(
        admin.post("/orgs", json={"name": "Acme", "domain": unique_domain(), "plan": "growth"})
    )


@pytest.fixture
def project(admin: httpx.Client, org: dict[str, Any]) -> dict[str, Any]:
    return created(
        admin.post(
            f"/orgs/{org['id']}/projects",
            json={"name": "Main Website", "domain": unique_domain(), "description": "main"},
        )
    )


@pytest.fixture
def key(admin: httpx.Client, project: dict[str, Any]) -> dict[str, Any]:
    return created(
        admin.post(
            f"/properties/{project['default_property_id']}/keys",
            json={"name": "Production Website"},
        )
    )
