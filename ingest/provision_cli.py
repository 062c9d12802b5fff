"""CLI provisioning commands: the admin API's operations, on the database file directly."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ingest import onboarding, provisioning, provisioning_changes
from ingest.admin import bodies, queries
from ingest.clock import now_ms
from ingest.config import Settings
from ingest.errors import ApiError, ErrorCode
from ingest.fields import positive_id
from ingest.models import PLANS, Org
from ingest.sources import KNOWN_SOURCES, describe_sources
from ingest.storage.database import Database

Command = Callable[[argparse.Namespace, Settings, Database], Awaitable[Any]]


def property_id(text: str) -> int:
    """argparse type: the API's rule for ids (ASCII digits, 1 to 2**63-1)."""
    try:
        return positive_id(text, "property id")
    except ApiError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def _warn(warnings: list[str]) -> list[str]:
    for warning in warnings:
        print(f"optiview: warning: {warning}", file=sys.stderr)
    return warnings


async def org_create(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    new = bodies.new_org({"name": args.name, "domain": args.domain, "plan": args.plan})

    def create(conn: sqlite3.Connection) -> tuple[Org, list[str]]:
        warnings = provisioning_changes.domain_claims(conn, new.domain)
        return provisioning.create_org(conn, new, now_ms()), warnings

    org, warnings = await db.transaction(create)
    return {**org.to_json(), "warnings": _warn(warnings)}


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The flags given, as a PATCH body (an absent flag leaves its field as it is)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


async def org_update(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    changes = bodies.org_changes(_given(args, "name", "domain", "plan"))
    org, warnings = await db.transaction(
        lambda conn: provisioning_changes.update_org(conn, args.org_id, changes)
    )
    return {**org.to_json(), "warnings": _warn(warnings)}


async def project_update(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    changes = bodies.project_changes(_given(args, "name", "description"))
    project = await db.transaction(
        lambda conn: provisioning_changes.update_project(conn, args.project_id, changes)
    )
    return project.to_json()


async def property_update(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    changes = bodies.property_changes(_given(args, "active"))
    prop = await db.transaction(
        lambda conn: provisioning_changes.update_property(conn, args.property_id, changes)
    )
    return prop.to_json()


def remover(scope: provisioning_changes.Scope, attribute: str) -> Command:
    """Delete with --yes; without it, refuse and say what would be deleted."""

    async def delete(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
        target = getattr(args, attribute)
        if not args.yes:
            would = await db.read(lambda conn: provisioning_changes.count_rows(conn, scope, target))
            raise provisioning_changes.unconfirmed(would, "add --yes")
        removal = await db.transaction(
            lambda conn: provisioning_changes.remove(conn, scope, target)
        )
        return removal.to_json()

    return delete


async def org_list(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(queries.all_orgs)


async def org_show(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.org_detail(conn, args.org_id))


async def project_create(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    new = bodies.new_project(
        {"name": args.name, "domain": args.domain, "description": args.description}
    )
    project, prop = await db.transaction(
        lambda conn: provisioning.create_project(conn, args.org, new, now_ms())
    )
    return {**project.to_json(), "default_property": prop.to_json()}


async def project_list(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.org_projects(conn, args.org))


async def project_show(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.project_detail(conn, args.project_id))


async def property_create(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    new = bodies.new_property({"domain": args.domain, "type": args.type})
    prop = await db.transaction(
        lambda conn: provisioning.create_property(conn, args.project, new, now_ms())
    )
    return prop.to_json()


async def property_show(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.property_detail(conn, args.property_id))


async def key_create(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    new = bodies.new_key({"name": args.name, "expires_at": args.expires_at})
    key, secret = await db.transaction(
        lambda conn: provisioning.create_key(
            conn, args.property, new, settings.key_hash_secret, now_ms()
        )
    )
    return {**key.to_json(), "secret": secret}


async def key_list(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.property_keys(conn, args.property))


async def key_show(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(lambda conn: queries.key_detail(conn, args.key_id))


async def key_revoke(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    key = await db.transaction(lambda conn: provisioning.revoke_key(conn, args.key_id, now_ms()))
    return key.to_json()


async def key_rotate(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    key, secret = await db.transaction(
        lambda conn: provisioning.rotate_key(conn, args.key_id, settings.key_hash_secret, now_ms())
    )
    return {**key.to_json(), "secret": secret}


async def sources_show(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    enabled = await db.read(lambda conn: queries.project_sources(conn, args.project))
    return describe_sources(args.project, enabled)


async def sources_set(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    update = bodies.sources_update({"enabled": args.sources})
    await db.transaction(
        lambda conn: provisioning.set_sources(conn, args.project, update, now_ms())
    )
    return await sources_show(args, settings, db)


async def install(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    base_url = args.base_url or settings.public_url
    if not base_url:
        if settings.production:
            raise ApiError(
                ErrorCode.NOT_CONFIGURED,
                "OPTIVIEW_PUBLIC_URL is not set: in production give the service's public base"
                " URL there or with --base-url",
            )
        base_url = "http://127.0.0.1:8080"
        print(
            f"optiview: OPTIVIEW_PUBLIC_URL is not set; the snippet uses {base_url}"
            " (development only)",
            file=sys.stderr,
        )

    return await db.read(
        lambda conn: queries.install_info(conn, args.project, args.property, args.key, base_url)
    )


async def install_verify(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    return await db.read(
        lambda conn: queries.install_verification(conn, args.project, args.property)
    )


async def onboarding_status(args: argparse.Namespace, settings: Settings, db: Database) -> Any:
    facts = await db.read(lambda conn: queries.onboarding_facts(conn, args.project))
    return onboarding.summary(facts, now_ms())


def _add_delete(actions: Any, attribute: str, what: str, command: Command, name: str) -> None:
    p = actions.add_parser(
        "delete", help=f"delete {name} with all its data (needs --yes; without it, a dry run)"
    )
    p.add_argument(attribute, help=what, type=property_id if attribute == "property_id" else str)
    p.add_argument(
        "--yes", action="store_true", help="really delete (without it: what would be deleted)"
    )
    p.set_defaults(command=command)


def add_commands(sub: Any) -> None:
    """Register the provisioning subcommands on the top-level subparsers."""
    org = sub.add_parser("org", help="organizations (runbook step 1)").add_subparsers(
        dest="action", required=True, metavar="{create,list,show,update,delete}"
    )
    p = org.add_parser("create", help="create an organization")
    p.add_argument("--name", required=True, help="partner company name")
    p.add_argument("--domain", required=True, help="partner's primary domain")
    p.add_argument("--plan", required=True, help="starter, growth or pro (sets retention)")
    p.set_defaults(command=org_create)
    org.add_parser("list", help="list organizations").set_defaults(command=org_list)
    p = org.add_parser("show", help="an organization and its projects")
    p.add_argument("org_id")
    p.set_defaults(command=org_show)
    p = org.add_parser("update", help="change an organization's name, domain or plan")
    p.add_argument("org_id", help="org_… id")
    p.add_argument("--name", help="new name")
    p.add_argument("--domain", help="new primary domain")
    p.add_argument("--plan", choices=PLANS, help="new plan (the next purge applies its retention)")
    p.set_defaults(command=org_update)
    _add_delete(org, "org_id", "org_… id", remover("org", "org_id"), "an organization")

    project = sub.add_parser("project", help="projects (runbook step 2)").add_subparsers(
        dest="action", required=True, metavar="{create,list,show,update,delete}"
    )
    p = project.add_parser("create", help="create a project and its default property")
    p.add_argument("--org", required=True, help="org_… id")
    p.add_argument("--name", required=True)
    p.add_argument("--domain", required=True, help="apex domain (normalized by the policy)")
    p.add_argument("--description")
    p.set_defaults(command=project_create)
    p = project.add_parser("list", help="projects of an organization")
    p.add_argument("--org", required=True)
    p.set_defaults(command=project_list)
    p = project.add_parser("show", help="a project and its properties")
    p.add_argument("project_id")
    p.set_defaults(command=project_show)
    p = project.add_parser("update", help="change a project's name or description")
    p.add_argument("project_id", help="prj_… id")
    p.add_argument("--name", help="new name")
    p.add_argument("--description", help="new description ('' clears it)")
    p.set_defaults(command=project_update)
    _add_delete(project, "project_id", "prj_… id", remover("project", "project_id"), "a project")

    prop = sub.add_parser("property", help="properties (runbook step 3)").add_subparsers(
        dest="action", required=True, metavar="{create,show,update,delete}"
    )
    p = prop.add_parser("create", help="add a property to a project")
    p.add_argument("--project", required=True, help="prj_… id")
    p.add_argument("--domain", required=True, help="the project's apex or an exact site host")
    p.add_argument("--type", default="website", help="website, app or api (default website)")
    p.set_defaults(command=property_create)
    p = prop.add_parser("show", help="a property and its keys")
    p.add_argument("property_id", type=property_id)
    p.set_defaults(command=property_show)
    p = prop.add_parser("update", help="deactivate or reactivate a property")
    p.add_argument("property_id", type=property_id, help="property id (an integer)")
    state = p.add_mutually_exclusive_group(required=True)
    state.add_argument(
        "--activate", dest="active", action="store_const", const=True, help="accept events again"
    )
    state.add_argument(
        "--deactivate",
        dest="active",
        action="store_const",
        const=False,
        help="refuse its events (the collector answers 403 with the reason)",
    )
    p.set_defaults(command=property_update)
    _add_delete(
        prop,
        "property_id",
        "property id (an integer)",
        remover("property", "property_id"),
        "a property",
    )

    key = sub.add_parser("key", help="API keys (runbook step 4)").add_subparsers(
        dest="action", required=True, metavar="{create,list,show,revoke,rotate}"
    )
    p = key.add_parser("create", help="create a key; its secret is printed this once")
    p.add_argument("--property", required=True, type=property_id, help="property id")
    p.add_argument("--name", required=True, help="e.g. 'Production Website'")
    p.add_argument("--expires-at", help="optional ISO 8601 expiry, e.g. 2027-01-01T00:00:00Z")
    p.set_defaults(command=key_create)
    p = key.add_parser("list", help="keys of a property (never their secrets)")
    p.add_argument("--property", required=True, type=property_id)
    p.set_defaults(command=key_list)
    for name, command, text in (
        ("show", key_show, "one key"),
        ("revoke", key_revoke, "revoke a key (the collector refuses it within seconds)"),
        ("rotate", key_rotate, "new secret for the same key id; the old secret is refused"),
    ):
        p = key.add_parser(name, help=text)
        p.add_argument("key_id")
        p.set_defaults(command=command)

    src = sub.add_parser("sources", help="AI sources of a project (runbook step 7)")
    src_actions = src.add_subparsers(dest="action", required=True, metavar="{show,set}")
    p = src_actions.add_parser("show", help="every known source with its flag")
    p.add_argument("--project", required=True)
    p.set_defaults(command=sources_show)
    p = src_actions.add_parser("set", help="enable exactly these sources")
    p.add_argument("--project", required=True)
    p.add_argument("sources", nargs="*", help=f"any of: {' '.join(KNOWN_SOURCES)}")
    p.set_defaults(command=sources_set)

    p = sub.add_parser("install", help="the install snippet (runbook step 5)")
    p.add_argument("--project", required=True)
    p.add_argument("--property", type=property_id, help="default: the project's default property")
    p.add_argument("--key", help="default: the property's newest active key")
    p.add_argument("--base-url", help="where tag.js is served (default OPTIVIEW_PUBLIC_URL)")
    p.set_defaults(command=install)

    p = sub.add_parser("verify", help="has an event arrived for the project (runbook step 6)")
    p.add_argument("--project", required=True)
    p.add_argument(
        "--property", type=property_id, help="one property (default: all of the project's)"
    )
    p.set_defaults(command=install_verify)

    p = sub.add_parser("onboarding-status", help="the runbook checklist for a project")
    p.add_argument("--project", required=True)
    p.set_defaults(command=onboarding_status)
