"""Several nodes on one PostgreSQL database: a change made through one node's admin API reaches
every node's caches at COMMIT (LISTEN/NOTIFY), not after the cache's TTL.

PostgreSQL only: on SQLite every worker shares one machine and the TTL is the bound
(test_workers.py). The TTL here is ten minutes, so only the notification can pass the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, Server, serving_two
from tests.ingest.collect.conftest import Site, provision_on

LONG_TTL = {"OPTIVIEW_AUTH_CACHE_TTL_MS": "600000"}
HONOURED_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def nodes(postgres_db: str) -> Iterator[tuple[Server, Server]]:
    yield from serving_two(postgres_db, **LONG_TTL)


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def on(server: Server, site: Site) -> Site:
    """The same site, sent to another node."""
    return Site(server, site.admin, site.domain, site.project_id, site.property_id,
                site.key_id, site.secret)  # fmt: skip


def refused_after(site: Site, give_up_s: float = 10.0) -> tuple[httpx.Response, float]:
    """Send until the node refuses; the answer and how long it took."""
    started = time.monotonic()
    while True:
        answer = site.send()
        elapsed = time.monotonic() - started
        if answer.status_code != 202 or elapsed > give_up_s:
            return answer, elapsed
        time.sleep(0.02)


def test_a_key_revoked_through_one_node_is_refused_by_the_other_within_1_s(
    nodes: tuple[Server, Server],
):
    first, second = nodes
    site = provision_on(first)
    elsewhere = on(second, site)
    assert elsewhere.send().status_code == 202  # the second node now holds the grant
    with httpx.Client(base_url=first.url + "/api/admin", headers=admin_headers()) as admin:
        assert admin.post(f"/keys/{site.key_id}/revoke").status_code == 200
    answer, elapsed = refused_after(elsewhere)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "key_revoked"
    assert elapsed < HONOURED_WITHIN_S, f"the second node refused after {elapsed:.2f} s"


def test_the_listener_reconnects_after_its_connection_is_killed(nodes: tuple[Server, Server]):
    first, second = nodes
    site = provision_on(first)
    elsewhere = on(second, site)
    before = listeners(second)
    assert len(before) == 2  # one per node
    killed = dbprobe.value(
        second.db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE pid = ANY(?)", (sorted(before),),
    )  # fmt: skip
    assert killed == 2
    deadline = time.monotonic() + 10
    while len(listeners(second) - before) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(listeners(second) - before) == 2, "the listeners did not come back"
    # Held again after the reconnect's forget: only a notification can drop it now.
    assert elsewhere.send().status_code == 202
    with httpx.Client(base_url=first.url + "/api/admin", headers=admin_headers()) as admin:
        assert admin.post(f"/keys/{site.key_id}/revoke").status_code == 200
    answer, elapsed = refused_after(elsewhere)
    assert answer.status_code == 401, answer.text
    assert elapsed < HONOURED_WITHIN_S, f"the second node refused after {elapsed:.2f} s"


def listeners(server: Server) -> set[int]:
    """The pids of the listening sessions on the server's database."""
    found = dbprobe.rows(
        server.db,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'optiview-listener'"
        " AND datname = current_database()",
    )
    return {pid for (pid,) in found}
