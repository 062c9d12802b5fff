"""The checklist as a pure function: table of stored states -> items done."""

from dataclasses import replace

import pytest

from ingest.cron.jobs import JobState
from ingest.models import ApiKey, Org, Project, Property
from ingest.onboarding import Facts, SlackTestAlert, Traffic, checklist, summary
from purge.policy import DAY_MS

NOW = 1_800_000_000_000
ORG = Org("org_1", "Acme", "acme.com", "starter", 0)
PROJECT = Project("prj_1", "org_1", "Main", "acme.com", None, 0, 1)
DEFAULT = Property(1, "prj_1", "acme.com", "website", True, True, 0)
SHOP = Property(2, "prj_1", "shop.acme.com", "website", True, False, 0)
KEY = ApiKey("key_1", 1, "prj_1", "Prod", "active", 0, None, None, None, None)
PURGED = JobState("purge", NOW - DAY_MS, NOW - 3_600_000, "ok", None, NOW - 3_600_000, None)
VISITED = Traffic({"human": 3, "bot": 2}, {"human": 1, "bot": 2}, {"human": 1})
SLACK_OK = SlackTestAlert(4, "sent", NOW - 60_000, NOW - 59_000)
COMPLETE = Facts(
    ORG,
    PROJECT,
    [DEFAULT],
    [KEY],
    {"chatgpt"},
    NOW - 5000,
    NOW - 10,
    PURGED,
    traffic=VISITED,
    test_alert=SLACK_OK,
)


def done(facts: Facts) -> dict[str, bool]:
    return {item.id: item.done for item in checklist(facts, NOW)}


@pytest.mark.parametrize(
    ("facts", "not_done"),
    [
        (COMPLETE, set()),
        (replace(COMPLETE, keys=[]), {"key_active"}),
        (replace(COMPLETE, keys=[replace(KEY, status="revoked")]), {"key_active"}),
        (replace(COMPLETE, keys=[replace(KEY, expires_at=NOW)]), {"key_active"}),
        (replace(COMPLETE, keys=[replace(KEY, expires_at=NOW + 1)]), set()),
        (replace(COMPLETE, enabled_sources=set()), {"ai_sources_enabled"}),
        (
            replace(COMPLETE, first_event_at=None, last_event_at=None, traffic=Traffic()),
            {"events_arriving", "events_classified"},
        ),
        # a headless browser's pageview and a human click do not verify the classification
        (
            replace(COMPLETE, traffic=Traffic({"bot": 1, "human": 1}, {"bot": 1, "human": 0})),
            {"events_classified"},
        ),
        (replace(COMPLETE, test_alert=None), {"slack_test_delivered"}),
        (
            replace(COMPLETE, test_alert=replace(SLACK_OK, delivery="no_webhook")),
            {"slack_test_delivered"},
        ),
        (
            replace(COMPLETE, test_alert=replace(SLACK_OK, delivery="failed")),
            {"slack_test_delivered"},
        ),
        (
            replace(COMPLETE, test_alert=replace(SLACK_OK, delivery="sending")),
            {"slack_test_delivered"},
        ),
        (replace(COMPLETE, purge=None), {"purge_running"}),
        (replace(COMPLETE, purge=JobState("purge")), {"purge_running"}),
        (
            replace(COMPLETE, purge=replace(PURGED, last_success_at=NOW - DAY_MS - 91 * 60_000)),
            {"purge_running"},
        ),
        (
            replace(COMPLETE, purge=replace(PURGED, last_success_at=NOW - DAY_MS - 89 * 60_000)),
            set(),
        ),
        (
            replace(COMPLETE, properties=[SHOP], keys=[replace(KEY, property_id=2)]),
            {"default_property"},
        ),
        (
            replace(COMPLETE, properties=[replace(DEFAULT, active=False)]),
            {"property_active", "key_active"},
        ),
        (
            replace(COMPLETE, properties=[replace(DEFAULT, domain="WWW.Acme.com")]),
            {"property_active", "key_active"},
        ),
        (
            replace(COMPLETE, project=replace(PROJECT, domain="blog.acme.com")),
            {"project_created"},
        ),
        (
            replace(COMPLETE, properties=[], keys=[]),
            {"default_property", "property_active", "key_active"},
        ),
    ],
    ids=[
        "complete",
        "no-key",
        "revoked-key",
        "expired-key",
        "expiring-later",
        "no-sources",
        "no-events",
        "bots-only-pageviews",
        "no-test-alert",
        "test-alert-without-webhook",
        "test-alert-failed",
        "test-alert-being-sent",
        "purge-never-ran",
        "purge-no-runs",
        "purge-stalled",
        "purge-late-but-in-grace",
        "no-default-property",
        "inactive-property",
        "unnormalized-property-domain",
        "project-not-apex",
        "no-property",
    ],
)
def test_items_done(facts: Facts, not_done: set[str]):
    result = done(facts)
    assert {item for item, ok in result.items() if not ok} == not_done


