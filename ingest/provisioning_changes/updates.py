"""PATCH of orgs, projects and properties. Each function runs inside the caller's transaction
and answers the record as it now is; a property's new state is announced to every node's
collector (ingest.collect.invalidation), which forgets its cache when the change commits."""

from __future__ import annotations

from ingest import catalog
from ingest.collect.invalidation import announce
from ingest.models import Org, Project, Property
from ingest.provisioning_changes.changes import OrgChanges, ProjectChanges, PropertyChanges
from ingest.storage.sql import Conn


def domain_claims(conn: Conn, domain: str, org_id: str | None = None) -> list[str]:
    """Warnings when other organizations already claim this domain: accepted (a partner may
    have two accounts), but never silently, since it is usually a duplicate or a typo."""
    # Not `id IS NOT ?`: PostgreSQL allows IS NOT only before NULL, TRUE or FALSE.
    sql = (
        "SELECT id, name FROM orgs WHERE domain = ? AND (? IS NULL OR id <> ?)"
        " ORDER BY created_at, id"
    )
    return [
        f"organization {other} ({name}) already claims domain {domain}"
        for other, name in conn.execute(sql, (domain, org_id, org_id))
    ]


def update_org(conn: Conn, org_id: str, changes: OrgChanges) -> tuple[Org, list[str]]:
    """Name, domain and plan; the next purge applies the new plan's retention."""
    org = catalog.get_org(conn, org_id)
    warnings = domain_claims(conn, changes.domain, org_id) if changes.domain else []
    conn.execute(
        "UPDATE orgs SET name = coalesce(?, name), domain = coalesce(?, domain),"
        " plan = coalesce(?, plan) WHERE id = ?",
        (changes.name, changes.domain, changes.plan, org.id),
    )
    return catalog.get_org(conn, org_id), warnings


def update_project(conn: Conn, project_id: str, changes: ProjectChanges) -> Project:
    catalog.get_project(conn, project_id)
    if changes.name is not None:
        conn.execute("UPDATE projects SET name = ? WHERE id = ?", (changes.name, project_id))
    if changes.description is not None:
        conn.execute(
            "UPDATE projects SET description = nullif(?, '') WHERE id = ?",
            (changes.description, project_id),
        )
    return catalog.get_project(conn, project_id)


def update_property(conn: Conn, property_id: int, changes: PropertyChanges) -> Property:
    """Deactivated, the collector refuses its events with 403 property_inactive; its keys and
    data stay, so reactivating it restores it as it was."""
    catalog.get_property(conn, property_id)
    if changes.active is not None:
        conn.execute(
            "UPDATE properties SET active = ? WHERE id = ?", (int(changes.active), property_id)
        )
        announce(conn)
    return catalog.get_property(conn, property_id)
