"""run_alerts on real databases (every test on SQLite and on PostgreSQL), delivering to a real
local stand-in for Slack."""

from __future__ import annotations

import gc
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from alerts.message import clock
from alerts.runner import MAX_DELIVERY_AGE_MS, AlreadyRunning, Report, run_alerts
from alerts.slack import SlackSender
from ingest.clock import now_ms
from ingest.collect.rollups import COLUMNS, MINUTE_MS, UPSERT_SQL, upsert_rows
from ingest.config import AlertSettings
from ingest.cron import bookkeeping
from ingest.storage.sql import Conn, Location, connect, returning_id
from tests.alerts.conftest import (
    DOWN,
    OK,
    SlackStandIn,
    current_minute,
    insert_rollups,
    rollup_row,
    rows,
)
from tests.ingest.cron.job_databases import dump

HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
HOST = socket.gethostname()


@pytest.fixture
def now() -> int:
    """The current minute: heartbeats and leases use the wall clock."""
    return current_minute()


@pytest.fixture
def sender(slack: SlackStandIn) -> Iterator[SlackSender]:
    s = SlackSender(slack.url, retries=2, backoff_s=0.01)
    try:
        yield s
    finally:
        s.close()


@dataclass
class Runs:
    conn: Conn
    slack: SlackStandIn
    sender: SlackSender
    lines: list[str] = field(default_factory=list)

    def __call__(self, at: int, **kwargs: Any) -> Report:
        kwargs.setdefault("sender", self.sender)
        webhook = kwargs.pop("webhook_url", self.slack.url)
        conn = kwargs.pop("conn", self.conn)
        return run_alerts(conn, at, AlertSettings(), webhook, progress=self.lines.append, **kwargs)


@pytest.fixture
def run(conn: Conn, slack: SlackStandIn, sender: SlackSender) -> Runs:
    return Runs(conn, slack, sender)


def firing_error_rate(conn: Conn, first: int, last: int) -> None:
    """5% errors over 1000 requests a minute, for every minute from first to last."""
    insert_rollups(
        conn, [rollup_row(m, 1000, 50) for m in range(first, last + MINUTE_MS, MINUTE_MS)]
    )


