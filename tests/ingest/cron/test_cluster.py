"""Several nodes on one database (PostgreSQL across hosts, SQLite on one machine): the
schedulers of all nodes make exactly one purge run and one alerts run per period between them,
one Slack message per alert, and a dead holder's lease moves at once.

Each node is a `Scheduler` with the service's own jobs (`ingest.serve.scheduled_jobs`) and a
connection of its own, ticking in a thread of its own, all at once. Time passes between
periods by moving the recorded runs back by one period: the jobs then fall due again on every
node together.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerts.runner import AlreadyRunning, run_alerts
from ingest.config import Settings, load_settings
from ingest.cron import bookkeeping
from ingest.cron.jobs import JOBS
from ingest.cron.scheduler import Scheduler, Work
from ingest.serve import scheduled_jobs
from ingest.storage.sql import Conn, Location
from tests.alerts.conftest import SlackStandIn, current_minute, insert_rollups, rollup_row
from tests.conftest import INLINE_WRITER, Server, service_env, start_server
from tests.ingest.cron.job_databases import connections, fresh

NODES = 3
PERIODS = 3
# The last node decided that its jobs were due, then got to them this much later: after the
# first node's runs were over (a run here takes milliseconds).
LATE_S = 0.5


@pytest.fixture(scope="module")
def slack_module() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def slack(slack_module: SlackStandIn) -> SlackStandIn:
    slack_module.reset()
    return slack_module


@pytest.fixture
def db(db_location: Location, tmp_path: Path) -> Location:
    return fresh(db_location, tmp_path)


@pytest.fixture
def nodes(db: Location) -> Iterator[list[Conn]]:
    conns = list(connections(db, NODES))
    try:
        yield conns
    finally:
        for conn in conns:
            conn.close()


def settings_for(db: Location, slack: SlackStandIn) -> Settings:
    return load_settings(service_env(db, SLACK_WEBHOOK_URL=slack.url))


def firing_error_rate(conn: Conn) -> None:
    """The last five minutes: 1,000 requests a minute, 5% errors."""
    minute = current_minute()
    insert_rollups(conn, [rollup_row(minute - i * 60_000, 1000, 50) for i in range(1, 6)])


def late(work: Work, delay_s: float) -> Work:
    def run(conn: Conn, now: int) -> object:
        time.sleep(delay_s)
        return work(conn, now)

    return run


def tick_all(schedulers: list[Scheduler], conns: list[Conn]) -> None:
    """Every node's scheduler ticks at once; raises what a tick raised."""
    start = threading.Barrier(len(schedulers))
    failures: list[BaseException] = []

    def tick(scheduler: Scheduler, conn: Conn) -> None:
        try:
            start.wait(timeout=10)
            scheduler.tick(conn)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    threads = [
        threading.Thread(target=tick, args=pair) for pair in zip(schedulers, conns, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures


def runs(conn: Conn, job: str) -> list[tuple[str, str | None]]:
    return conn.execute(
        "SELECT status, error FROM cron_runs WHERE job = ? ORDER BY id", (job,)
    ).fetchall()


def one_period_later(conn: Conn) -> None:
    for name, job in JOBS.items():
        conn.execute(
            "UPDATE cron_runs SET started_at = started_at - ?, finished_at = finished_at - ?"
            " WHERE job = ?",
            (job.period_ms, job.period_ms, name),
        )


def test_every_period_gets_one_purge_and_one_alerts_run_across_the_nodes(
    db: Location, nodes: list[Conn], slack: SlackStandIn
):
    firing_error_rate(nodes[0])
    settings = settings_for(db, slack)
    jobs = scheduled_jobs(settings)
    delays = [0.0] * (NODES - 1) + [LATE_S]
    schedulers = [
        Scheduler(settings, {name: late(work, delay) for name, work in jobs.items()}, 1.0)
        for delay in delays
    ]

    for period in range(1, PERIODS + 1):
        tick_all(schedulers, nodes)

        for job in JOBS:
            assert runs(nodes[0], job) == [("ok", None)] * period, (job, period)
        assert nodes[0].execute("SELECT count(*) FROM cron_leases").fetchone()[0] == 0
        one_period_later(nodes[0])

    # The alert fired in every period; Slack heard of it once (15 minutes of quiet after).
    assert len(slack.wait_for(1)) == 1
    time.sleep(0.2)
    assert "error rate" in slack.texts()[0].lower(), slack.texts()
    assert len(slack.received) == 1
    assert nodes[1].execute("SELECT count(*) FROM alerts WHERE kind = 'firing'").fetchone() == (1,)


def test_two_nodes_alerts_runs_for_the_same_minute_send_one_message(
    db: Location, nodes: list[Conn], slack: SlackStandIn
):
    """Not scheduled (cron or operators on two nodes): the lease and the recorded state let
    one of them notify, whatever the order."""
    firing_error_rate(nodes[0])
    settings = settings_for(db, slack)
    now = current_minute() + 1000
    outcomes: list[str] = []
    start = threading.Barrier(NODES)

    def run(conn: Conn) -> None:
        start.wait(timeout=10)
        try:
            report = run_alerts(conn, now, settings.alerts, slack.url)
            outcomes.append(f"notified {len(report.notifications)}")
        except AlreadyRunning:
            outcomes.append("skipped")

    threads = [threading.Thread(target=run, args=(conn,)) for conn in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == NODES
    assert outcomes.count("notified 1") == 1, outcomes
    assert len(slack.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(slack.received) == 1


HOLDER = """
import sys, time
from ingest.clock import now_ms
from ingest.cron import bookkeeping
from ingest.storage.sql import connect

conn = connect(sys.argv[1], create=False)
holder = bookkeeping.holder_id()
assert bookkeeping.acquire(conn, "purge", holder, now_ms()) is None
bookkeeping.start_run(conn, "purge", holder, now_ms())
print(holder, flush=True)
time.sleep(60)
"""


def wait_for(condition: Callable[[], bool], timeout_s: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.005)
    return time.monotonic() - started


def test_a_killed_holders_lease_moves_to_the_next_node_at_once(db: Location, nodes: list[Conn]):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        held_by = holder.stdout.readline().strip()
        assert held_by, "the holder did not take the lease"
        busy = bookkeeping.acquire(nodes[0], "purge", bookkeeping.holder_id(), current_minute())
        assert busy is not None and busy.holder == held_by and not busy.done
        state = bookkeeping.job_state(nodes[1], "purge")
        assert state.running_since is not None and state.last_status == "running"
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()

    taker = bookkeeping.holder_id()
    moved = wait_for(
        lambda: bookkeeping.acquire(nodes[0], "purge", taker, current_minute()) is None, 5.0
    )

    assert moved < 1.0, f"the lease moved after {moved:.2f} s"
    interrupted = f"interrupted: {held_by} stopped before finishing"
    assert runs(nodes[1], "purge") == [("failed", interrupted)]
    assert nodes[1].execute("SELECT holder FROM cron_leases").fetchall() == [(taker,)]
    # Held now by node 0: node 2 is refused, and is let in once node 0 lets go.
    assert bookkeeping.acquire(nodes[2], "purge", "node-2", current_minute()) is not None
    bookkeeping.release(nodes[0], "purge", taker)
    assert bookkeeping.acquire(nodes[2], "purge", "node-2", current_minute()) is None
    bookkeeping.release(nodes[2], "purge", "node-2")


def test_three_serving_nodes_run_each_job_once_and_send_one_message(
    db: Location, nodes: list[Conn], slack: SlackStandIn
):
    """`optiview serve` processes, each with its scheduler ticking every 0.2 s."""
    firing_error_rate(nodes[0])
    servers: list[Server] = []

    def start(i: int) -> None:
        servers.append(
            start_server(
                db,
                OPTIVIEW_SCHEDULER="on",
                OPTIVIEW_SCHEDULER_TICK_S="0.2",
                OPTIVIEW_NODE=f"node-{i}",
                SLACK_WEBHOOK_URL=slack.url,
                # the scheduler runs in serve's own process: no writer process to start
                **INLINE_WRITER,
            )
        )

    try:
        # Started together, so that their first ticks meet.
        starting = [threading.Thread(target=start, args=(i,)) for i in range(NODES)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join(timeout=60)
        assert len(servers) == NODES
        wait_for(lambda: all(runs(nodes[0], job) for job in JOBS), 20.0)
        time.sleep(2.0)  # ten more ticks on every node: time for a second run to show
    finally:
        for server in servers:
            server.stop()

    for job in JOBS:
        assert runs(nodes[0], job) == [("ok", None)], job
    assert len(slack.received) == 1, slack.texts()


def test_a_scheduled_run_that_could_not_release_its_lease_leaves_no_lock_behind(
    postgres_db: str,
):
    """PostgreSQL only: about the scheduler's long-lived session, which would keep a lock its
    run failed to release for as long as the node lives (SQLite's lease is a row that
    expires)."""
    db = fresh(postgres_db, Path("/nonexistent"))  # a URL: no folder used
    scheduler_conn, other = connections(db, 2)
    try:

        def broken(conn: Conn, now: int) -> None:
            assert bookkeeping.acquire(conn, "purge", "broken-run", now) is None
            raise RuntimeError("failed before releasing its lease")

        settings = load_settings(service_env(db))
        Scheduler(settings, {"purge": broken}, 1.0).tick(scheduler_conn)

        assert bookkeeping.acquire(other, "purge", "next", current_minute()) is None
        bookkeeping.release(other, "purge", "next")
    finally:
        scheduler_conn.close()
        other.close()
