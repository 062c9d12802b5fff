"""Validated PATCH bodies (built by ingest.admin.bodies from API bodies and CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass


# None leaves a field as it is.
@dataclass(frozen=True)
class OrgChanges:
    name: str | None = None
    domain: str | None = None
    plan: str | None = None


@dataclass(frozen=True)
class ProjectChanges:
    name: str | None = None
    description: str | None = None  # "" clears it (stored as NULL)


@dataclass(frozen=True)
class PropertyChanges:
    active: bool | None = None