def alerts(conn: Conn) -> list[dict[str, Any]]:
    cursor = conn.execute("SELECT * FROM alerts ORDER BY id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def heartbeats(conn: Conn) -> list[tuple[Any, ...]]:
    return rows(conn, "SELECT job, status, error, summary FROM cron_runs ORDER BY id")


def add_alert(conn: Conn, created_at: int, delivery: str, text: str) -> int:
    payload = orjson.dumps({"text": text, "blocks": []}).decode()
    return returning_id(
        conn,
        "INSERT INTO alerts (rule, subject, kind, message, payload, created_at, delivery,"
        " attempts, last_error) VALUES ('error_rate', 'collector', 'firing', ?, ?, ?, ?, ?, ?)",
        (text, payload, created_at, delivery, 0 if delivery == "pending" else 3,
         None if delivery == "pending" else "HTTP 500: internal_error"),
    )  # fmt: skip


def fields(payload: dict[str, Any]) -> dict[str, str]:
    (section,) = [b for b in payload["blocks"] if "fields" in b]
    pairs = (f["text"].split("\n", 1) for f in section["fields"])
    return {name.strip("*"): value for name, value in pairs}


def everything(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload["blocks"]).decode()


# -- firing and delivered --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "rule", "title", "value", "shown", "threshold"),
    [
        pytest.param(
            {"requests": 1000, "errors": 50},
            "error_rate",
            "Collector error rate",
            0.05,
            "5.00%",
            "> 1.00% with at least 500 requests",
            id="error-rate",
        ),
        pytest.param(
            {"requests": 1000, "errors": 0, "buckets": {"le_100": 900, "le_300": 100}},
            "p95_latency",
            "Collector p95 latency",
            275.0,
            "275 ms",
            "> 200 ms with at least 500 requests",
            id="p95",
        ),
    ],
)
def test_above_threshold_one_alert_is_recorded_and_delivered(
    conn: Conn,
    slack: SlackStandIn,
    run: Runs,
    now: int,
    row: dict[str, Any],
    rule: str,
    title: str,
    value: float,
    shown: str,
    threshold: str,
):
    insert_rollups(conn, [rollup_row(now - 3 * MINUTE_MS, **row)])

    report = run(now)

    assert [(n.kind, n.evaluation.rule) for n in report.notifications] == [("firing", rule)]
    assert [(d.ok, d.attempts) for d in report.deliveries] == [(True, 1)]
    assert report.summary() == "1 firing, 1 notified, 1 delivered"

    (alert,) = alerts(conn)
    assert alert["rule"] == rule and alert["subject"] == "collector"
    assert alert["kind"] == "firing"
    assert alert["value"] == pytest.approx(value)
    assert (alert["window_start"], alert["window_end"]) == (now - 5 * MINUTE_MS, now)
    assert alert["created_at"] == now
    assert (alert["delivery"], alert["attempts"], alert["last_error"]) == ("sent", 1, None)
    assert alert["delivered_at"] is not None and alert["last_attempt_at"] is not None

    (got,) = slack.bodies
    assert got == orjson.loads(alert["payload"])
    assert got["text"] == alert["message"]
    assert got["text"].startswith(f"[FIRING] {title}: ")
    assert shown in got["text"]
    assert got["blocks"][0]["text"]["text"] == f"FIRING: {title}"
    shown_fields = fields(got)
    assert shown_fields["Value"] == shown
    assert shown_fields["Threshold"] == threshold
    assert shown_fields["Window"] == f"{clock(now - 5 * MINUTE_MS)} to {clock(now)}"
    assert shown_fields["Requests"] == f"1000 ({row['errors']} errors)"
    assert shown_fields["Since"] == clock(now)
    assert "Where to look: " in everything(got)

    assert rows(
        conn,
        "SELECT firing, since, last_fired_at, episode_notified FROM alert_states"
        " WHERE rule = ? AND subject = 'collector'",
        rule,
    ) == [(1, now, now, 1)]
    assert heartbeats(conn) == [("alerts", "ok", None, "1 firing, 1 notified, 1 delivered")]
    assert rows(conn, "SELECT * FROM cron_leases") == []
    assert any(line.startswith("FIRING: ") for line in run.lines)
    assert any(line.startswith("alert 1: sent") for line in run.lines)


def test_fewer_than_500_requests_fire_nothing(conn: Conn, slack: SlackStandIn, run: Runs, now: int):
    # 100% errors and every request past 10 s, but only 499 of them
    insert_rollups(conn, [rollup_row(now - MINUTE_MS, 499, 499, {"le_inf": 499})])

    report = run(now)

    assert report.notifications == [] and report.deliveries == []
    assert alerts(conn) == []
    assert slack.received == []
    assert rows(conn, "SELECT sum(firing) FROM alert_states") == [(0,)]
    assert heartbeats(conn) == [("alerts", "ok", None, "0 firing, 0 notified, 0 delivered")]


def test_rows_outside_the_window_do_not_count(conn: Conn, slack: SlackStandIn, run: Runs, now: int):
    insert_rollups(
        conn,
        [rollup_row(now, 100_000, 100_000), rollup_row(now - 6 * MINUTE_MS, 100_000, 100_000)],
    )
    run(now)
    assert alerts(conn) == []
    assert slack.received == []


