"""Provisioning records as frozen dataclasses, with their JSON shape for the API and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.clock import now_ms, to_iso

PLANS = ("starter", "growth", "pro")
PROPERTY_TYPES = ("website", "app", "api")


# Validated provisioning input (built by ingest.admin.bodies from API bodies and CLI flags).
@dataclass(frozen=True)
class NewOrg:
    name: str
    domain: str
    plan: str


@dataclass(frozen=True)
class NewProject:
    name: str
    domain: str  # the apex
    description: str | None
    site: str  # the host given, for the default property (the apex itself or a host under it)


@dataclass(frozen=True)
class NewProperty:
    domain: str  # as given; normalized against the project's apex when stored
    type: str


@dataclass(frozen=True)
class NewKey:
    name: str
    expires_at: int | None


@dataclass(frozen=True)
class SourcesUpdate:
    enabled: tuple[str, ...]


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    domain: str
    plan: str
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "domain": self.domain,
            "plan": self.plan,
            "created_at": to_iso(self.created_at),
        }


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    name: str
    domain: str
    description: str | None
    created_at: int
    default_property_id: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org_id": self.org_id,
            "name": self.name,
            "domain": self.domain,
            "description": self.description,
            "default_property_id": self.default_property_id,
            "created_at": to_iso(self.created_at),
        }


@dataclass(frozen=True)
class Property:
    id: int
    project_id: str
    domain: str
    type: str
    active: bool
    is_default: bool
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "domain": self.domain,
            "type": self.type,
            "active": self.active,
            "is_default": self.is_default,
            "created_at": to_iso(self.created_at),
        }


@dataclass(frozen=True)
class ApiKey:
    """A key as stored; its secret is never part of it (only its HMAC, never shown)."""

    id: str
    property_id: int
    project_id: str
    name: str
    status: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    rotated_at: int | None
    last_used_at: int | None

    def state(self, at_ms: int | None = None) -> str:
        """active, revoked or expired: the status the collector applies."""
        if self.status != "active":
            return self.status
        if self.expires_at is not None and self.expires_at <= (at_ms or now_ms()):
            return "expired"
        return "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "property_id": self.property_id,
            "project_id": self.project_id,
            "name": self.name,
            "status": self.state(),
            "created_at": to_iso(self.created_at),
            "expires_at": to_iso(self.expires_at),
            "revoked_at": to_iso(self.revoked_at),
            "rotated_at": to_iso(self.rotated_at),
            "last_used_at": to_iso(self.last_used_at),
        }
