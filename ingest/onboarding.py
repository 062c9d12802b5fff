"""The runbook checklist for a project, computed from what is stored (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from typing import Any

from ingest import domains
from ingest.clock import to_iso
from ingest.cron.jobs import JOBS, JobState, stall_reason
from ingest.models import ApiKey, Org, Project, Property


@dataclass(frozen=True)
class Traffic:
    """A project's latest events and AI referrals, counted by visitor class (`ua_class`;
    `unknown` for an AI referral stored before the class was recorded)."""

    events: Mapping[str, int] = field(default_factory=dict)
    pageviews: Mapping[str, int] = field(default_factory=dict)
    ai_referrals: Mapping[str, int] = field(default_factory=dict)
    # Counted over at most this many of the latest rows per property, when it is not None:
    # the checklist must stay cheap on a table of millions.
    sample: int | None = None


@dataclass(frozen=True)
class SlackTestAlert:
    """The newest test alert (runbook 9.2), as the alerts table records it."""

    id: int
    delivery: str  # pending | sending | sent | failed | no_webhook | abandoned
    created_at: int
    delivered_at: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Facts:
    org: Org
    project: Project
    properties: Sequence[Property]
    keys: Sequence[ApiKey]
    enabled_sources: Set[str]
    first_event_at: int | None = None
    last_event_at: int | None = None
    purge: JobState | None = None
    traffic: Traffic = field(default_factory=Traffic)
    test_alert: SlackTestAlert | None = None


@dataclass(frozen=True)
class Item:
    id: str
    step: str
    title: str
    done: bool
    detail: str
    hint: str
    # The console page (a path) where the operator sees or does this step.
    console: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "title": self.title,
            "done": self.done,
            "detail": self.detail,
            "hint": None if self.done else self.hint,
            "console": self.console,
        }


# Checklist item -> its console page: a project page's slug, or an absolute path.
CONSOLE_PAGES = {
    "org_created": "data-policy",  # the org's plan, and the retention it sets
    "project_created": "install",
    "default_property": "install",
    "property_active": "install",
    "key_active": "install",
    "events_arriving": "install",  # the verification that turns green
    "events_classified": "events",
    "ai_sources_enabled": "sources",
    "slack_test_delivered": "/console/health",  # the test-alert button
    "purge_running": "data-policy",  # the purge log
}


def console_path(project_id: str, item_id: str) -> str | None:
    page = CONSOLE_PAGES.get(item_id)
    if page is None or page.startswith("/"):
        return page
    return f"/console/projects/{project_id}/{page}"


def _normalized(domain: str) -> bool:
    try:
        return domains.project_domain(domain) == domain
    except domains.DomainError:
        return False


def checklist(facts: Facts, now_ms: int) -> list[Item]:
    return [
        replace(item, console=console_path(facts.project.id, item.id))
        for item in _items(facts, now_ms)
    ]


def _items(facts: Facts, now_ms: int) -> list[Item]:
    project = facts.project
    default = next((p for p in facts.properties if p.is_default), None)
    good_properties = [
        p for p in facts.properties if p.active and _property_domain_ok(p.domain, project.domain)
    ]
    good_ids = {p.id for p in good_properties}
    active_keys = [
        k for k in facts.keys if k.property_id in good_ids and k.state(now_ms) == "active"
    ]
    first_property = good_properties[0].id if good_properties else "<property_id>"
    return [
        Item(
            "org_created",
            "1.1",
            "Organization created",
            True,
            f"{facts.org.name} ({facts.org.id}), plan {facts.org.plan}",
            "",
        ),
        Item(
            "project_created",
            "2.1",
            "Project created with a normalized apex domain",
            _normalized(project.domain),
            f"{project.name}: {project.domain}",
            "Recreate the project with its apex domain"
            f" (POST /api/admin/orgs/{facts.org.id}/projects)",
        ),
        Item(
            "default_property",
            "2.2",
            "Default property created",
            default is not None,
            f"property {default.id} on {default.domain}" if default else "no default property",
            f"Add a property: POST /api/admin/projects/{project.id}/properties"
            f" or `optiview property create --project {project.id} --domain {project.domain}`",
        ),
        Item(
            "property_active",
            "3.2",
            "Property active with a normalized domain",
            bool(good_properties),
            ", ".join(f"{p.id} ({p.domain})" for p in good_properties) or "no active property",
            f"Add a property: POST /api/admin/projects/{project.id}/properties"
            f" or `optiview property create --project {project.id} --domain {project.domain}`",
        ),
        Item(
            "key_active",
            "4.2",
            "Active API key linked to the property",
            bool(active_keys),
            ", ".join(k.id for k in active_keys) or "no active key",
            f"Create a key: POST /api/admin/properties/{first_property}/keys"
            f" or `optiview key create --property {first_property} --name 'Production Website'`",
        ),
        Item(
            "events_arriving",
            "6.1",
            "First event received (tag installed)",
            facts.first_event_at is not None,
            f"first {to_iso(facts.first_event_at)}, last {to_iso(facts.last_event_at)}"
            if facts.first_event_at is not None
            else "no event yet",
            f"Install the snippet (GET /api/admin/projects/{project.id}/install or"
            f" `optiview install --project {project.id}`) in the site's <head>, load a page,"
            f" then check GET /api/admin/projects/{project.id}/install/verify",
        ),
        _classified_item(facts.traffic),
        Item(
            "ai_sources_enabled",
            "7.1",
            "AI sources enabled",
            bool(facts.enabled_sources),
            (", ".join(sorted(facts.enabled_sources)) or "none enabled")
            + _ai_referrals_part(facts.traffic),
            f"Enable sources: PUT /api/admin/projects/{project.id}/sources"
            f" or `optiview sources set --project {project.id} chatgpt claude perplexity gemini`",
        ),
        _slack_item(facts.test_alert),
        _purge_item(facts.purge, now_ms),
    ]


def _classified_item(traffic: Traffic) -> Item:
    human_pageviews = traffic.pageviews.get("human", 0)
    if not traffic.events:
        detail = "no event yet"
    else:
        humans = traffic.events.get("human", 0)
        bots = {c: n for c, n in sorted(traffic.events.items()) if c != "human" and n}
        detail = (
            f"{humans} human events ({human_pageviews} pageviews),"
            f" {sum(bots.values())} bot events"
            + (f" ({', '.join(f'{c} {n}' for c, n in bots.items())})" if bots else "")
            + _sampled(traffic)
        )
    return Item(
        "events_classified",
        "6.2",
        "Events verified as classified correctly (a human pageview)",
        human_pageviews > 0,
        detail,
        "Open a page of the site in an ordinary browser: headless or automated browsers"
        " (HeadlessChrome, Playwright) and crawlers are stored as bots, and a check made with"
        " them never counts as a person. The debug tag (tag.js?debug=1) prints each event's"
        " class on the console",
    )


def _ai_referrals_part(traffic: Traffic) -> str:
    """People only count as AI referrals; what bots sent is shown beside, not added."""
    if not traffic.ai_referrals:
        return ""
    people = traffic.ai_referrals.get("human", 0)
    others = sum(n for c, n in traffic.ai_referrals.items() if c != "human")
    return (
        f"; {people} AI referrals from people"
        + (f" (and {others} from bots or unknown visitors, not counted)" if others else "")
        + _sampled(traffic)
    )


def _sampled(traffic: Traffic) -> str:
    return f", in the latest {traffic.sample} per property" if traffic.sample else ""


def _slack_item(test: SlackTestAlert | None) -> Item:
    """Done once the newest test alert reached Slack: an older success says nothing about a
    webhook that has since been removed or revoked."""
    if test is None:
        detail = "no test alert sent yet"
    elif test.delivery == "sent":
        detail = f"test alert {test.id} delivered {to_iso(test.delivered_at)}"
    elif test.delivery == "no_webhook":
        detail = (
            f"test alert {test.id} ({to_iso(test.created_at)}) was not sent:"
            " SLACK_WEBHOOK_URL was not set on the server"
        )
    else:
        detail = f"test alert {test.id} ({to_iso(test.created_at)}) is {test.delivery}" + (
            f": {test.last_error}" if test.last_error else ""
        )
    return Item(
        "slack_test_delivered",
        "9.2",
        "Slack configured and a test alert delivered",
        test is not None and test.delivery == "sent",
        detail,
        "Set SLACK_WEBHOOK_URL (a Slack incoming webhook) in the server's environment, restart"
        " it, then send a test alert: POST /api/admin/alerts/test or `optiview alerts test`"
        " (with the same SLACK_WEBHOOK_URL)",
    )


def _purge_item(state: JobState | None, now_ms: int) -> Item:
    job = JOBS["purge"]
    stalled = stall_reason(state, job, now_ms) if state else None
    done = state is not None and state.last_success_at is not None and stalled is None
    if state is None or state.last_started_at is None:
        detail = (
            f"the retention purge {stalled}" if stalled else "the retention purge has never run"
        )
    else:
        detail = f"last success {to_iso(state.last_success_at)}" + (
            f"; {stalled}" if stalled else ""
        )
    return Item(
        "purge_running",
        "10.2",
        "Retention purge running",
        done,
        detail,
        "Run `optiview serve` with its scheduler (OPTIVIEW_SCHEDULER=on, the default) or"
        " schedule `optiview purge run` daily from cron or a systemd timer (docs/deployment.md)",
    )


def _property_domain_ok(domain: str, apex: str) -> bool:
    try:
        return domains.property_domain(domain, apex) == domain
    except domains.DomainError:
        return False


def summary(facts: Facts, now_ms: int) -> dict[str, Any]:
    items = checklist(facts, now_ms)
    pending = [item for item in items if not item.done]
    return {
        "project_id": facts.project.id,
        "org_id": facts.org.id,
        "complete": not pending,
        "done": len(items) - len(pending),
        "total": len(items),
        "next_step": pending[0].hint if pending else None,
        "first_event_at": to_iso(facts.first_event_at),
        "last_event_at": to_iso(facts.last_event_at),
        "items": [item.to_json() for item in items],
    }
