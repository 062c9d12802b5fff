"""CLI provisioning commands: the admin API's operations, on the database directly (a SQLite
file or a PostgreSQL database: the same work functions, in the same transactions)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.clock import now_ms

# Every `optiview` call builds these commands' parsers, and runs at most one of them: what a
# command needs (the admin queries and bodies, the storage, the sources' data, the public suffix
# list) is imported inside it, so that the other commands do not pay for it.
if TYPE_CHECKING:
    from ingest import provisioning_changes
    from ingest.config import Settings
    from ingest.models import Org
    from ingest.storage.backend import Storage
    from ingest.storage.sql import Conn

    Command = Callable[[argparse.Namespace, Settings, Storage], Awaitable[Any]]

EXIT_NOT_VERIFIED = 3  # 1 is an error, 2 a usage error: a script can tell "not yet" apart
POLL_S = 1.0
PROGRESS_EVERY_S = 5.0
MAX_WAIT_S = 3600.0


@dataclass(frozen=True)
class Answer:
    """A command's answer when it is not JSON with exit 0: `body` is JSON data, or text
    printed as it is."""

    body: Any
    exit_code: int = 0


def say(line: str) -> None:
    print(f"optiview: {line}", file=sys.stderr, flush=True)


def seconds(text: str) -> float:
    """argparse type: a duration in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_WAIT_S:g} seconds, not {text}")
    return value


def select_field(answer: Any, name: str) -> str:
    """`--field NAME`: one value of the answer, printed bare so a shell can capture it
    (`PRJ=$(optiview project create ... --field id)`)."""
    import orjson

    from ingest.errors import invalid_field

    if not isinstance(answer, dict) or name not in answer:
        known = ", ".join(answer) if isinstance(answer, dict) else "none"
        raise invalid_field("--field", f"the answer has no {name!r}; it has: {known}")
    value = answer[name]
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def property_id(text: str) -> int:
    """argparse type: the API's rule for ids (ASCII digits, 1 to 2**63-1)."""
    from ingest.errors import ApiError
    from ingest.fields import positive_id

    try:
        return positive_id(text, "property id")
    except ApiError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def _warn(warnings: list[str]) -> list[str]:
    for warning in warnings:
        print(f"optiview: warning: {warning}", file=sys.stderr)
    return warnings


