"""The collector on PostgreSQL when the server kills its connections under load
(pg_terminate_backend: what a restart, a failover or an operator does): requests answer 202 or
503 with Retry-After, never 500; every 202 is stored exactly once; it recovers by itself.

PostgreSQL only: SQLite has no connections to lose (its own failures, a held lock and a lost
file, are in test_storage_failures.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests import dbprobe
from tests.conftest import Server, serving
from tests.ingest.collect.conftest import provision_on
from tests.ingest.collect.test_durability import NO_RATE_LIMIT, Load, stored_once, stored_paths

KILLS = 5
SENDERS_TAIL = 20  # the last answers, once the kills are over


@pytest.fixture(scope="module")
def pg_server(postgres_db: str) -> Iterator[Server]:
    yield from serving(postgres_db, **NO_RATE_LIMIT)


def kill_connections(server: Server) -> int:
    """Terminate every session of the service on its database (the probe's own excepted)."""
    return int(
        dbprobe.value(
            server.db,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
    )


def test_killed_connections_under_load_answer_503_not_500_and_lose_no_202(pg_server: Server):
    site = provision_on(pg_server)
    load = Load(site)
    load.start()
    killed = 0
    try:
        time.sleep(0.5)
        for _ in range(KILLS):
            killed += kill_connections(pg_server)
            time.sleep(0.4)
        time.sleep(1.5)  # past the writer's breaker: answers are 202 again
    finally:
        load.finish()
    statuses = set(load.statuses)
    acknowledged = set(load.acknowledged)
    stored = stored_paths(pg_server.db, site.property_id)
    print(
        f"\n{killed} connections killed: {len(acknowledged)} acknowledged, {len(stored)} stored,"
        f" answers {sorted(statuses)}"
    )
    assert killed >= KILLS  # the writer at least, each time
    assert statuses <= {202, 503}, sorted(statuses)
    assert len(acknowledged) >= 100, "too little load for the test to mean anything"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events were lost"
    assert stored_once(pg_server.db, site.property_id)
    # It recovered by itself: the last answers are acceptances.
    assert load.statuses[-SENDERS_TAIL:] == [202] * SENDERS_TAIL
    assert "Traceback" not in pg_server.log_text()
