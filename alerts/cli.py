"""`optiview alerts run [--now ISO] [--dry-run]`, also `python -m alerts run …`; and
`optiview alerts test`, a test alert to Slack (runbook 9.2)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ingest.clock import iso_argument, now_ms, to_iso

# `optiview` registers these commands on every call: the runner, Slack's client (httpx) and
# the storage are imported only by the functions that run them.
if TYPE_CHECKING:
    from ingest.config import Settings
    from ingest.cron.command import Progress
    from ingest.storage.sql import Conn


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        type=iso_argument,
        help="evaluate as if it were this time (default: now, UTC); a test knob: with"
        " OPTIVIEW_ENV=production, a time more than a minute ahead needs --dry-run",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would fire and be sent; change nothing"
    )


def register(sub: Any) -> None:
    """Add `alerts run` and `alerts test` to the optiview command."""
    group = sub.add_parser("alerts", help="threshold alerts to Slack (runbook step 9)")
    actions = group.add_subparsers(dest="action", required=True, metavar="{run,test}")
    run = actions.add_parser(
        "run",
        help="evaluate the alert rules and notify Slack",
        description="Over the last 5 minutes of collector requests: error rate above 1% or "
        "p95 latency above 200 ms, each with at least 500 requests; and any cron job stalled "
        "for more than 90 minutes. The same alert is sent at most once per 15 minutes, and "
        "once more when it clears. Sends to SLACK_WEBHOOK_URL; without it, alerts are "
        "recorded and the next run with it sends them, as it retries a failed send.",
    )
    add_arguments(run)
    actions.add_parser(
        "test",
        help="send a test alert to Slack now (runbook 9.2)",
        description="Send a test message to SLACK_WEBHOOK_URL and record it, as POST "
        "/api/admin/alerts/test does; the onboarding checklist counts it once delivered. "
        "Exits 1 when SLACK_WEBHOOK_URL is not set or Slack does not take it.",
    )


def run(args: argparse.Namespace) -> int:
    from alerts.runner import AlreadyRunning, run_alerts
    from ingest.cron.command import run_job

    if getattr(args, "action", None) == "test":
        return test(args)

    def alerts(settings: Settings, conn: Conn, say: Progress) -> str:
        at = args.now if args.now is not None else now_ms()
        say(f"{'dry run, ' if args.dry_run else ''}evaluating as of {to_iso(at)}")
        report = run_alerts(
            conn,
            at,
            settings.alerts,
            settings.slack_webhook_url,
            dry_run=args.dry_run,
            base_url=settings.public_url,
            progress=say,
        )
        return report.summary()

    return run_job(
        "alerts",
        alerts,
        AlreadyRunning,
        at_ms=args.now,
        dry_run=args.dry_run,
        future_harm="send real alerts about a time that has not come",
    )


def test(args: argparse.Namespace) -> int:
    from alerts.runner import AlreadyRunning
    from alerts.send_test import NotDelivered, send_test_alert
    from ingest.cron.command import run_job

    def send(settings: Settings, conn: Conn, say: Progress) -> str:
        return send_test_alert(conn, settings.slack_webhook_url, settings.public_url)

    return run_job("alerts", send, AlreadyRunning, failures=(NotDelivered,))


def main(argv: list[str] | None = None) -> int:
    from ingest.cron.command import module_main

    return module_main(
        "alerts", "Threshold alerts: evaluate the rules, notify Slack.", add_arguments, run, argv
    )
