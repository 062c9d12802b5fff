"""Composite reads shared by the admin API and the CLI."""

from __future__ import annotations

from typing import Any

from ingest import catalog, onboarding
from ingest.clock import to_iso
from ingest.cron.bookkeeping import job_state
from ingest.errors import ApiError, ErrorCode, invalid_field
from ingest.models import Project, Property
from ingest.storage.sql import Conn
from tag.snippet import install_snippet, tag_url


def project_created(project: Project, default_property: Property) -> dict[str, Any]:
    """The answer to creating a project: it (with the apex), its default property (with the
    site host) and, when those differ, `warnings` saying so."""
    # Imported here: provisioning loads the AI sources' data file (yaml), which the CLI's
    # read commands (`optiview org list`, ...) would load for nothing.
    from ingest import provisioning

    answer = {**project.to_json(), "default_property": default_property.to_json()}
    warnings = provisioning.project_warnings(project, default_property)
    return {**answer, "warnings": warnings} if warnings else answer


def install_info(
    conn: Conn,
    project_id: str,
    property_id: int | None,
    key_id: str | None,
    base_url: str,
) -> dict[str, Any]:
    """The snippet for a property and key; without them, the default property and its newest
    active key are chosen (runbook 5.1: the wizard preselects)."""
    project = catalog.get_project(conn, project_id)
    chosen = property_id or project.default_property_id
    if chosen is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"project {project_id} has no property yet")
    prop = catalog.get_property(conn, chosen)
    if prop.project_id != project_id:
        raise invalid_field("property_id", f"{chosen} belongs to another project")
    if key_id is not None:
        key = catalog.get_key(conn, key_id)
        if key.property_id != prop.id:
            raise invalid_field("key_id", f"{key_id} is not linked to property {prop.id}")
    else:
        active = [k for k in catalog.list_keys(conn, prop.id) if k.state() == "active"]
        if not active:
            raise ApiError(
                ErrorCode.CONFLICT,
                f"property {prop.id} has no active key; create one with"
                f" POST /api/admin/properties/{prop.id}/keys",
            )
        key = active[-1]
    if key.state() != "active":
        raise ApiError(ErrorCode.CONFLICT, f"key {key.id} is {key.state()}; use an active key")
    src = tag_url(base_url)
    return {
        "project_id": project_id,
        "property_id": prop.id,
        "key_id": key.id,
        "tag_url": src,
        "snippet": install_snippet(src, key.id, project_id, prop.id),
    }


def event_span(
    conn: Conn, project_id: str, property_id: int | None
) -> tuple[int | None, int | None]:
    """First and last event received for a property, or for every property of the project."""
    if property_id is not None:
        prop = catalog.get_property(conn, property_id)
        if prop.project_id != project_id:
            raise invalid_field("property_id", f"{property_id} belongs to another project")
        where = "property_id = ?"
        param: int | str = property_id
    else:
        catalog.get_project(conn, project_id)
        where = "property_id IN (SELECT id FROM properties WHERE project_id = ?)"
        param = project_id
    # Two index seeks on (property_id, received_at) per property, not a scan.
    sql = f"SELECT min(received_at), max(received_at) FROM events WHERE {where}"
    row = conn.execute(sql, (param,)).fetchone()
    assert row is not None
    return row[0], row[1]


def install_verification(conn: Conn, project_id: str, property_id: int | None) -> dict[str, Any]:
    first, last = event_span(conn, project_id, property_id)
    return {
        "project_id": project_id,
        "property_id": property_id,
        "verified": first is not None,
        "first_event_at": to_iso(first),
        "last_event_at": to_iso(last),
    }


def onboarding_facts(conn: Conn, project_id: str) -> onboarding.Facts:
    project = catalog.get_project(conn, project_id)
    props = catalog.list_properties(conn, project_id)
    keys = [k for p in props for k in catalog.list_keys(conn, p.id)]
    first_event, last_event = event_span(conn, project_id, None)
    return onboarding.Facts(
        org=catalog.get_org(conn, project.org_id),
        project=project,
        properties=props,
        keys=keys,
        enabled_sources=catalog.enabled_sources(conn, project_id),
        first_event_at=first_event,
        last_event_at=last_event,
        purge=job_state(conn, "purge"),
        traffic=project_traffic(conn, [p.id for p in props]),
        test_alert=newest_test_alert(conn),
    )