def test_the_rules_count_every_nodes_rows_of_a_minute(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    """Three nodes wrote 200 requests each per minute (migration 0011: a row per minute and
    node): no node alone reaches the 500 requests the rules need over the window, together
    they do (3,000, with 5% errors, and one more request)."""
    minutes = range(now - 5 * MINUTE_MS, now, MINUTE_MS)
    for node in ("node-a", "node-b", "node-c"):
        counters = {m: list(rollup_row(m, 200, 10)[1:]) for m in minutes}
        conn.executemany(UPSERT_SQL, upsert_rows(counters, node))
    # A node's second commit of a minute adds to its own row.
    last = now - MINUTE_MS
    conn.executemany(UPSERT_SQL, upsert_rows({last: [0.0] * len(COLUMNS)}, "node-a"))
    conn.executemany(UPSERT_SQL, upsert_rows({last: list(rollup_row(0, 1, 1)[1:])}, "node-a"))
    assert conn.execute(
        "SELECT count(*), count(DISTINCT minute) FROM request_rollups"
    ).fetchone() == (15, 5)

    report = run(now)

    (firing,) = [e for e in report.evaluations if e.rule == "error_rate" and e.firing]
    assert firing.window is not None
    assert (firing.window.requests, firing.window.errors) == (3001, 151)
    assert len(slack.received) == 1


# -- deduplication across runs, and recovery -------------------------------------------------


def test_one_message_per_15_minutes_then_a_recovery(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now + 16 * MINUTE_MS)

    sent = []
    for minutes in (0, 10, 16):
        run(now + minutes * MINUTE_MS)
        sent.append(len(slack.received))
    assert sent == [1, 1, 2]

    # nothing since now + 17 min: at now + 30 min the window is empty and it clears
    cleared = run(now + 30 * MINUTE_MS)
    assert [n.kind for n in cleared.notifications] == ["resolved"]
    run(now + 31 * MINUTE_MS)  # still clear: no second recovery

    assert [(a["kind"], a["created_at"], a["delivery"]) for a in alerts(conn)] == [
        ("firing", now, "sent"),
        ("firing", now + 16 * MINUTE_MS, "sent"),
        ("resolved", now + 30 * MINUTE_MS, "sent"),
    ]
    texts = slack.texts()
    assert len(texts) == 3
    assert texts[0].startswith("[FIRING] Collector error rate")
    assert texts[1].startswith("[FIRING] Collector error rate")
    assert texts[2].startswith("[RESOLVED] Collector error rate")
    assert fields(slack.bodies[2])["Since"] == clock(now)  # the episode's start
    assert [h[1] for h in heartbeats(conn)] == ["ok"] * 5


# -- delivery failures and retries -----------------------------------------------------------


def test_slack_down_records_failed_and_the_next_run_delivers(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    slack.mode = DOWN

    first = run(now)  # does not raise

    assert [(d.ok, d.attempts) for d in first.deliveries] == [(False, 3)]
    (alert,) = alerts(conn)
    assert alert["delivery"] == "failed"
    assert alert["attempts"] == 3
    assert alert["last_error"].startswith("ConnectError: ")
    assert alert["delivered_at"] is None and alert["last_attempt_at"] is not None
    assert (
        first.summary() == "1 firing, 1 notified, 0 delivered, 1 delivery failed (retried next run)"
    )
    assert heartbeats(conn) == [("alerts", "ok", None, first.summary())]
    assert rows(conn, "SELECT * FROM cron_leases") == []
    assert any("not sent: ConnectError" in line for line in run.lines)

    slack.mode = OK
    second = run(now + MINUTE_MS)  # still firing, but within 15 minutes: no new alert

    assert second.notifications == []
    assert [(d.ok, d.attempts) for d in second.deliveries] == [(True, 1)]
    (alert,) = alerts(conn)
    assert (alert["delivery"], alert["attempts"], alert["last_error"]) == ("sent", 4, None)
    assert alert["delivered_at"] is not None
    assert slack.texts() == [alert["message"]]

    run(now + 2 * MINUTE_MS)
    assert len(slack.received) == 1  # delivered once


@pytest.mark.parametrize(
    ("age", "delivery", "outcome"),
    [
        pytest.param(25 * HOUR_MS, "failed", "abandoned", id="failed-25h"),
        pytest.param(25 * HOUR_MS, "pending", "abandoned", id="pending-25h"),
        pytest.param(MAX_DELIVERY_AGE_MS + 1, "failed", "abandoned", id="a-day-and-1ms"),
        pytest.param(MAX_DELIVERY_AGE_MS, "failed", "sent", id="exactly-a-day"),
        pytest.param(23 * HOUR_MS, "failed", "sent", id="failed-23h"),
        pytest.param(MINUTE_MS, "pending", "sent", id="pending-1min"),
    ],
)
def test_a_waiting_alert_is_sent_for_up_to_a_day_then_abandoned(
    conn: Conn,
    slack: SlackStandIn,
    run: Runs,
    now: int,
    age: int,
    delivery: str,
    outcome: str,
):
    alert_id = add_alert(conn, now - age, delivery, "[FIRING] an older alert")

    report = run(now)

    (alert,) = alerts(conn)
    assert alert["id"] == alert_id
    assert alert["delivery"] == outcome
    if outcome == "abandoned":
        assert slack.received == []
        assert report.deliveries == []
        assert alert["last_error"].endswith("(older than a day: no longer sent)")
    else:
        assert slack.texts() == ["[FIRING] an older alert"]
        assert alert["last_error"] is None


def test_alerts_that_are_not_waiting_are_never_sent(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    for delivery in ("sent", "abandoned"):
        add_alert(conn, now - MINUTE_MS, delivery, delivery)
    run(now)
    assert slack.received == []
    assert [a["delivery"] for a in alerts(conn)] == ["sent", "abandoned"]


def test_oldest_waiting_alerts_go_first(conn: Conn, slack: SlackStandIn, run: Runs, now: int):
    add_alert(conn, now - 3 * MINUTE_MS, "failed", "first")
    add_alert(conn, now - 2 * MINUTE_MS, "pending", "second")
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    run(now)
    texts = slack.texts()
    assert texts[:2] == ["first", "second"]
    assert texts[2].startswith("[FIRING]")
    assert {a["delivery"] for a in alerts(conn)} == {"sent"}


# -- only a delivered message counts: no webhook, or Slack failing ---------------------------


def kinds_and_deliveries(conn: Conn) -> list[tuple[str, str]]:
    return [(a["kind"], a["delivery"]) for a in alerts(conn)]


def test_a_firing_recorded_without_webhook_is_delivered_by_the_next_run_with_one(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    """The lost alert: a run without SLACK_WEBHOOK_URL (an operator's shell) records a FIRING;
    the scheduler's run, which has the webhook, must send it rather than count it as already
    notified, and the RESOLVED follows only that delivered FIRING."""
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)

    run(now, webhook_url=None, sender=None)
    assert kinds_and_deliveries(conn) == [("firing", "no_webhook")]
    assert slack.received == []

    second = run(now + MINUTE_MS)  # still firing: no second FIRING recorded, the first is sent
    assert second.notifications == []
    (text,) = slack.texts()
    assert text.startswith("[FIRING] Collector error rate")
    assert kinds_and_deliveries(conn) == [("firing", "sent")]

    run(now + 7 * MINUTE_MS)  # the window is empty: it clears
    texts = slack.texts()
    assert [t.split("]")[0] for t in texts] == ["[FIRING", "[RESOLVED"]
    assert kinds_and_deliveries(conn) == [("firing", "sent"), ("resolved", "sent")]


def test_cleared_before_any_run_had_a_webhook_firing_then_resolved_arrive_in_order(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    run(now, webhook_url=None, sender=None)
    run(now + 7 * MINUTE_MS, webhook_url=None, sender=None)  # cleared, still no webhook
    assert kinds_and_deliveries(conn) == [("firing", "no_webhook"), ("resolved", "no_webhook")]

    run(now + 8 * MINUTE_MS)

    assert [t.split("]")[0] for t in slack.texts()] == ["[FIRING", "[RESOLVED"]
    assert kinds_and_deliveries(conn) == [("firing", "sent"), ("resolved", "sent")]


def test_a_firing_cleared_in_the_first_run_with_a_webhook_goes_out_before_its_resolved(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    run(now, webhook_url=None, sender=None)

    run(now + 7 * MINUTE_MS)

    assert [t.split("]")[0] for t in slack.texts()] == ["[FIRING", "[RESOLVED"]


def test_no_resolved_is_sent_while_its_firing_is_undelivered(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    slack.mode = DOWN
    run(now)
    run(now + 7 * MINUTE_MS)  # cleared while Slack is down: the RESOLVED waits for its FIRING
    assert kinds_and_deliveries(conn) == [("firing", "failed"), ("resolved", "pending")]

    slack.script("500", "500", "500")  # the FIRING fails again: its RESOLVED must not go alone
    slack.mode = OK
    held = run(now + 8 * MINUTE_MS)
    assert [r.answered for r in slack.received] == [500, 500, 500]
    assert [(d.ok) for d in held.deliveries] == [False]
    assert kinds_and_deliveries(conn) == [("firing", "failed"), ("resolved", "pending")]

    run(now + 9 * MINUTE_MS)
    assert [t.split("]")[0] for t in slack.texts()[-2:]] == ["[FIRING", "[RESOLVED"]
    assert kinds_and_deliveries(conn) == [("firing", "sent"), ("resolved", "sent")]


def test_a_resolved_whose_firing_was_abandoned_is_abandoned_too(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    start = now - 25 * HOUR_MS
    firing_error_rate(conn, start - 5 * MINUTE_MS, start)
    run(start, webhook_url=None, sender=None)
    run(now - HOUR_MS, webhook_url=None, sender=None)  # cleared an hour ago

    run(now)  # the FIRING is more than a day old: neither it nor its RESOLVED goes out

    assert slack.received == []
    assert kinds_and_deliveries(conn) == [("firing", "abandoned"), ("resolved", "abandoned")]
    (_, resolved) = alerts(conn)
    assert "its FIRING was never delivered" in resolved["last_error"]


def test_without_webhook_a_long_alert_is_recorded_once_not_every_15_minutes(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now + 40 * MINUTE_MS)
    for minutes in (0, 16, 32):
        run(now + minutes * MINUTE_MS, webhook_url=None, sender=None)
    assert kinds_and_deliveries(conn) == [("firing", "no_webhook")]

    run(now + 33 * MINUTE_MS)  # delivered now: the dedup interval starts at its delivery
    run(now + 40 * MINUTE_MS)
    assert len(slack.received) == 1
    run(now + 48 * MINUTE_MS)  # 15 minutes after the delivery, but the alert cleared at +46
    assert [t.split("]")[0] for t in slack.texts()] == ["[FIRING", "[RESOLVED"]


def test_a_test_alert_recorded_without_webhook_is_not_sent_later(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    conn.execute(
        "INSERT INTO alerts (rule, subject, kind, message, payload, created_at, delivery)"
        " VALUES ('test', 'slack', 'test', 'test', '{\"text\": \"test\"}', ?, 'no_webhook')",
        (now - MINUTE_MS,),
    )
    run(now)
    assert slack.received == []
    assert kinds_and_deliveries(conn) == [("test", "no_webhook")]


# -- without webhook, dry run ----------------------------------------------------------------


def test_without_webhook_alerts_are_recorded_not_sent_with_a_warning(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    waiting = add_alert(conn, now - MINUTE_MS, "failed", "waiting")
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)

    report = run(now, webhook_url=None, sender=None)

    assert [n.kind for n in report.notifications] == ["firing"]
    assert report.deliveries == []
    assert slack.received == []
    by_id = {a["id"]: a for a in alerts(conn)}
    assert by_id[waiting]["delivery"] == "failed"  # left for a run with a webhook
    (new,) = [a for a in by_id.values() if a["id"] != waiting]
    assert (new["delivery"], new["attempts"]) == ("no_webhook", 0)
    assert (
        "warning: SLACK_WEBHOOK_URL is not set: alerts are recorded, not sent;"
        " the next run with it sends them"
    ) in run.lines
    assert heartbeats(conn) == [("alerts", "ok", None, "1 firing, 1 notified, 0 delivered")]


def test_dry_run_writes_and_sends_nothing_but_says_what_would_notify(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    add_alert(conn, now - MINUTE_MS, "failed", "waiting")
    before = dump(conn)

    report = run(now, dry_run=True)

    assert dump(conn) == before
    assert slack.received == []
    assert report.dry_run and report.run_id is None
    assert [(n.kind, n.evaluation.rule, n.evaluation.subject) for n in report.notifications] == [
        ("firing", "error_rate", "collector")
    ]
    assert "would notify firing: error_rate collector" in run.lines


def test_dry_run_respects_the_recorded_dedup_state(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now + 20 * MINUTE_MS)
    run(now)
    assert run(now + 10 * MINUTE_MS, dry_run=True).notifications == []
    later = run(now + 16 * MINUTE_MS, dry_run=True).notifications
    assert [n.kind for n in later] == ["firing"]
    assert len(slack.received) == 1


# -- cron stalls -----------------------------------------------------------------------------


@pytest.mark.parametrize(("overdue_minutes", "fires"), [(91, True), (89, False)])
def test_a_stalled_purge_job_fires_a_cron_stall_alert(
    conn: Conn,
    slack: SlackStandIn,
    run: Runs,
    now: int,
    overdue_minutes: int,
    fires: bool,
):
    started = now - DAY_MS - overdue_minutes * MINUTE_MS
    conn.execute(
        "INSERT INTO cron_runs (job, started_at, finished_at, status, holder)"
        " VALUES ('purge', ?, ?, 'ok', 'otherhost:1:abcd')",
        (started, started + MINUTE_MS),
    )

    report = run(now)

    stalls = [a for a in alerts(conn) if a["rule"] == "cron_stall"]
    if not fires:
        assert stalls == [] and slack.received == []
        assert report.notifications == []
        return
    (alert,) = stalls
    assert (alert["subject"], alert["kind"], alert["delivery"]) == ("purge", "firing", "sent")
    assert alert["threshold"] == 90
    assert alert["window_start"] is None and alert["value"] is None
    (text,) = slack.texts()
    assert text.startswith("[FIRING] Cron job stalled (purge): cron job purge: no success for")
    assert "no success for 25 h 31 min" in text
    assert fields(slack.bodies[0])["Threshold"] == (
        "no success for more than 25 h 30 min, or a run going for more than 90 minutes"
    )


def test_a_purge_run_going_for_91_minutes_fires(
    db: Location, slack: SlackStandIn, run: Runs, now: int
):
    holder = bookkeeping.holder_id()  # alive: this process, holding the lease meanwhile
    other = connect(db, create=False)
    try:
        assert bookkeeping.acquire(other, "purge", holder, now_ms()) is None
        bookkeeping.start_run(other, "purge", holder, now - 91 * MINUTE_MS)
        run(now)
    finally:
        other.close()
    (text,) = slack.texts()
    assert "[FIRING] Cron job stalled (purge)" in text
    assert "a run has been going for 91 minutes" in text


# -- several nodes, leases -------------------------------------------------------------------


def test_two_nodes_at_the_same_minute_notify_once(
    db: Location, conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    other = connect(db, create=False)
    try:
        first = run(now)
        second = run(now, conn=other)
    finally:
        other.close()

    assert len(first.notifications) == 1
    assert second.notifications == []
    assert len(alerts(conn)) == 1
    assert len(slack.received) == 1
    assert [h[1] for h in heartbeats(conn)] == ["ok", "ok"]


def test_a_run_while_another_holds_the_lease_is_refused(
    conn: Conn, slack: SlackStandIn, run: Runs, now: int
):
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    assert bookkeeping.acquire(conn, "alerts", "otherhost:1:abcd", now) is None

    with pytest.raises(AlreadyRunning):
        run(now)

    assert alerts(conn) == []
    assert slack.received == []
    assert heartbeats(conn) == []


def test_a_run_without_a_sender_closes_the_one_it_makes(conn: Conn, slack: SlackStandIn, now: int):
    """BUG: alerts/runner.py run_alerts makes `SlackSender(webhook_url)` when no sender is
    given and never closes it: its kept-alive connection to Slack leaks (ResourceWarning:
    unclosed socket) on every run, e.g. every minute in the scheduler of `optiview serve`."""
    firing_error_rate(conn, now - 5 * MINUTE_MS, now)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run_alerts(conn, now, AlertSettings(), slack.url)
        gc.collect()
    assert [(d.ok, d.attempts) for d in report.deliveries] == [(True, 1)]
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
