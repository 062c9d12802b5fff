"""The service's app run in the test's own process (lifespan and all), spoken to over httpx's
ASGI transport, which lets a test choose the TCP peer's address a request comes from."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ingest.app import OptiviewApp, create_app
from ingest.config import load_settings
from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, service_env


@dataclass
class App:
    app: OptiviewApp
    db: Path | str

    def client(self, peer: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=10)


@contextlib.asynccontextmanager
async def running(db: Path | str, crawler_data: Path, **env: str) -> AsyncIterator[App]:
    settings = load_settings(
        service_env(db, OPTIVIEW_CRAWLER_DATA=str(crawler_data), OPTIVIEW_WRITER="inline", **env)
    )
    app = create_app(settings)
    async with app.starlette.router.lifespan_context(app.starlette):
        yield App(app, db)


@dataclass
class Site:
    app: App
    domain: str
    project_id: str
    property_id: int
    key_id: str
    secret: str

    def body(self, *events: dict[str, Any]) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "project_id": self.project_id,
            "property_id": self.property_id,
            "events": list(events),
        }

    def pageview(self, path: str = "/", **fields: Any) -> dict[str, Any]:
        return {"type": "pageview", "url": f"https://{self.domain}{path}", **fields}

    async def forward(
        self, *events: dict[str, Any], peer: str = "127.0.0.1", debug: bool = False
    ) -> httpx.Response:
        """Server to server: the key's secret, JSON."""
        async with self.app.client(peer) as client:
            return await client.post(
                "/v1/events",
                json=self.body(*events),
                headers={"Authorization": f"Bearer {self.secret}"},
                params={"debug": "1"} if debug else None,
            )

    async def from_browser(
        self,
        *events: dict[str, Any],
        user_agent: str,
        peer: str,
        headers: dict[str, str] | None = None,
        debug: bool = False,
    ) -> httpx.Response:
        """As the tag sends: text/plain from the site's origin."""
        async with self.app.client(peer) as client:
            return await client.post(
                "/v1/events",
                json=self.body(*events),
                headers={
                    "Content-Type": "text/plain;charset=UTF-8",
                    "Origin": f"https://{self.domain}",
                    "User-Agent": user_agent,
                    **(headers or {}),
                },
                params={"debug": "1"} if debug else None,
            )

    def events(self, columns: str) -> list[tuple[Any, ...]]:
        found = dbprobe.rows(
            self.app.db,
            f"SELECT {columns} FROM events WHERE property_id = ? ORDER BY id",
            (self.property_id,),
        )
        return [tuple(row) for row in found]


async def provision(app: App) -> Site:
    domain = f"shop-{uuid.uuid4().hex[:10]}.com"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with app.client() as client:
        client.headers.update(headers)
        org = (
            await client.post(
                "/api/admin/orgs", json={"name": "Shop", "domain": domain, "plan": "pro"}
            )
        ).json()
        project = (
            await client.post(
                f"/api/admin/orgs/{org['id']}/projects", json={"name": "Main", "domain": domain}
            )
        ).json()
        prop = project["default_property_id"]
        key = (
            await client.post(f"/api/admin/properties/{prop}/keys", json={"name": "Server"})
        ).json()
    return Site(app, domain, project["id"], prop, key["id"], key["secret"])