def newest_test_alert(conn: Conn) -> onboarding.SlackTestAlert | None:
    """Runbook 9.2: Slack is one for the whole service, so any project's checklist shows it."""
    row = conn.execute(
        "SELECT id, delivery, created_at, delivered_at, last_error FROM alerts"
        " WHERE kind = 'test' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return onboarding.SlackTestAlert(*row) if row else None


# The onboarding checks look at the latest rows only: two index walks per property, however
# many millions of events it holds.
TRAFFIC_SAMPLE = 10_000


def project_traffic(
    conn: Conn, property_ids: list[int], sample: int = TRAFFIC_SAMPLE
) -> onboarding.Traffic:
    """The latest events and AI referrals of these properties, counted by visitor class. Bots
    are counted apart: an AI referral counts for people only with ua_class 'human'."""
    events: dict[str, int] = {}
    pageviews: dict[str, int] = {}
    referrals: dict[str, int] = {}
    capped = False
    for prop in property_ids:
        seen = [0, 0]  # this property's events and referrals
        for ua_class, count, views in conn.execute(
            # FILTER and the subquery's alias: both engines accept them (PostgreSQL has no
            # sum of a boolean and requires the alias).
            "SELECT ua_class, count(*),"
            " count(*) FILTER (WHERE type = 'pageview' AND off_site = 0) FROM"
            " (SELECT ua_class, type, off_site"
            " FROM events WHERE property_id = ? ORDER BY received_at DESC LIMIT ?) AS latest"
            " GROUP BY ua_class",
            (prop, sample),
        ):
            events[ua_class] = events.get(ua_class, 0) + count
            pageviews[ua_class] = pageviews.get(ua_class, 0) + views
            seen[0] += count
        for ua_class, count in conn.execute(
            "SELECT coalesce(ua_class, 'unknown'), count(*) FROM (SELECT ua_class"
            " FROM ai_referrals WHERE property_id = ? ORDER BY landed_at DESC LIMIT ?)"
            " AS latest GROUP BY 1",
            (prop, sample),
        ):
            referrals[ua_class] = referrals.get(ua_class, 0) + count
            seen[1] += count
        capped = capped or max(seen) >= sample
    return onboarding.Traffic(events, pageviews, referrals, sample if capped else None)


def project_sources(conn: Conn, project_id: str) -> set[str]:
    catalog.get_project(conn, project_id)
    return catalog.enabled_sources(conn, project_id)


def org_detail(conn: Conn, org_id: str) -> dict[str, Any]:
    org = catalog.get_org(conn, org_id)
    projects = catalog.list_projects(conn, org_id)
    return {**org.to_json(), "projects": [p.to_json() for p in projects]}


def org_projects(conn: Conn, org_id: str) -> dict[str, Any]:
    catalog.get_org(conn, org_id)
    return {"projects": [p.to_json() for p in catalog.list_projects(conn, org_id)]}


def project_detail(conn: Conn, project_id: str) -> dict[str, Any]:
    project = catalog.get_project(conn, project_id)
    props = catalog.list_properties(conn, project_id)
    return {**project.to_json(), "properties": [p.to_json() for p in props]}


def project_properties(conn: Conn, project_id: str) -> dict[str, Any]:
    catalog.get_project(conn, project_id)
    props = catalog.list_properties(conn, project_id)
    return {"properties": [p.to_json() for p in props]}


def property_detail(conn: Conn, property_id: int) -> dict[str, Any]:
    prop = catalog.get_property(conn, property_id)
    keys = catalog.list_keys(conn, property_id)
    return {**prop.to_json(), "keys": [k.to_json() for k in keys]}


def property_keys(conn: Conn, property_id: int) -> dict[str, Any]:
    catalog.get_property(conn, property_id)
    return {"keys": [k.to_json() for k in catalog.list_keys(conn, property_id)]}


def all_orgs(conn: Conn) -> dict[str, Any]:
    return {"orgs": [o.to_json() for o in catalog.list_orgs(conn)]}


def key_detail(conn: Conn, key_id: str) -> dict[str, Any]:
    return (catalog.get_key(conn, key_id)).to_json()
