"""DELETE of orgs, projects and properties over real HTTP: only with ?confirm=<id>, with every
row of theirs in one transaction, the counts in the answer, and nothing of anyone else's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.provisioning_changes.removal import STATEMENTS
from ingest.storage.migrations import migrate_database
from ingest.storage.sql import Location
from tests import dbprobe
from tests.conftest import Server
from tests.ingest.collect.conftest import Site, provision

TABLES = ("events", "sessions", "content", "ai_referrals", "api_keys")


def seed(site: Site, admin: httpx.Client, pages: int = 3) -> Site:
    """Events, sessions, content and AI referrals on the site's property, and a second key."""
    events = [site.pageview(f"/p{i}", session_id=f"s{i}") for i in range(pages)]
    events.append(site.pageview("/", referrer="https://chatgpt.com/", session_id="s-ai"))
    events.append({"type": "click", "name": "buy", "url": f"{site.origin}/p0", "session_id": "s0"})
    assert site.send(*events).status_code == 202
    admin.post(f"/properties/{site.property_id}/keys", json={"name": "Second"})
    return site


def counts(db: Location, property_id: int) -> dict[str, int]:
    found = {
        table: dbprobe.value(
            db, f"SELECT count(*) FROM {table} WHERE property_id = ?", (property_id,)
        )
        for table in TABLES
    }
    found["properties"] = dbprobe.value(
        db, "SELECT count(*) FROM properties WHERE id = ?", (property_id,)
    )
    return found


def project_of(admin: httpx.Client, site: Site) -> dict[str, Any]:
    body: dict[str, Any] = admin.get(f"/projects/{site.project_id}").json()
    return body


@pytest.fixture
def two(server: Server, admin: httpx.Client) -> tuple[Site, Site]:
    return seed(provision(server, admin), admin), seed(provision(server, admin), admin)


def test_delete_without_confirmation_is_400_with_what_would_go(
    server: Server, admin: httpx.Client, two: tuple[Site, Site]
):
    site, _ = two
    before = counts(server.db, site.property_id)
    assert before == {
        "events": 5,
        "sessions": 4,
        "content": 4,
        "ai_referrals": 1,
        "api_keys": 2,
        "properties": 1,
    }
    for params in ({}, {"confirm": "yes"}, {"confirm": str(site.property_id + 1)}):
        answer = admin.delete(f"/properties/{site.property_id}", params=params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "confirmation_required"
        detail = answer.json()["detail"]
        assert f"?confirm={site.property_id}" in detail
        assert "removes 17 rows" in detail and "events 5" in detail and "api_keys 2" in detail
    assert counts(server.db, site.property_id) == before


def test_delete_a_property_with_its_data(
    server: Server, admin: httpx.Client, two: tuple[Site, Site]
):
    site, other = two
    before, untouched = counts(server.db, site.property_id), counts(server.db, other.property_id)
    answer = admin.delete(
        f"/properties/{site.property_id}", params={"confirm": str(site.property_id)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "deleted": "property",
        "id": site.property_id,
        "rows": before,
        "total": sum(before.values()),
    }
    assert set(counts(server.db, site.property_id).values()) == {0}
    assert counts(server.db, other.property_id) == untouched
    assert admin.get(f"/properties/{site.property_id}").status_code == 404
    # The project stays, without a default property; the collector refuses the deleted key.
    assert project_of(admin, site)["properties"] == []
    refused = site.send()
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_key"
    assert other.send().status_code == 202


def test_delete_a_project_with_its_properties(
    server: Server, admin: httpx.Client, two: tuple[Site, Site]
):
    site, other = two
    extra = admin.post(
        f"/projects/{site.project_id}/properties", json={"domain": f"blog.{site.domain}"}
    ).json()
    before = counts(server.db, site.property_id)
    untouched = counts(server.db, other.property_id)
    token = admin.post(f"/projects/{site.project_id}/read-tokens", json={"name": "Partner"}).json()
    answer = admin.delete(f"/projects/{site.project_id}", params={"confirm": site.project_id})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert rows == {
        **{table: before[table] for table in TABLES},
        "project_ai_sources": 4,  # the runbook's four, enabled at creation
        "read_tokens": 1,
        "properties": 2,
        "projects": 1,
    }
    assert answer.json()["total"] == sum(rows.values())
    assert set(counts(server.db, site.property_id).values()) == {0}
    assert admin.get(f"/properties/{extra['id']}").status_code == 404
    assert admin.get(f"/projects/{site.project_id}").status_code == 404
    assert counts(server.db, other.property_id) == untouched
    assert dbprobe.rows(server.db, "SELECT 1 FROM read_tokens WHERE id = ?", (token["id"],)) == []


def test_delete_an_org_with_everything(server: Server, admin: httpx.Client, two: tuple[Site, Site]):
    site, other = two
    org_id = project_of(admin, site)["org_id"]
    second = admin.post(
        f"/orgs/{org_id}/projects", json={"name": "Second", "domain": f"x{site.domain}"}
    ).json()
    before = counts(server.db, site.property_id)
    untouched = counts(server.db, other.property_id)

    refused = admin.delete(f"/orgs/{org_id}")
    assert refused.status_code == 400
    assert f"?confirm={org_id}" in refused.json()["detail"]
    answer = admin.delete(f"/orgs/{org_id}", params={"confirm": org_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == {
        **{table: before[table] for table in TABLES},
        "project_ai_sources": 8,
        "read_tokens": 0,
        "properties": 2,
        "projects": 2,
        "purge_log": 0,
        "orgs": 1,
    }
    for path in (f"/orgs/{org_id}", f"/projects/{second['id']}", f"/projects/{site.project_id}"):
        assert admin.get(path).status_code == 404
    assert set(counts(server.db, site.property_id).values()) == {0}
    assert counts(server.db, other.property_id) == untouched
    assert other.send().status_code == 202


@pytest.mark.parametrize("path", ["/orgs/org_nope", "/projects/prj_nope", "/properties/999999999"])
def test_delete_of_an_unknown_id_is_404_with_or_without_confirmation(
    admin: httpx.Client, path: str
):
    for params in ({}, {"confirm": path.rsplit("/", 1)[1]}):
        answer = admin.delete(path, params=params)
        assert answer.status_code == 404, answer.text


def test_every_table_that_names_a_partner_is_covered(tmp_path: Path):
    """A table added later with an org_id, project_id or property_id column must be added to
    the removal statements, or deleting a partner would leave its rows behind. Read from the
    SQLite schema only: the PostgreSQL twins have the same tables and columns (a storage test
    holds the two schemas equal)."""
    db = tmp_path / "schema.db"
    migrate_database(db)
    with sqlite3.connect(db) as conn:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = [name for (name,) in conn.execute(sql)]
        naming = {
            table
            for table in tables
            for column in conn.execute(f"PRAGMA table_info({table})")
            if column[1] in ("org_id", "project_id", "property_id")
        }
    by_scope = {scope: {table for table, _ in STATEMENTS[scope]} for scope in STATEMENTS}
    assert naming <= by_scope["org"], naming - by_scope["org"]
    # Tables keyed by an org or a project alone hold nothing of a narrower scope.
    assert naming - {"purge_log"} <= by_scope["project"]
    assert (
        naming - {"purge_log", "project_ai_sources", "read_tokens", "projects"}
        <= by_scope["property"]
    )
