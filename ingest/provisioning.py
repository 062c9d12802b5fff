"""Provisioning writes (runbook steps 1-4 and 7). Each function runs inside the caller's
transaction (Storage.transaction), so a call is written whole or not at all.

A write that changes what the collector caches (keys, properties, sources) announces it in
the same transaction, so every node's collector forgets its cache when it commits (on
PostgreSQL; see ingest.collect.invalidation). A check that must still hold at COMMIT (a
domain not yet taken, a key not revoked) first holds its parent's row (catalog.hold).
"""

from __future__ import annotations

from dataclasses import replace

from ingest import catalog, domains, ids, keys
from ingest.collect.invalidation import announce
from ingest.errors import ApiError, ErrorCode, invalid_domain
from ingest.models import (
    ApiKey,
    NewKey,
    NewOrg,
    NewProject,
    NewProperty,
    Org,
    Project,
    Property,
    SourcesUpdate,
)
from ingest.sources import DEFAULT_ENABLED
from ingest.storage.sql import Conn, returning_id


def create_org(conn: Conn, new: NewOrg, now: int) -> Org:
    org = Org(ids.new_org_id(), new.name, new.domain, new.plan, now)
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, ?, ?, ?, ?)",
        (org.id, org.name, org.domain, org.plan, org.created_at),
    )
    return org


def create_project(conn: Conn, org_id: str, new: NewProject, now: int) -> tuple[Project, Property]:
    """A project on the apex, its default property on the site host given (the apex or a host
    under it), and the default AI sources."""
    catalog.hold(conn, "orgs", org_id)
    catalog.get_org(conn, org_id)
    _refuse_duplicate(conn, "projects", "org_id", org_id, new.domain)
    project = Project(
        ids.new_project_id(), org_id, new.name, new.domain, new.description, now, None
    )
    conn.execute(
        "INSERT INTO projects (id, org_id, name, domain, description, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (project.id, org_id, project.name, project.domain, project.description, now),
    )
    prop = _insert_property(conn, project.id, new.site, "website", now, default=True)
    conn.executemany(
        "INSERT INTO project_ai_sources (project_id, source, enabled, updated_at)"
        " VALUES (?, ?, 1, ?)",
        [(project.id, source, now) for source in DEFAULT_ENABLED],
    )
    announce(conn)  # a node may hold its domain as unknown
    return replace(project, default_property_id=prop.id), prop


def project_warnings(project: Project, default_property: Property) -> list[str]:
    """What an operator must know about a project just created: when its domain (the apex) is
    not the site it was created for, which pages the default property accepts."""
    if default_property.domain == project.domain:
        return []
    return [
        f"the project's domain is {project.domain} (the registrable domain of"
        f" {default_property.domain}); its default property {default_property.id} is the site"
        f" host {default_property.domain}, so the tag is accepted on pages of"
        f" {default_property.domain} only: add a property for {project.domain} or any other"
        " host of the site if it serves pages too"
    ]


def create_property(conn: Conn, project_id: str, new: NewProperty, now: int) -> Property:
    catalog.hold(conn, "projects", project_id)
    project = catalog.get_project(conn, project_id)
    try:
        domain = domains.property_domain(new.domain, project.domain)
    except domains.DomainError as exc:
        raise invalid_domain("domain", exc.reason) from None
    _refuse_duplicate(conn, "properties", "project_id", project_id, domain)
    prop = _insert_property(conn, project_id, domain, new.type, now, default=False)
    announce(conn)
    return prop


_PARENT = {"org_id": "organization", "project_id": "project"}
_CHILD = {"projects": "project", "properties": "property"}


def _refuse_duplicate(
    conn: Conn, table: str, parent_column: str, parent_id: str, domain: str
) -> None:
    """409 when the parent already has a row for this domain (checked while the parent's row
    is held, so two nodes cannot both pass; the UNIQUE constraint is the net)."""
    sql = f"SELECT id FROM {table} WHERE {parent_column} = ? AND domain = ?"
    clash = conn.execute(sql, (parent_id, domain)).fetchone()
    if clash:
        raise ApiError(
            ErrorCode.CONFLICT,
            f"{_PARENT[parent_column]} {parent_id} already has {_CHILD[table]} {clash[0]}"
            f" for domain {domain}",
        )


def _insert_property(
    conn: Conn, project_id: str, domain: str, type_: str, now: int, default: bool
) -> Property:
    property_id = returning_id(
        conn,
        "INSERT INTO properties (project_id, domain, type, active, is_default, created_at)"
        " VALUES (?, ?, ?, 1, ?, ?)",
        (project_id, domain, type_, int(default), now),
    )
    return Property(property_id, project_id, domain, type_, True, default, now)


def create_key(
    conn: Conn, property_id: int, new: NewKey, pepper: bytes, now: int
) -> tuple[ApiKey, str]:
    """A new active key; the secret is returned here and never again."""
    catalog.hold(conn, "properties", property_id)
    prop = catalog.get_property(conn, property_id)
    if not prop.active:
        raise ApiError(ErrorCode.CONFLICT, f"property {property_id} is not active")
    secret = keys.new_secret()
    key = ApiKey(
        ids.new_key_id(),
        prop.id,
        prop.project_id,
        new.name,
        "active",
        now,
        new.expires_at,
        None,
        None,
        None,
    )
    conn.execute(
        "INSERT INTO api_keys (id, property_id, name, secret_hash, status, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, 'active', ?, ?)",
        (key.id, prop.id, key.name, keys.hash_secret(secret, pepper), now, key.expires_at),
    )
    announce(conn)  # a node may hold this key id as unknown (misses are cached too)
    return key, secret


def revoke_key(conn: Conn, key_id: str, now: int) -> ApiKey:
    """Revoke a key; revoking a revoked key changes nothing (so retries are safe)."""
    catalog.hold(conn, "api_keys", key_id)
    key = catalog.get_key(conn, key_id)
    if key.status == "revoked":
        return key
    conn.execute(
        "UPDATE api_keys SET status = 'revoked', revoked_at = ? WHERE id = ?", (now, key_id)
    )
    announce(conn)
    return replace(key, status="revoked", revoked_at=now)


def rotate_key(conn: Conn, key_id: str, pepper: bytes, now: int) -> tuple[ApiKey, str]:
    """A new secret for the same key id (the tag keeps working); the old secret is refused."""
    catalog.hold(conn, "api_keys", key_id)
    key = catalog.get_key(conn, key_id)
    if key.status == "revoked":
        raise ApiError(
            ErrorCode.CONFLICT, f"key {key_id} is revoked; create a new key instead of rotating"
        )
    secret = keys.new_secret()
    conn.execute(
        "UPDATE api_keys SET secret_hash = ?, rotated_at = ? WHERE id = ?",
        (keys.hash_secret(secret, pepper), now, key_id),
    )
    announce(conn)
    return replace(key, rotated_at=now), secret


def set_sources(conn: Conn, project_id: str, update: SourcesUpdate, now: int) -> None:
    # Held: two nodes' DELETE-then-INSERT of the same project would otherwise collide.
    catalog.hold(conn, "projects", project_id)
    catalog.get_project(conn, project_id)
    conn.execute("DELETE FROM project_ai_sources WHERE project_id = ?", (project_id,))
    conn.executemany(
        "INSERT INTO project_ai_sources (project_id, source, enabled, updated_at)"
        " VALUES (?, ?, 1, ?)",
        [(project_id, source, now) for source in update.enabled],
    )
    announce(conn)
