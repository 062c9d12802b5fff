"""A provisioned site (org, project, property, key) on the module's server, and a sender.

The `server` here follows the module's `backend`: every test that uses `site` runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests import dbprobe, postgres
from tests.conftest import ADMIN_TOKEN, Server, serving

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot"
)


@dataclass
class Site:
    server: Server
    admin: httpx.Client
    domain: str
    project_id: str
    property_id: int
    key_id: str
    secret: str

    @property
    def origin(self) -> str:
        return f"https://{self.domain}"

    def payload(self, *events: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key_id": self.key_id,
            "project_id": self.project_id,
            "property_id": self.property_id,
            "events": list(events) or [self.pageview()],
        }
        body.update(overrides)
        return body

    def pageview(self, path: str = "/", **fields: Any) -> dict[str, Any]:
        return {"type": "pageview", "url": f"{self.origin}{path}", **fields}

    def send(
        self,
        *events: dict[str, Any],
        origin: str | None = "default",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: Any = None,
        **overrides: Any,
    ) -> httpx.Response:
        """POST as the tag does: JSON as text/plain from the site's origin."""
        sent = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": CHROME}
        if origin is not None:
            sent["Origin"] = self.origin if origin == "default" else origin
        sent.update(headers or {})
        content = (
            body
            if isinstance(body, bytes)
            else orjson.dumps(body or self.payload(*events, **overrides))
        )
        return httpx.post(
            self.server.url + "/v1/events", content=content, headers=sent, params=params, timeout=10
        )

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in dbprobe.rows(self.server.db, sql, params)]

    def events(self, columns: str = "type, path, ua_class, ai_source") -> list[tuple[Any, ...]]:
        return self.rows(
            f"SELECT {columns} FROM events WHERE property_id = ? ORDER BY id", self.property_id
        )


def provision(server: Server, admin: httpx.Client) -> Site:
    domain = f"shop-{uuid.uuid4().hex[:10]}.com"
    org = admin.post("/orgs", json={"name": "Shop", "domain": domain, "plan": "pro"}).json()
    project = admin.post(
        f"/orgs/{org['id']}/projects", json={"name": "Main", "domain": domain}
    ).json()
    prop = project["default_property_id"]
    key = admin.post(f"/properties/{prop}/keys", json={"name": "Production Website"}).json()
    return Site(server, admin, domain, project["id"], prop, key["id"], key["secret"])


def provision_on(server: Server) -> Site:
    """A site on a server of the test's own (its admin client is closed afterwards)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as admin:
        return provision(server, admin)


@pytest.fixture(scope="session")
def sqlite_collect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(tmp_path_factory.mktemp("collect") / "optiview.db")


@pytest.fixture(scope="session")
def postgres_collect_server(postgres_server: str) -> Iterator[Server]:
    with postgres.fresh_database(postgres_server, "collect") as url:
        yield from serving(url)


@pytest.fixture(scope="module")
def server(backend: str, request: pytest.FixtureRequest) -> Server:
    """The server of the module's backend: every test that uses it runs on SQLite and on
    PostgreSQL. One per backend for the whole session (each test provisions a site of its own),
    so the second backend costs one server start, not one per module."""
    found: Server = request.getfixturevalue(f"{backend}_collect_server")
    return found


@pytest.fixture
def site(server: Server, admin: httpx.Client) -> Site:
    return provision(server, admin)
