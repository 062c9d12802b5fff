"""Factories that walk runbook steps 1-4 through the admin API, each with a unique domain."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.alerts.conftest import slack_module  # noqa: F401 (the Slack stand-in, shared)


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