async def org_create(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning, provisioning_changes
    from ingest.admin import bodies

    new = bodies.new_org({"name": args.name, "domain": args.domain, "plan": args.plan})

    def create(conn: Conn) -> tuple[Org, list[str]]:
        warnings = provisioning_changes.domain_claims(conn, new.domain)
        return provisioning.create_org(conn, new, now_ms()), warnings

    org, warnings = await db.transaction(create)
    return {**org.to_json(), "warnings": _warn(warnings)}


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The flags given, as a PATCH body (an absent flag leaves its field as it is)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


async def org_update(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning_changes
    from ingest.admin import bodies

    changes = bodies.org_changes(_given(args, "name", "domain", "plan"))
    org, warnings = await db.transaction(
        lambda conn: provisioning_changes.update_org(conn, args.org_id, changes)
    )
    return {**org.to_json(), "warnings": _warn(warnings)}


async def project_update(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning_changes
    from ingest.admin import bodies

    changes = bodies.project_changes(_given(args, "name", "description"))
    project = await db.transaction(
        lambda conn: provisioning_changes.update_project(conn, args.project_id, changes)
    )
    return project.to_json()


async def property_update(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning_changes
    from ingest.admin import bodies

    changes = bodies.property_changes(_given(args, "active"))
    prop = await db.transaction(
        lambda conn: provisioning_changes.update_property(conn, args.property_id, changes)
    )
    return prop.to_json()


def remover(scope: provisioning_changes.Scope, attribute: str) -> Command:
    """Delete with --yes; without it, refuse and say what would be deleted."""

    async def delete(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
        from ingest import provisioning_changes

        target = getattr(args, attribute)
        if not args.yes:
            would = await db.read(lambda conn: provisioning_changes.count_rows(conn, scope, target))
            raise provisioning_changes.unconfirmed(would, "add --yes")
        removal = await db.transaction(
            lambda conn: provisioning_changes.remove(conn, scope, target)
        )
        return removal.to_json()

    return delete


async def org_list(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(queries.all_orgs)


async def org_show(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.org_detail(conn, args.org_id))


async def project_create(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning
    from ingest.admin import bodies, queries

    new = bodies.new_project(
        {"name": args.name, "domain": args.domain, "description": args.description}
    )
    project, prop = await db.transaction(
        lambda conn: provisioning.create_project(conn, args.org, new, now_ms())
    )
    answer = queries.project_created(project, prop)
    _warn(answer.get("warnings", []))
    return answer


async def project_list(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.org_projects(conn, args.org))


async def project_show(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.project_detail(conn, args.project_id))


async def property_create(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning
    from ingest.admin import bodies

    new = bodies.new_property({"domain": args.domain, "type": args.type})
    prop = await db.transaction(
        lambda conn: provisioning.create_property(conn, args.project, new, now_ms())
    )
    return prop.to_json()


async def property_show(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.property_detail(conn, args.property_id))


async def key_create(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning
    from ingest.admin import bodies

    new = bodies.new_key({"name": args.name, "expires_at": args.expires_at})
    key, secret = await db.transaction(
        lambda conn: provisioning.create_key(
            conn, args.property, new, settings.key_hash_secret, now_ms()
        )
    )
    return {**key.to_json(), "secret": secret}


async def key_list(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.property_keys(conn, args.property))


async def key_show(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries

    return await db.read(lambda conn: queries.key_detail(conn, args.key_id))


async def key_revoke(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning

    key = await db.transaction(lambda conn: provisioning.revoke_key(conn, args.key_id, now_ms()))
    return key.to_json()


async def key_rotate(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning

    key, secret = await db.transaction(
        lambda conn: provisioning.rotate_key(conn, args.key_id, settings.key_hash_secret, now_ms())
    )
    return {**key.to_json(), "secret": secret}


async def sources_show(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries
    from ingest.sources import describe_sources

    enabled = await db.read(lambda conn: queries.project_sources(conn, args.project))
    return describe_sources(args.project, enabled)


async def sources_set(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import provisioning
    from ingest.admin import bodies
    from ingest.errors import invalid_field
    from ingest.sources import KNOWN_SOURCES

    # An empty list disables every source: that must be asked for, never the result of a
    # command line whose names were forgotten.
    if args.none == bool(args.sources):
        raise invalid_field(
            "sources",
            "name the sources to enable (any of " + ", ".join(KNOWN_SOURCES) + "), or give"
            " --none to disable every source"
            if not args.none
            else "give either source names or --none, not both",
        )
    update = bodies.sources_update({"enabled": args.sources})
    await db.transaction(
        lambda conn: provisioning.set_sources(conn, args.project, update, now_ms())
    )
    return await sources_show(args, settings, db)


async def install(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import queries
    from ingest.errors import ApiError, ErrorCode

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

    info = await db.read(
        lambda conn: queries.install_info(conn, args.project, args.property, args.key, base_url)
    )
    return Answer(info["snippet"]) if args.html else info


async def install_verify(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    """Exit 0 once an event has arrived; with --wait, poll until then or the time is up."""
    import asyncio

    from ingest.admin import queries

    deadline = time.monotonic() + args.wait
    next_report = 0.0
    while True:
        answer = await db.read(
            lambda conn: queries.install_verification(conn, args.project, args.property)
        )
        now = time.monotonic()
        if answer["verified"] or now >= deadline:
            break
        if now >= next_report:
            say(f"waiting for the first event of {args.project}: {deadline - now:.0f} s left")
            next_report = now + PROGRESS_EVERY_S
        await asyncio.sleep(min(POLL_S, deadline - now))
    if answer["verified"]:
        return answer
    say(
        f"not verified: no event has arrived for {args.project}"
        + (f" in {args.wait:g} s" if args.wait else "")
        + "; check that the snippet (`optiview install`) is in the page's <head>, and load"
        " tag.js?debug=1 to see the collector's answer in the browser console"
    )
    return Answer(answer, EXIT_NOT_VERIFIED)


async def onboarding_status(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest import onboarding
    from ingest.admin import queries

    facts = await db.read(lambda conn: queries.onboarding_facts(conn, args.project))
    return onboarding.summary(facts, now_ms())


async def read_token_create(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.admin import bodies
    from ingest.stats import tokens as read_tokens

    name = bodies.text({"name": args.name}, "name")
    record, token = await db.transaction(
        lambda conn: read_tokens.create(
            conn, args.project, name, settings.key_hash_secret, now_ms()
        )
    )
    say("store the token now: it is shown this once (only its hash is kept)")
    return {**record.to_json(), "token": token}


async def read_token_list(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.stats import tokens as read_tokens

    listed = await db.read(lambda conn: read_tokens.listed(conn, args.project))
    return read_tokens.listing(args.project, listed)


async def read_token_revoke(args: argparse.Namespace, settings: Settings, db: Storage) -> Any:
    from ingest.stats import tokens as read_tokens

    record = await db.transaction(
        lambda conn: read_tokens.revoke(conn, args.project, args.token_id, now_ms())
    )
    return record.to_json()


def _add_delete(actions: Any, attribute: str, what: str, command: Command, name: str) -> None:
    p = actions.add_parser(
        "delete", help=f"delete {name} with all its data (needs --yes; without it, a dry run)"
    )
    p.add_argument(attribute, help=what, type=property_id if attribute == "property_id" else str)
    p.add_argument(
        "--yes", action="store_true", help="really delete (without it: what would be deleted)"
    )
    p.set_defaults(command=command)


def _database_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--create-db",
        action="store_true",
        help="create a new, empty database when OPTIVIEW_DB names no file (without it the"
        " command refuses, so that a mistyped path or another folder never gets a database"
        " the server does not use)",
    )
    return options


def _field_option() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--field",
        metavar="NAME",
        help="print only this field of the answer, bare (e.g. id), for a shell variable",
    )
    return options


DATABASE_OPTIONS = _database_options()
FIELD_OPTION = _field_option()


def _org_update_arguments(p: argparse.ArgumentParser) -> None:
    from ingest.models import PLANS

    p.add_argument("org_id", help="org_… id")
    p.add_argument("--name", help="new name")
    p.add_argument("--domain", help="new primary domain")
    p.add_argument("--plan", choices=PLANS, help="new plan (the next purge applies its retention)")


def _sources_set_arguments(p: argparse.ArgumentParser) -> None:
    from ingest.sources import KNOWN_SOURCES

    p.add_argument("--project", required=True, help="prj_… id")
    p.add_argument("sources", nargs="*", help=f"any of: {' '.join(KNOWN_SOURCES)}")
    p.add_argument(
        "--none", action="store_true", help="disable every source (instead of naming some)"
    )


def add_commands(sub: Any) -> None:
    """Register the provisioning subcommands on the top-level subparsers."""

    def leaf(
        parent: Any,
        name: str,
        text: str,
        command: Command,
        field: bool = True,
        populate: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> Any:
        # Answers with a secret get no --field: printing only the id would lose the secret.
        parents = [DATABASE_OPTIONS, FIELD_OPTION] if field else [DATABASE_OPTIONS]
        p = parent.add_parser(name, help=text, description=text, parents=parents, populate=populate)
        p.set_defaults(command=command)
        return p

    org = sub.add_parser("org", help="organizations (runbook step 1)").add_subparsers(
        dest="action", required=True, metavar="{create,list,show,update,delete}"
    )
    p = leaf(org, "create", "create an organization", org_create)
    p.add_argument("--name", required=True, help="partner company name")
    p.add_argument("--domain", required=True, help="partner's primary domain")
    p.add_argument("--plan", required=True, help="starter, growth or pro (sets retention)")
    leaf(org, "list", "list organizations", org_list)
    p = leaf(org, "show", "an organization and its projects", org_show)
    p.add_argument("org_id", help="org_… id")
    leaf(
        org,
        "update",
        "change an organization's name, domain or plan",
        org_update,
        populate=_org_update_arguments,
    )
    _add_delete(org, "org_id", "org_… id", remover("org", "org_id"), "an organization")

    project = sub.add_parser("project", help="projects (runbook step 2)").add_subparsers(
        dest="action", required=True, metavar="{create,list,show,update,delete}"
    )
    p = leaf(project, "create", "create a project and its default property", project_create)
    p.add_argument("--org", required=True, help="org_… id")
    p.add_argument("--name", required=True, help="e.g. 'Main Website'")
    p.add_argument(
        "--domain",
        required=True,
        help="the site, e.g. blog.example.co.uk: the project takes its apex (example.co.uk),"
        " the default property this exact host",
    )
    p.add_argument("--description", help="optional free text")
    p = leaf(project, "list", "projects of an organization", project_list)
    p.add_argument("--org", required=True, help="org_… id")
    p = leaf(project, "show", "a project and its properties", project_show)
    p.add_argument("project_id", help="prj_… id")
    p = leaf(project, "update", "change a project's name or description", project_update)
    p.add_argument("project_id", help="prj_… id")
    p.add_argument("--name", help="new name")
    p.add_argument("--description", help="new description ('' clears it)")
    _add_delete(project, "project_id", "prj_… id", remover("project", "project_id"), "a project")

    prop = sub.add_parser("property", help="properties (runbook step 3)").add_subparsers(
        dest="action", required=True, metavar="{create,show,update,delete}"
    )
    p = leaf(prop, "create", "add a property to a project", property_create)
    p.add_argument("--project", required=True, help="prj_… id")
    p.add_argument("--domain", required=True, help="the project's apex or an exact site host")
    p.add_argument("--type", default="website", help="website, app or api (default website)")
    p = leaf(prop, "show", "a property and its keys", property_show)
    p.add_argument("property_id", type=property_id, help="property id (an integer)")
    p = leaf(prop, "update", "deactivate or reactivate a property", property_update)
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
    p = leaf(
        key, "create", "create a key; its secret is printed this once", key_create, field=False
    )
    p.add_argument("--property", required=True, type=property_id, help="property id")
    p.add_argument("--name", required=True, help="e.g. 'Production Website'")
    p.add_argument("--expires-at", help="optional ISO 8601 expiry, e.g. 2027-01-01T00:00:00Z")
    p = leaf(key, "list", "keys of a property (never their secrets)", key_list)
    p.add_argument("--property", required=True, type=property_id, help="property id")
    for name, command, text in (
        ("show", key_show, "one key"),
        ("revoke", key_revoke, "revoke a key (the collector refuses it within seconds)"),
        ("rotate", key_rotate, "new secret for the same key id; the old secret is refused"),
    ):
        p = leaf(key, name, text, command, field=name != "rotate")
        p.add_argument("key_id", help="key_… id")

    src = sub.add_parser("sources", help="AI sources of a project (runbook step 7)")
    src_actions = src.add_subparsers(dest="action", required=True, metavar="{show,set}")
    p = leaf(src_actions, "show", "every known source with its flag", sources_show)
    p.add_argument("--project", required=True, help="prj_… id")
    leaf(
        src_actions,
        "set",
        "enable exactly these sources (and disable the others)",
        sources_set,
        populate=_sources_set_arguments,
    )

    p = leaf(sub, "install", "the install snippet (runbook step 5)", install)
    p.add_argument("--project", required=True, help="prj_… id")
    p.add_argument("--property", type=property_id, help="default: the project's default property")
    p.add_argument("--key", help="default: the property's newest active key")
    p.add_argument("--base-url", help="where tag.js is served (default OPTIVIEW_PUBLIC_URL)")
    p.add_argument(
        "--html", action="store_true", help="print only the snippet's HTML, to paste or save"
    )

    p = leaf(
        sub,
        "verify",
        "has an event arrived for the project (runbook step 6); exit 0 when one has,"
        f" {EXIT_NOT_VERIFIED} when not (yet), 1 on an error",
        install_verify,
    )
    p.add_argument("--project", required=True, help="prj_… id")
    p.add_argument(
        "--property", type=property_id, help="one property (default: all of the project's)"
    )
    p.add_argument(
        "--wait",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="poll until the first event lands or this many seconds have passed (default 0:"
        " check once); progress goes to stderr",
    )

    p = leaf(sub, "onboarding-status", "the runbook checklist for a project", onboarding_status)
    p.add_argument("--project", required=True, help="prj_… id")

    tokens = sub.add_parser(
        "read-token", help="project read tokens for the read API (runbook step 8)"
    ).add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
    p = leaf(
        tokens,
        "create",
        "create a read token for one project; the token is printed this once",
        read_token_create,
        field=False,
    )
    p.add_argument("--project", required=True, help="prj_… id: the only project it can read")
    p.add_argument("--name", required=True, help="who or what uses it, e.g. 'Partner dashboard'")
    p = leaf(tokens, "list", "read tokens of a project (never the tokens)", read_token_list)
    p.add_argument("--project", required=True, help="prj_… id")
    p = leaf(
        tokens, "revoke", "revoke a read token (refused from the next request)", read_token_revoke
    )
    p.add_argument("--project", required=True, help="prj_… id the token belongs to")
    p.add_argument("token_id", help="rt_… id (from read-token list)")
