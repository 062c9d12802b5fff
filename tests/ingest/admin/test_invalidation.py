"""Several nodes on one PostgreSQL database: every admin write that changes what the collector
caches announces it (NOTIFY, delivered at COMMIT), and another node's collector honours a
revoked key or a deactivated property within 1 s, not after its cache's TTL; a revoked read
token is refused by every node from the next request.

PostgreSQL only: on SQLite every worker is on one machine, `announce` does nothing and the
TTL is the bound (the admin tests run on both backends; this module is about the NOTIFY).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest

from ingest.collect.invalidation import CHANNEL
from tests.conftest import ADMIN_TOKEN, Server, serving
from tests.ingest.admin.conftest import created, unique_domain
from tests.ingest.collect.conftest import Site, provision

# Long enough that only the announcement can make a node forget within the test.
LONG_TTL_MS = "600000"
HONOURED_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def node_a(postgres_db: str) -> Iterator[Server]:
    yield from serving(postgres_db, OPTIVIEW_AUTH_CACHE_TTL_MS=LONG_TTL_MS)


@pytest.fixture(scope="module")
def node_b(postgres_db: str, node_a: Server) -> Iterator[Server]:
    yield from serving(postgres_db, OPTIVIEW_AUTH_CACHE_TTL_MS=LONG_TTL_MS)


@pytest.fixture
def admin_a(node_a: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=node_a.url + "/api/admin", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def heard(postgres_db: str) -> Iterator[Callable[[bool], int]]:
    """`heard(expected)`: how many announcements arrived since the last call; it waits up to
    2 s for one that is expected, 0.3 s for one that is not."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")

        def count(expected: bool) -> int:
            first = list(conn.notifies(timeout=2.0 if expected else 0.3, stop_after=1))
            return len(first) + len(list(conn.notifies(timeout=0.05)))

        yield count


def test_each_cache_changing_write_announces_once_at_commit(
    admin_a: httpx.Client, heard: Callable[[bool], int]
) -> None:
    # The HTTP answer comes after COMMIT, so a notification sent is already on its way.
    def announced(response: httpx.Response, status: int, expected: bool = True) -> int:
        assert response.status_code == status, response.text
        return heard(expected)

    org = created(
        admin_a.post("/orgs", json={"name": "A", "domain": unique_domain(), "plan": "pro"})
    )
    assert heard(False) == 0  # an org alone: nothing the collector caches
    domain = unique_domain()
    project: dict[str, Any] = admin_a.post(
        f"/orgs/{org['id']}/projects", json={"name": "M", "domain": domain}
    ).json()
    assert heard(True) == 1
    prop = project["default_property_id"]
    key = admin_a.post(f"/properties/{prop}/keys", json={"name": "Web"})
    assert announced(key, 201) == 1  # unknown key ids are cached too
    key_id = key.json()["id"]
    assert announced(admin_a.post(f"/keys/{key_id}/rotate"), 200) == 1
    assert announced(admin_a.post(f"/keys/{key_id}/revoke"), 200) == 1
    assert (
        announced(admin_a.post(f"/keys/{key_id}/revoke"), 200, expected=False) == 0
    )  # nothing changed
    assert (
        announced(admin_a.post(f"/keys/{key_id}/rotate"), 409, expected=False) == 0
    )  # refused, rolled back
    extra = admin_a.post(f"/projects/{project['id']}/properties", json={"domain": f"b.{domain}"})
    assert announced(extra, 201) == 1
    assert announced(admin_a.patch(f"/properties/{prop}", json={"active": False}), 200) == 1
    put = admin_a.put(f"/projects/{project['id']}/sources", json={"enabled": ["claude"]})
    assert announced(put, 200) == 1
    assert (
        announced(
            admin_a.patch(f"/projects/{project['id']}", json={"name": "N"}), 200, expected=False
        )
        == 0
    )
    for path, ident in (
        (f"/properties/{extra.json()['id']}", str(extra.json()["id"])),
        (f"/projects/{project['id']}", project["id"]),
        (f"/orgs/{org['id']}", org["id"]),
    ):
        assert (
            announced(admin_a.delete(path), 400, expected=False) == 0
        )  # unconfirmed: nothing deleted
        assert announced(admin_a.delete(path, params={"confirm": ident}), 200) == 1


def refused_within(site: Site, error: str) -> float:
    """Seconds until the site's node refuses its events with `error` (fails after 5 s)."""
    started = time.monotonic()
    while True:
        answer = site.send()
        elapsed = time.monotonic() - started
        if answer.status_code != 202:
            assert answer.json()["error"] == error, answer.text
            return elapsed
        assert elapsed < 5, "still accepted after 5 s"
        time.sleep(0.02)


def test_a_key_revoked_on_one_node_is_refused_by_another_within_a_second(
    node_a: Server, node_b: Server, admin_a: httpx.Client
) -> None:
    on_b = replace(provision(node_a, admin_a), server=node_b)
    assert on_b.send().status_code == 202  # node B now holds the grant for 10 minutes
    assert admin_a.post(f"/keys/{on_b.key_id}/revoke").status_code == 200
    assert refused_within(on_b, "key_revoked") < HONOURED_WITHIN_S


def test_a_property_deactivated_on_one_node_is_refused_by_another_within_a_second(
    node_a: Server, node_b: Server, admin_a: httpx.Client
) -> None:
    on_b = replace(provision(node_a, admin_a), server=node_b)
    assert on_b.send().status_code == 202
    patched = admin_a.patch(f"/properties/{on_b.property_id}", json={"active": False})
    assert patched.status_code == 200
    assert refused_within(on_b, "property_inactive") < HONOURED_WITHIN_S


def test_a_read_token_revoked_on_one_node_is_refused_by_another_at_once(
    node_a: Server, node_b: Server, admin_a: httpx.Client
) -> None:
    """Read tokens are looked up on every request, never cached: nothing to announce."""
    site = provision(node_a, admin_a)
    token = created(
        admin_a.post(f"/projects/{site.project_id}/read-tokens", json={"name": "Dashboard"})
    )
    stats = f"{node_b.url}/api/v1/projects/{site.project_id}/stats/timeseries"
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert httpx.get(stats, headers=headers, timeout=10).status_code == 200
    revoked = admin_a.delete(f"/projects/{site.project_id}/read-tokens/{token['id']}")
    assert revoked.status_code == 200
    refused = httpx.get(stats, headers=headers, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"read token {token['id']} is revoked"
