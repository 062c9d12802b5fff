"""Admin request bodies parsed into frozen dataclasses; the CLI builds the same ones.

Every failure is an ApiError whose detail names the field and what was wrong with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest import domains
from ingest.clock import now_ms, parse_iso
from ingest.errors import ApiError, ErrorCode, invalid_domain, invalid_field
from ingest.fields import plain_text
from ingest.jsonbody import json_object
from ingest.models import (
    PLANS,
    PROPERTY_TYPES,
    NewKey,
    NewOrg,
    NewProject,
    NewProperty,
    SourcesUpdate,
)
from ingest.provisioning_changes.changes import OrgChanges, ProjectChanges, PropertyChanges
from ingest.sources import KNOWN_SOURCES

MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_DOMAIN_INPUT = 2048  # a pasted URL, before the domain policy reduces it to a name
MAX_BODY_BYTES = 64 * 1024


def decode(raw: bytes) -> Mapping[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"body is {len(raw)} bytes; at most {MAX_BODY_BYTES}"
        )
    return json_object(raw)


def text(body: Mapping[str, Any], field: str, limit: int = MAX_NAME, required: bool = True) -> str:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid_field(field, "is required")
        return ""
    if not isinstance(value, str):
        raise invalid_field(field, f"must be a string, not {type(value).__name__}")
    value = plain_text(value, field).strip()
    if required and not value:
        raise invalid_field(field, "must not be empty")
    if len(value) > limit:
        raise invalid_field(field, f"is {len(value)} characters; at most {limit}")
    return value


def choice(
    body: Mapping[str, Any], field: str, options: tuple[str, ...], default: str | None = None
) -> str:
    if body.get(field) is None and default is not None:
        return default
    value = text(body, field).lower()
    if value not in options:
        raise invalid_field(field, f"must be one of {', '.join(options)}, not {value!r}")
    return value


def domain_field(body: Mapping[str, Any], field: str = "domain") -> str:
    return text(body, field, limit=MAX_DOMAIN_INPUT)


def apex_domain(body: Mapping[str, Any]) -> str:
    try:
        return domains.project_domain(domain_field(body))
    except domains.DomainError as exc:
        raise invalid_domain("domain", exc.reason) from None


def new_org(body: Mapping[str, Any]) -> NewOrg:
    return NewOrg(
        name=text(body, "name"), domain=apex_domain(body), plan=choice(body, "plan", PLANS)
    )


def new_project(body: Mapping[str, Any]) -> NewProject:
    name = text(body, "name")
    try:
        site, apex = domains.project_site(domain_field(body))
    except domains.DomainError as exc:
        raise invalid_domain("domain", exc.reason) from None
    description = text(body, "description", MAX_DESCRIPTION, required=False) or None
    return NewProject(name=name, domain=apex, description=description, site=site)


def new_property(body: Mapping[str, Any]) -> NewProperty:
    return NewProperty(
        domain=domain_field(body), type=choice(body, "type", PROPERTY_TYPES, default="website")
    )


def new_key(body: Mapping[str, Any], now: int | None = None) -> NewKey:
    name = text(body, "name")
    raw_expiry = body.get("expires_at")
    expires_at = None
    if raw_expiry is not None:
        if not isinstance(raw_expiry, str):
            raise invalid_field("expires_at", "must be an ISO 8601 date-time string or null")
        try:
            expires_at = parse_iso(raw_expiry)
        except (ValueError, OverflowError):
            raise invalid_field(
                "expires_at", f"{raw_expiry!r} is not an ISO 8601 date-time"
            ) from None
        if expires_at <= (now or now_ms()):
            raise invalid_field("expires_at", "must be in the future")
    return NewKey(name=name, expires_at=expires_at)


def sources_update(body: Mapping[str, Any]) -> SourcesUpdate:
    enabled = body.get("enabled")
    if not isinstance(enabled, list) or not all(isinstance(s, str) for s in enabled):
        raise invalid_field("enabled", "must be a list of source names")
    names = [s.strip().lower() for s in enabled]
    unknown = sorted(set(names) - set(KNOWN_SOURCES))
    if unknown:
        raise invalid_field(
            "enabled",
            f"unknown source(s) {', '.join(unknown)}; known: {', '.join(KNOWN_SOURCES)}",
        )
    return SourcesUpdate(enabled=tuple(dict.fromkeys(names)))


def _changes(body: Mapping[str, Any], allowed: tuple[str, ...], fixed: tuple[str, ...]) -> None:
    """A PATCH names at least one field it may change, and none that cannot change (silently
    ignoring those would answer 200 for a change that did not happen)."""
    for field in fixed:
        if field in body:
            raise invalid_field(
                field, f"cannot be changed; the fields that can: {', '.join(allowed)}"
            )
    if not any(field in body for field in allowed):
        raise invalid_field(allowed[0], f"give at least one of {', '.join(allowed)}")


def org_changes(body: Mapping[str, Any]) -> OrgChanges:
    _changes(body, ("name", "plan", "domain"), ("id", "created_at"))
    return OrgChanges(
        name=text(body, "name") if "name" in body else None,
        domain=apex_domain(body) if "domain" in body else None,
        plan=choice(body, "plan", PLANS) if "plan" in body else None,
    )


def project_changes(body: Mapping[str, Any]) -> ProjectChanges:
    _changes(body, ("name", "description"), ("id", "org_id", "domain", "created_at"))
    return ProjectChanges(
        name=text(body, "name") if "name" in body else None,
        description=text(body, "description", MAX_DESCRIPTION, required=False)
        if "description" in body
        else None,
    )


def property_changes(body: Mapping[str, Any]) -> PropertyChanges:
    _changes(body, ("active",), ("id", "project_id", "domain", "type", "is_default", "created_at"))
    active = body["active"]
    if not isinstance(active, bool):
        raise invalid_field("active", f"must be true or false, not {type(active).__name__}")
    return PropertyChanges(active=active)
