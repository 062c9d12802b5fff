"""Reads of provisioning records; each getter raises a 404 ApiError for an unknown id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingest.errors import not_found
from ingest.models import ApiKey, Org, Project, Property
from ingest.storage.sql import Conn, dialect_of

_ORG = "SELECT id, name, domain, plan, created_at FROM orgs"
_PROJECT = """SELECT p.id, p.org_id, p.name, p.domain, p.description, p.created_at,
    (SELECT id FROM properties WHERE project_id = p.id AND is_default = 1) AS default_property_id
    FROM projects AS p"""
_PROPERTY = "SELECT id, project_id, domain, type, active, is_default, created_at FROM properties"
_KEY = """SELECT k.id, k.property_id, p.project_id, k.name, k.status, k.created_at, k.expires_at,
    k.revoked_at, k.rotated_at, k.last_used_at
    FROM api_keys AS k JOIN properties AS p ON p.id = k.property_id"""


# The records a write may hold (`hold`) while it checks and changes them.
_HELD = frozenset({"orgs", "projects", "properties", "api_keys", "read_tokens"})


def hold(conn: Conn, table: str, ident: str | int) -> None:
    """Hold the record's row until COMMIT, waiting for any other writer of it first.

    SQLite's BEGIN IMMEDIATE already runs one writer at a time. PostgreSQL's READ COMMITTED
    lets two nodes' transactions check the same thing at once (is the domain free? is the key
    still active?) and both act on the answer; the row lock makes the second wait, and its
    next statement sees what the first committed, so both backends answer the same.
    """
    assert table in _HELD, table
    if dialect_of(conn) == "postgres":
        conn.execute(f"SELECT 1 FROM {table} WHERE id = ? FOR UPDATE", (ident,))


def _rows(conn: Conn, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    return conn.execute(sql, tuple(params)).fetchall()


def _org(row: Any) -> Org:
    return Org(*row)


def _project(row: Any) -> Project:
    return Project(*row)


def _property(row: Any) -> Property:
    return Property(
        id=row[0],
        project_id=row[1],
        domain=row[2],
        type=row[3],
        active=bool(row[4]),
        is_default=bool(row[5]),
        created_at=row[6],
    )


def _key(row: Any) -> ApiKey:
    return ApiKey(*row)


def get_org(conn: Conn, org_id: str) -> Org:
    rows = _rows(conn, f"{_ORG} WHERE id = ?", [org_id])
    if not rows:
        raise not_found("organization", org_id)
    return _org(rows[0])


def list_orgs(conn: Conn) -> list[Org]:
    return [_org(r) for r in _rows(conn, f"{_ORG} ORDER BY created_at, id")]


def get_project(conn: Conn, project_id: str) -> Project:
    rows = _rows(conn, f"{_PROJECT} WHERE p.id = ?", [project_id])
    if not rows:
        raise not_found("project", project_id)
    return _project(rows[0])


def list_projects(conn: Conn, org_id: str) -> list[Project]:
    sql = f"{_PROJECT} WHERE p.org_id = ? ORDER BY p.created_at, p.id"
    return [_project(r) for r in _rows(conn, sql, [org_id])]


def get_property(conn: Conn, property_id: int) -> Property:
    rows = _rows(conn, f"{_PROPERTY} WHERE id = ?", [property_id])
    if not rows:
        raise not_found("property", property_id)
    return _property(rows[0])


def list_properties(conn: Conn, project_id: str) -> list[Property]:
    sql = f"{_PROPERTY} WHERE project_id = ? ORDER BY id"
    return [_property(r) for r in _rows(conn, sql, [project_id])]


def get_key(conn: Conn, key_id: str) -> ApiKey:
    rows = _rows(conn, f"{_KEY} WHERE k.id = ?", [key_id])
    if not rows:
        raise not_found("key", key_id)
    return _key(rows[0])


def list_keys(conn: Conn, property_id: int) -> list[ApiKey]:
    sql = f"{_KEY} WHERE k.property_id = ? ORDER BY k.created_at, k.id"
    return [_key(r) for r in _rows(conn, sql, [property_id])]


def enabled_sources(conn: Conn, project_id: str) -> set[str]:
    sql = "SELECT source FROM project_ai_sources WHERE project_id = ? AND enabled = 1"
    return {r[0] for r in _rows(conn, sql, [project_id])}
