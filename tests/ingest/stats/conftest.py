"""Fixtures of the read API's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.storage.backend import migrate
from ingest.storage.sql import Conn, connect, returning_id
from tests import postgres
from tests.conftest import Server, serving


@pytest.fixture(scope="session")
def postgres_stats_server(postgres_server: str) -> Iterator[Server]:
    """One server on PostgreSQL for this folder's HTTP tests, as the SQLite runs share the
    session's `server`: each test provisions projects of its own, so they can share it."""
    with postgres.fresh_database(postgres_server, "stats_http") as url:
        yield from serving(url)


@pytest.fixture(scope="module")
def server(server: Server, backend: str, request: pytest.FixtureRequest) -> Server:
    """The HTTP tests of this folder on each backend: the session's SQLite server, then the
    shared PostgreSQL one (`admin` and the modules' fixtures follow it)."""
    if backend == "sqlite":
        return server
    found: Server = request.getfixturevalue("postgres_stats_server")
    return found


# What a counts test writes, emptied before each one (events and their derived tables carry no
# foreign key; orgs cascade to their projects and properties).
DATA_TABLES = ("events", "sessions", "content", "ai_referrals", "stats_quarters", "stats_hours",
               "stats_quarters_pending", "stats_hours_pending", "purge_log", "orgs")  # fmt: skip


@pytest.fixture(scope="module")
def migrated(db_location: Path | str) -> Iterator[Conn]:
    """A connection to the module's migrated database, on the module's backend."""
    migrate(db_location)
    conn = connect(db_location)
    yield conn
    conn.close()


@pytest.fixture
def db(migrated: Conn) -> Conn:
    """The module's database with no rows: a fresh one costs seconds on PostgreSQL."""
    migrated.execute("BEGIN")
    for table in DATA_TABLES:
        migrated.execute(f"DELETE FROM {table}")
    migrated.execute("UPDATE stats_folded SET events_id = 0, ai_referrals_id = 0")
    migrated.execute("COMMIT")
    return migrated


def add_org(conn: Conn, org_id: str, plan: str, properties: int = 2) -> tuple[int, ...]:
    """An org with one project and `properties` properties; their ids."""
    domain = f"{org_id.replace('_', '-')}.com"
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, ?, ?, ?, 0)",
        (org_id, org_id.title(), domain, plan),
    )
    project_id = f"prj_{org_id}"
    conn.execute(
        "INSERT INTO projects (id, org_id, name, domain, created_at) VALUES (?, ?, 'Main', ?, 0)",
        (project_id, org_id, domain),
    )
    return tuple(
        returning_id(
            conn,
            "INSERT INTO properties (project_id, domain, type, active, is_default, created_at)"
            " VALUES (?, ?, 'website', 1, ?, 0)",
            (project_id, f"www{i}.{domain}", int(i == 0)),
        )
        for i in range(properties)
    )