def test_summary_points_at_the_first_missing_step():
    body = summary(replace(COMPLETE, keys=[], enabled_sources=set()), NOW)
    assert body["complete"] is False
    assert (body["done"], body["total"]) == (8, 10)
    assert body["next_step"].startswith("Create a key: POST /api/admin/properties/1/keys")
    steps = [item["step"] for item in body["items"]]
    assert steps == ["1.1", "2.1", "2.2", "3.2", "4.2", "6.1", "6.2", "7.1", "9.2", "10.2"]
    assert body["first_event_at"] == "2027-01-15T07:59:55.000Z"


def test_classification_item_counts_people_and_bots_apart():
    items = {item.id: item for item in checklist(COMPLETE, NOW)}
    assert items["events_classified"].detail == "3 human events (1 pageviews), 2 bot events (bot 2)"
    bots_only = replace(COMPLETE, traffic=Traffic({"bot": 4, "ai_crawler": 1}, {"bot": 4}))
    item = next(i for i in checklist(bots_only, NOW) if i.id == "events_classified")
    assert item.detail == "0 human events (0 pageviews), 5 bot events (ai_crawler 1, bot 4)"
    assert "HeadlessChrome" in item.to_json()["hint"]


def test_ai_referrals_count_people_only_and_show_bots_beside():
    traffic = Traffic({"human": 1}, {"human": 1}, {"human": 2, "bot": 1, "unknown": 1}, 10_000)
    items = checklist(replace(COMPLETE, traffic=traffic), NOW)
    item = next(i for i in items if i.id == "ai_sources_enabled")
    assert item.detail == (
        "chatgpt; 2 AI referrals from people (and 2 from bots or unknown visitors, not counted)"
        ", in the latest 10000 per property"
    )


@pytest.mark.parametrize(
    ("test_alert", "detail"),
    [
        (None, "no test alert sent yet"),
        (SLACK_OK, "test alert 4 delivered 2027-01-15T07:59:01.000Z"),
        (
            replace(SLACK_OK, delivery="no_webhook", delivered_at=None),
            "test alert 4 (2027-01-15T07:59:00.000Z) was not sent:"
            " SLACK_WEBHOOK_URL was not set on the server",
        ),
        (
            replace(SLACK_OK, delivery="failed", delivered_at=None, last_error="HTTP 404: x"),
            "test alert 4 (2027-01-15T07:59:00.000Z) is failed: HTTP 404: x",
        ),
    ],
    ids=["none", "sent", "no-webhook", "failed"],
)
def test_slack_item_says_what_happened_to_the_newest_test_alert(
    test_alert: SlackTestAlert | None, detail: str
):
    items = {item.id: item for item in checklist(replace(COMPLETE, test_alert=test_alert), NOW)}
    item = items["slack_test_delivered"]
    assert (item.step, item.title) == ("9.2", "Slack configured and a test alert delivered")
    assert item.detail == detail
    body = item.to_json()
    if item.done:
        assert body["hint"] is None
    else:
        assert "SLACK_WEBHOOK_URL" in body["hint"]
        assert "POST /api/admin/alerts/test" in body["hint"]
        assert "`optiview alerts test`" in body["hint"]
