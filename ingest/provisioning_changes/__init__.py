"""Changes after creation: update orgs, projects and properties; remove them with their data."""

from ingest.provisioning_changes.removal import Removal, Scope, count_rows, remove, unconfirmed
from ingest.provisioning_changes.updates import (
    domain_claims,
    update_org,
    update_project,
    update_property,
)

__all__ = [
    "Removal",
    "Scope",
    "count_rows",
    "domain_claims",
    "remove",
    "unconfirmed",
    "update_org",
    "update_project",
    "update_property",
]
