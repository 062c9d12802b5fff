"""Authorize a batch: key known, active and unexpired, linked to the property and project;
a browser's Origin is the property's site, a server proves the key's secret instead."""

from __future__ import annotations

from dataclasses import dataclass

from ingest import keys
from ingest.collect.cors import origin_allowed
from ingest.collect.parse import EventBatch
from ingest.errors import ApiError, ErrorCode


@dataclass(frozen=True, slots=True)
class Grant:
    """What the collector needs to know about a key, read in one query and cached."""

    key_id: str
    property_id: int
    project_id: str
    status: str
    expires_at: int | None
    secret_hash: str
    property_domain: str
    property_active: bool


@dataclass(frozen=True, slots=True)
class Access:
    grant: Grant
    server: bool  # authenticated by the key's secret rather than by Origin
    origin: str | None  # the browser Origin to echo, when allowed


@dataclass(frozen=True, slots=True)
class Site:
    """The properties on one host, for a preflight that comes before any body names one."""

    active: bool  # at least one active property is on this host
    inactive: tuple[int, ...] = ()  # ids of the deactivated ones


def inactive_property(property_id: int, domain: str) -> ApiError:
    return ApiError(
        ErrorCode.PROPERTY_INACTIVE,
        f"property {property_id} ({domain}) is deactivated; reactivate it with"
        f' PATCH /api/admin/properties/{property_id} {{"active": true}}'
        f" or optiview property update {property_id} --activate",
    )


def preflight_refusal(origin: str | None, host: str | None, site: Site | None) -> ApiError:
    """Pure: why a preflight is refused, naming a deactivated property when that is the cause."""
    if host is not None and site is not None and not site.active and site.inactive:
        return inactive_property(site.inactive[0], host)
    return ApiError(
        ErrorCode.ORIGIN_NOT_ALLOWED, f"origin {origin} is not the site of any active property"
    )


def bearer_secret(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            ErrorCode.INVALID_KEY, "Authorization must be 'Bearer <key secret>' for server events"
        )
    return secret.strip()


def decide(
    batch: EventBatch,
    grant: Grant | None,
    *,
    origin: str | None,
    secret: str | None,
    now_ms: int,
    pepper: bytes,
) -> Access:
    """Pure: raise the ApiError that answers this batch, or return what it may do."""
    if grant is None:
        raise ApiError(ErrorCode.INVALID_KEY, f"key {batch.key_id} is unknown")
    if secret is not None and not keys.secret_matches(secret, grant.secret_hash, pepper):
        raise ApiError(ErrorCode.INVALID_KEY, f"the secret does not match key {grant.key_id}")
    if grant.status == "revoked":
        raise ApiError(ErrorCode.KEY_REVOKED, f"key {grant.key_id} is revoked")
    if grant.expires_at is not None and grant.expires_at <= now_ms:
        raise ApiError(ErrorCode.KEY_EXPIRED, f"key {grant.key_id} has expired")
    if grant.property_id != batch.property_id:
        raise ApiError(
            ErrorCode.KEY_NOT_LINKED,
            f"key {grant.key_id} is not linked to property {batch.property_id}",
        )
    if grant.project_id != batch.project_id:
        raise ApiError(
            ErrorCode.KEY_NOT_LINKED,
            f"property {batch.property_id} does not belong to project {batch.project_id}",
        )
    if not grant.property_active:
        raise inactive_property(grant.property_id, grant.property_domain)
    if secret is not None:
        return Access(grant, server=True, origin=None)
    if origin is None:
        raise ApiError(
            ErrorCode.ORIGIN_NOT_ALLOWED,
            "no Origin header: browsers send events from the property's site;"
            " servers send Authorization: Bearer <key secret>",
        )
    if not origin_allowed(origin, grant.property_domain):
        raise ApiError(
            ErrorCode.ORIGIN_NOT_ALLOWED,
            f"origin {origin} is not allowed for property {grant.property_id}"
            f" ({grant.property_domain})",
        )
    return Access(grant, server=False, origin=origin)
