"""Two nodes' admin writes on the same record at the same moment, on PostgreSQL.

SQLite runs one writer at a time (BEGIN IMMEDIATE), so a check made inside a write transaction
still holds at its COMMIT. PostgreSQL's READ COMMITTED does not: two transactions may both find
a domain free and both insert. Each test opens the first transaction and leaves it uncommitted,
starts the second on another connection (as another node would), then commits the first: the
second must give the answer SQLite gives in that order (a 409, a 404, a clean replace), never
a constraint error (a 500).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from ingest import catalog, provisioning, provisioning_changes
from ingest.admin import routes
from ingest.errors import ApiError
from ingest.models import NewOrg, NewProject, NewProperty, SourcesUpdate
from ingest.storage.backend import migrate, open_database
from ingest.storage.sql import Conn, connect
from tests.ingest.admin.conftest import unique_domain

T = TypeVar("T")
NOW = 1_800_000_000_000


@pytest.fixture(scope="module")
def database(postgres_db: str) -> str:
    migrate(postgres_db)
    return postgres_db


@pytest.fixture
def first(database: str) -> Iterator[Conn]:
    conn = connect(database)
    yield conn
    conn.close()


def committed(database: str, work: Callable[[Conn], T]) -> T:
    conn = connect(database)
    try:
        conn.execute("BEGIN")
        result = work(conn)
        conn.execute("COMMIT")
        return result
    finally:
        conn.close()


class Second(threading.Thread):
    """The other node's transaction, run while the first is still open."""

    def __init__(self, database: str, work: Callable[[Conn], Any]) -> None:
        super().__init__(daemon=True)
        self.database, self.work = database, work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = committed(self.database, self.work)
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.join(timeout=10)
        assert not self.is_alive(), "the second transaction never finished"
        if self.error is not None:
            raise self.error
        return self.result


def race(database: str, first: Conn, work: Callable[[Conn], Any]) -> Second:
    """`work` in the open first transaction, then in a second that starts before COMMIT."""
    first.execute("BEGIN")
    work(first)
    second = Second(database, work)
    second.start()
    second.join(timeout=0.5)  # it waits for the first, or it would already be done
    assert second.is_alive(), "the second transaction did not wait for the first"
    first.execute("COMMIT")
    return second


def new_org(database: str) -> str:
    org = NewOrg("Acme", unique_domain(), "pro")
    return committed(database, lambda conn: provisioning.create_org(conn, org, NOW)).id


def test_two_projects_for_one_domain_give_one_and_a_409(database: str, first: Conn) -> None:
    org_id, domain = new_org(database), unique_domain()
    new = NewProject("Main", domain, None, domain)
    second = race(database, first, lambda conn: provisioning.create_project(conn, org_id, new, NOW))
    with pytest.raises(ApiError) as refused:
        second.outcome()
    assert refused.value.status == 409
    assert "already has project prj_" in refused.value.detail and domain in refused.value.detail
    projects = committed(database, lambda conn: catalog.list_projects(conn, org_id))
    assert [p.domain for p in projects] == [domain]


def test_two_properties_for_one_host_give_one_and_a_409(database: str, first: Conn) -> None:
    org_id, domain = new_org(database), unique_domain()
    project, _ = committed(
        database,
        lambda conn: provisioning.create_project(
            conn, org_id, NewProject("Main", domain, None, domain), NOW
        ),
    )
    new = NewProperty(f"shop.{domain}", "website")
    second = race(
        database, first, lambda conn: provisioning.create_property(conn, project.id, new, NOW)
    )
    with pytest.raises(ApiError) as refused:
        second.outcome()
    assert refused.value.status == 409 and f"shop.{domain}" in refused.value.detail


def test_two_source_updates_leave_the_second_whole(database: str, first: Conn) -> None:
    org_id, domain = new_org(database), unique_domain()
    project, _ = committed(
        database,
        lambda conn: provisioning.create_project(
            conn, org_id, NewProject("Main", domain, None, domain), NOW
        ),
    )
    update = SourcesUpdate(("claude", "copilot"))
    second = race(
        database, first, lambda conn: provisioning.set_sources(conn, project.id, update, NOW)
    )
    second.outcome()
    enabled = committed(database, lambda conn: catalog.enabled_sources(conn, project.id))
    assert enabled == {"claude", "copilot"}


def test_a_project_deleted_twice_is_gone_for_the_second(database: str, first: Conn) -> None:
    org_id, domain = new_org(database), unique_domain()
    project, _ = committed(
        database,
        lambda conn: provisioning.create_project(
            conn, org_id, NewProject("Main", domain, None, domain), NOW
        ),
    )
    second = race(
        database, first, lambda conn: provisioning_changes.remove(conn, "project", project.id)
    )
    with pytest.raises(ApiError) as refused:
        second.outcome()
    assert refused.value.status == 404


@pytest.mark.asyncio
async def test_a_write_a_constraint_still_refuses_is_a_409_on_both_backends(
    db_location: Path | str,
) -> None:
    """The net under the held rows: a UNIQUE violation is a 409 to repeat, never a 500."""
    migrate(db_location)
    storage = await open_database(db_location)
    request: Any = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(optiview=SimpleNamespace(db=storage)))
    )
    insert = (
        "INSERT INTO orgs (id, name, domain, plan, created_at)"
        " VALUES ('org_twice', 'A', 'a.example', 'pro', 0)"
    )
    try:
        await routes._write(request, lambda conn: conn.execute(insert))
        with pytest.raises(ApiError) as refused:
            await routes._write(request, lambda conn: conn.execute(insert))
        assert refused.value.status == 409 and "repeat it" in refused.value.detail
    finally:
        await storage.close()
