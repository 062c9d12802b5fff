"""Delete an org, a project or a property with every row that belongs to it.

The statements are listed per scope, children before parents, so that each table's count is
its own (no ON DELETE CASCADE removes rows behind our back) and nothing is left pointing at a
deleted parent. `remove` runs inside the caller's transaction: all of it or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ingest import catalog
from ingest.collect.invalidation import announce
from ingest.errors import ApiError, ErrorCode
from ingest.storage.sql import Conn

Scope = Literal["org", "project", "property"]

_ORG_PROJECTS = "SELECT id FROM projects WHERE org_id = ?"
_ORG_PROPERTIES = f"SELECT id FROM properties WHERE project_id IN ({_ORG_PROJECTS})"
_PROJECT_PROPERTIES = "SELECT id FROM properties WHERE project_id = ?"

# The collector's tables carry property_id without a foreign key (see 0002_collector.sql).
_DATA_TABLES = ("events", "sessions", "content", "ai_referrals", "api_keys", "stats_quarters",
                "stats_hours", "stats_quarters_pending", "stats_hours_pending")  # fmt: skip
# The read API's rollups of the rows above (0008_stats_rollups.sql) and their pending deltas
# (0012_stats_pending.sql, PostgreSQL): deleted with them, not reported, since their row count
# says how many hours and values the data spans, not what a partner loses.
DERIVED = frozenset({"stats_quarters", "stats_hours", "stats_quarters_pending",
                     "stats_hours_pending"})  # fmt: skip

# (table, WHERE clause with one `?` for the id), in deletion order.
STATEMENTS: dict[Scope, tuple[tuple[str, str], ...]] = {
    "property": (
        *((table, "property_id = ?") for table in _DATA_TABLES),
        ("properties", "id = ?"),
    ),
    "project": (
        *((table, f"property_id IN ({_PROJECT_PROPERTIES})") for table in _DATA_TABLES),
        ("project_ai_sources", "project_id = ?"),
        ("read_tokens", "project_id = ?"),
        ("properties", "project_id = ?"),
        ("projects", "id = ?"),
    ),
    "org": (
        *((table, f"property_id IN ({_ORG_PROPERTIES})") for table in _DATA_TABLES),
        ("project_ai_sources", f"project_id IN ({_ORG_PROJECTS})"),
        ("read_tokens", f"project_id IN ({_ORG_PROJECTS})"),
        ("properties", f"project_id IN ({_ORG_PROJECTS})"),
        ("projects", "org_id = ?"),
        ("purge_log", "org_id = ?"),
        ("orgs", "id = ?"),
    ),
}


@dataclass(frozen=True)
class Removal:
    scope: Scope
    id: str | int
    rows: dict[str, int]  # table -> rows deleted (or that would be)

    def to_json(self) -> dict[str, object]:
        return {
            "deleted": self.scope,
            "id": self.id,
            "rows": self.rows,
            "total": sum(self.rows.values()),
        }

    def summary(self) -> str:
        return ", ".join(f"{table} {count}" for table, count in self.rows.items())


def _require(conn: Conn, scope: Scope, ident: str | int) -> None:
    """404 for an unknown id, before anything is counted or deleted."""
    if scope == "org":
        catalog.get_org(conn, str(ident))
    elif scope == "project":
        catalog.get_project(conn, str(ident))
    else:
        catalog.get_property(conn, int(ident))


def count_rows(conn: Conn, scope: Scope, ident: str | int) -> Removal:
    """What `remove` would delete, table by table (the dry run)."""
    _require(conn, scope, ident)
    rows = {}
    for table, where in STATEMENTS[scope]:
        if table in DERIVED:
            continue
        (count,) = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", (ident,)).fetchone()
        rows[table] = count
    return Removal(scope, ident, rows)


_TABLE: dict[Scope, str] = {"org": "orgs", "project": "projects", "property": "properties"}


def remove(conn: Conn, scope: Scope, ident: str | int) -> Removal:
    # Held first: a second node deleting the same record waits, then finds it gone (404).
    catalog.hold(conn, _TABLE[scope], ident)
    _require(conn, scope, ident)
    rows = {}
    for table, where in STATEMENTS[scope]:
        deleted = conn.execute(f"DELETE FROM {table} WHERE {where}", (ident,)).rowcount
        if table not in DERIVED:
            rows[table] = deleted
    announce(conn)  # its keys and properties must stop working on every node
    return Removal(scope, ident, rows)


def unconfirmed(would: Removal, how: str) -> ApiError:
    """400 for a deletion that did not name what it deletes, with what it would delete."""
    return ApiError(
        ErrorCode.CONFIRMATION_REQUIRED,
        f"deleting {would.scope} {would.id} removes {sum(would.rows.values())} rows for good,"
        f" in one transaction ({would.summary()}); to delete, {how}",
    )
