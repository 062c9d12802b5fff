"""Browser traffic spread over several nodes, and what the database must hold afterwards.

Every event carries a unique name, so the events table can be checked against the answers:
each event answered 202 is stored exactly once, and none is stored twice. Sessions and pages
are shared by all nodes on purpose: the same `sessions` and `content` rows are upserted by
several nodes at once, the case where counters are lost or doubled.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests import dbprobe
from tests.conftest import ADMIN_TOKEN

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAGES = 12
SESSIONS = 40


@dataclass(frozen=True)
class Site:
    key_id: str
    project_id: str
    property_id: int
    domain: str


def provision(node_url: str, domain: str) -> Site:
    """An org, project, default property and key, through one node's admin API."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=node_url + "/api/admin", headers=headers, timeout=10) as admin:
        org = admin.post("/orgs", json={"name": domain, "domain": domain, "plan": "pro"})
        assert org.status_code == 201, org.text
        project = admin.post(
            f"/orgs/{org.json()['id']}/projects", json={"name": "Main", "domain": domain}
        )
        assert project.status_code == 201, project.text
        property_id = project.json()["default_property_id"]
        key = admin.post(f"/properties/{property_id}/keys", json={"name": "cluster"})
        assert key.status_code == 201, key.text
    return Site(key.json()["id"], project.json()["id"], property_id, domain)


@dataclass
class Sent:
    """What the clients saw: events answered 202 and events whose request failed otherwise."""

    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    per_node: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def batch(site: Site, run: str, number: int, size: int) -> list[dict[str, Any]]:
    """`size` events of one session: a pageview first, then clicks and custom events."""
    session = f"{run}-s{number % SESSIONS}"
    events = []
    for i in range(size):
        page = (number + i) % PAGES
        kind = "pageview" if i % 3 == 0 else ("click" if i % 3 == 1 else "custom")
        events.append(
            {
                "type": kind,
                "name": f"{run}-{number}-{i}",
                "url": f"https://{site.domain}/page-{page}",
                "title": f"Page {page}",
                "session_id": session,
            }
        )
    return events


def send(
    nodes: Sequence[str],
    site: Site,
    run: str,
    requests: int,
    size: int = 10,
    threads: int = 9,
    after_each: Callable[[int], None] | None = None,
) -> Sent:
    """`requests` requests of `size` events, request n to node n % len(nodes), from `threads`
    clients at once. `after_each(n)` is called after each answer (to act mid-load)."""
    sent = Sent()
    numbers = itertools.count()
    take = threading.Lock()
    headers = {"Origin": f"https://{site.domain}", "User-Agent": CHROME}

    def client() -> None:
        with httpx.Client(headers=headers, timeout=10) as http:
            while True:
                with take:
                    number = next(numbers)
                if number >= requests:
                    return
                node = number % len(nodes)
                events = batch(site, run, number, size)
                body = {
                    "key_id": site.key_id,
                    "project_id": site.project_id,
                    "property_id": site.property_id,
                    "events": events,
                }
                try:
                    answer = http.post(nodes[node] + "/v1/events", json=body)
                    status = str(answer.status_code)
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                with sent.lock:
                    sent.statuses[status] += 1
                    if status == "202":
                        sent.acknowledged.extend(events)
                        sent.per_node[node] += len(events)
                    else:
                        sent.unanswered.extend(events)
                if after_each is not None:
                    after_each(number)

    with ThreadPoolExecutor(threads) as pool:
        for running in [pool.submit(client) for _ in range(threads)]:
            running.result()
    return sent


def stored_names(db: str, run: str) -> Counter[str]:
    names = dbprobe.rows(db, "SELECT name FROM events WHERE name LIKE ?", (f"{run}-%",))
    return Counter(name for (name,) in names)


def check_stored_once(db: str, run: str, sent: Sent) -> None:
    """Every acknowledged event stored exactly once; nothing stored twice or unsent."""
    stored = stored_names(db, run)
    acknowledged = {e["name"] for e in sent.acknowledged}
    unanswered = {e["name"] for e in sent.unanswered}
    missing = sorted(acknowledged - set(stored))
    assert not missing, f"{len(missing)} acknowledged events not stored, e.g. {missing[:5]}"
    doubled = {name: n for name, n in stored.items() if n > 1}
    assert not doubled, f"{len(doubled)} events stored more than once, e.g. {list(doubled)[:5]}"
    unknown = set(stored) - acknowledged - unanswered
    assert not unknown, f"stored events nobody sent: {sorted(unknown)[:5]}"


def check_counters(db: str, property_id: int) -> None:
    """`sessions` and `content` hold what the stored events imply, row by row."""
    implied_sessions = dbprobe.rows(
        db,
        "SELECT session_id, count(*), sum(CASE WHEN type = 'pageview' THEN 1 ELSE 0 END)"
        " FROM events WHERE property_id = ? AND session_id IS NOT NULL GROUP BY session_id",
        (property_id,),
    )
    sessions = dbprobe.rows(
        db, "SELECT id, events, pageviews FROM sessions WHERE property_id = ?", (property_id,)
    )
    expected = {s: (int(n), int(p)) for s, n, p in implied_sessions}
    assert {s: (int(n), int(p)) for s, n, p in sessions} == expected
    implied_views = dbprobe.rows(
        db,
        "SELECT path, count(*) FROM events WHERE property_id = ? AND type = 'pageview'"
        " AND ua_class = 'human' GROUP BY path",
        (property_id,),
    )
    views = dbprobe.rows(
        db, "SELECT path, views FROM content WHERE property_id = ?", (property_id,)
    )
    assert {p: int(v) for p, v in views} == {p: int(n) for p, n in implied_views}
