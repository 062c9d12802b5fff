"""Three `optiview serve` nodes on one fresh PostgreSQL database, with their schedulers on and
a local Slack stand-in, shared by the module (starting them is the slow part)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import postgres
from tests.alerts.conftest import SlackStandIn
from tests.conftest import Server, start_server

NODES = 3
# Short ticks: a due job is started within a fraction of a second on every node, so that
# several nodes race for it each time.
TICK_S = "0.2"


@pytest.fixture(scope="module")
def cluster_db(postgres_server: str) -> Iterator[str]:
    with postgres.fresh_database(postgres_server, "cluster") as url:
        yield url


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture(scope="module")
def nodes(cluster_db: str, slack: SlackStandIn) -> Iterator[list[Server]]:
    """Started at once, so their migrations race too (an advisory lock serializes them)."""
    env = {
        "OPTIVIEW_SCHEDULER": "on",
        "OPTIVIEW_SCHEDULER_TICK_S": TICK_S,
        "SLACK_WEBHOOK_URL": slack.url,
        # The rate limit is per key and per node; this test is about storage, not limits.
        "OPTIVIEW_RATE_LIMIT_PER_KEY": "100000",
        "OPTIVIEW_ALERT_WINDOW_MINUTES": "10",
    }
    with ThreadPoolExecutor(NODES) as pool:
        starting = [pool.submit(start_server, cluster_db, **env) for _ in range(NODES)]
        started, failures = [], []
        for future in starting:
            try:
                started.append(future.result())
            except Exception as exc:  # stop the ones that did start before failing
                failures.append(exc)
    if failures:
        for server in started:
            server.stop()
        raise failures[0]
    try:
        yield started
    finally:
        for server in started:
            server.stop()
