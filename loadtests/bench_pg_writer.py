"""The PostgreSQL commit path's capacity: N writers committing group commits into one database.

Each writer is a PostgresDatabase of its own (a node's writer thread and connection) running
`postgres_rows.write_rows` on prepared groups of `--batch` events, back to back, for
`--seconds`: committed events/s with sessions and content kept, per number of writers. The
groups are made before the clock starts by the collector's own `enrich` and `prepare` from a
realistic mix (20 sites, pages by popularity, sessions of several events, bots, AI crawlers and
AI referrals); each writer has its own sessions, and all of them share the sites' pages, as
nodes behind one load balancer do. Every run starts on a fresh, migrated database, which is
checked afterwards (events, sessions and content counters equal what was committed) and dropped.

    python -m loadtests.bench_pg_writer --writers 3 6 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import Prepared, prepare
from ingest.sources import PINNED_IDS
from ingest.storage import postgres_rows
from ingest.storage.pg_migrations import migrate_database
from ingest.storage.postgres_database import PostgresDatabase
from ingest.storage.sql import PgConn

OUT = Path(__file__).parent / "out"
SERVER = os.environ.get("OPTIVIEW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PROJECT = "prj_bench"
SITES = 20
PAGES = 100
# Groups made per writer before the clock starts; a writer cycles through them, with its
# sessions renamed on each cycle, so new sessions keep arriving while pages stay the same.
GROUPS_PER_WRITER = 60
SESSION_ID = 20  # in an event row; 1 in a session row, 2 in a referral row

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")  # fmt: skip
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")  # fmt: skip
GPTBOT = ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
          "+https://openai.com/gptbot")  # fmt: skip
CHATGPT_USER = ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; "
                "ChatGPT-User/1.0; +https://openai.com/bot")  # fmt: skip
CURL = "curl/8.5.0"
# (user agent, referrer, share): humans from search, from an AI assistant, direct; bots.
VISITORS = (
    (CHROME, "https://www.google.com/", 40),
    (SAFARI, None, 25),
    (CHROME, "https://chatgpt.com/", 8),
    (SAFARI, "https://www.perplexity.ai/", 4),
    (GPTBOT, None, 10),
    (CHATGPT_USER, None, 5),
    (CURL, None, 3),
)
TYPES = (("pageview", 70), ("click", 15), ("custom", 10), ("conversion", 5))


@dataclass
class _Visit:
    session_id: str | None
    site: int
    user_agent: str
    referrer: str | None
    landed: bool = False


class Traffic:
    """A deterministic stream of requests as the collector prepares them."""

    def __init__(self, prefix: str, seed: int = 1, property_ids: tuple[int, ...] = ()) -> None:
        self.random = random.Random(seed)
        self.prefix = prefix
        self.property_ids = property_ids or tuple(range(1, SITES + 1))
        self.visits: list[_Visit] = []
        self.sessions = 0
        self.received_at = 1_780_000_000_000
        self.page_weights = [1 / (rank + 1) for rank in range(PAGES)]

    def _visit(self) -> _Visit:
        if self.visits and self.random.random() < 0.75:
            return self.random.choice(self.visits)
        agent, referrer, _ = self.random.choices(VISITORS, [v[2] for v in VISITORS])[0]
        human = agent in (CHROME, SAFARI)
        self.sessions += 1
        visit = _Visit(
            f"{self.prefix}-{self.sessions}" if human else None,
            self.random.randrange(len(self.property_ids)),
            agent,
            referrer,
        )
        self.visits.append(visit)
        if len(self.visits) > 50:  # sessions end; new ones start
            self.visits.pop(self.random.randrange(len(self.visits)))
        return visit

    def _event(self, visit: _Visit, ts: int) -> IncomingEvent:
        kind = self.random.choices([t[0] for t in TYPES], [t[1] for t in TYPES])[0]
        if visit.session_id is None:
            kind = "pageview"  # crawlers fetch pages
        rank = self.random.choices(range(PAGES), self.page_weights)[0]
        path = f"/blog/post-{rank}" if rank % 3 else f"/docs/page-{rank}"
        if self.random.random() < 0.02:
            url = f"https://elsewhere.example.org{path}"  # off-site: no content row
        else:
            url = f"https://site{visit.site}.example{path}?utm_medium=x"
        first = kind == "pageview" and not visit.landed
        visit.landed = visit.landed or kind == "pageview"
        return IncomingEvent(
            type=kind,
            name=None if kind == "pageview" else f"{kind}-{rank % 4}",
            url=url,
            referrer=visit.referrer if first else None,
            title=f"Post {rank}" if self.random.random() < 0.8 else None,
            ts=ts,
            session_id=visit.session_id,
            props_json='{"plan":"pro"}' if kind == "conversion" else None,
            user_agent=None,
        )

    def request(self, at_most: int = 5) -> Prepared:
        visit = self._visit()
        self.received_at += self.random.randrange(1, 40)
        size = min(at_most, self.random.choice((1, 1, 1, 2, 3, 5)))
        events = [self._event(visit, self.received_at - 50 * n) for n in range(size)]
        context = RequestContext(
            header_user_agent=visit.user_agent,
            server=False,
            property_domain=f"site{visit.site}.example",
            enabled_sources=frozenset(PINNED_IDS),
            country=self.random.choice(("DE", "US", "FR", None)),
        )
        property_id = self.property_ids[visit.site]
        return prepare(enrich(events, context), "key_bench", property_id, PROJECT, self.received_at)

    def group(self, events: int) -> list[Prepared]:
        """Requests adding up to `events` events (the last one made to fit)."""
        group: list[Prepared] = []
        count = 0
        while count < events:
            prepared = self.request(events - count)
            group.append(prepared)
            count += prepared.count
        return group


def renamed(group: list[Prepared], cycle: int) -> list[Prepared]:
    """The group with its sessions made new ones for this cycle through the groups."""
    if cycle == 0:
        return group

    def new(session_id: str | None) -> str | None:
        return None if session_id is None else f"{session_id}.{cycle}"

    return [
        Prepared(
            p.count,
            [(*e[:SESSION_ID], new(e[SESSION_ID]), *e[SESSION_ID + 1 :]) for e in p.events],
            [(s[0], new(s[1]), *s[2:]) for s in p.sessions],
            p.content,
            [(r[0], r[1], new(r[2]), *r[3:]) for r in p.referrals],
        )
        for p in group
    ]


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    name = f"optiview_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = f"{server}/{name}"
        migrate_database(url)
        yield url
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Committed:
    events: int = 0
    session_events: int = 0
    views: int = 0
    commits: int = 0


async def writer(
    url: str, groups: list[list[Prepared]], until: float, committed: Committed, sync: bool
) -> None:
    db = await PostgresDatabase.open(url, synchronous_commit=sync)
    try:
        n = 0
        while time.monotonic() < until:
            group = renamed(groups[n % len(groups)], n // len(groups))
            n += 1

            def write(conn: PgConn, g: list[Prepared] = group) -> None:
                postgres_rows.write_rows(conn.raw, g)

            await db.transaction(write)
            committed.commits += 1
            committed.events += sum(p.count for p in group)
            committed.session_events += sum(len(p.sessions) for p in group)
            committed.views += sum(c[6] for p in group for c in p.content)
    finally:
        await db.close()


def stored(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM events),"
            " (SELECT coalesce(sum(events), 0) FROM sessions),"
            " (SELECT coalesce(sum(views), 0) FROM content),"
            " (SELECT count(*) FROM sessions), (SELECT count(*) FROM content)"
        ).fetchone()
    assert row is not None
    return dict(zip(("events", "session_events", "views", "sessions", "pages"), row, strict=True))


async def measure(
    server: str, writers: int, seconds: float, batch: int, sync: bool = True
) -> dict[str, Any]:
    traffic = [Traffic(f"w{w}", seed=w + 1) for w in range(writers)]
    all_groups = [[t.group(batch) for _ in range(GROUPS_PER_WRITER)] for t in traffic]
    with fresh_database(server) as url:
        committed = Committed()
        started = time.monotonic()
        await asyncio.gather(
            *(writer(url, groups, started + seconds, committed, sync) for groups in all_groups)
        )
        elapsed = time.monotonic() - started
        found = stored(url)
    kept = (
        found["events"] == committed.events
        and found["session_events"] == committed.session_events
        and found["views"] == committed.views
    )
    return {
        "writers": writers,
        "batch": batch,
        "synchronous_commit": "on" if sync else "off",
        "seconds": round(elapsed, 2),
        "commits": committed.commits,
        "events": committed.events,
        "events_per_s": round(committed.events / elapsed),
        "sessions": found["sessions"],
        "pages": found["pages"],
        "counters_match": kept,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=200, help="events per group commit")
    parser.add_argument("--server", default=SERVER, help="postgresql://user@host:port")
    parser.add_argument(
        "--synchronous-commit", choices=("on", "off"), default="on", dest="synchronous_commit"
    )
    args = parser.parse_args(argv)
    results = [
        asyncio.run(
            measure(args.server, n, args.seconds, args.batch, args.synchronous_commit == "on")
        )
        for n in args.writers
    ]
    print("| writers | events/commit | synchronous_commit | committed events/s | commits |"
          " sessions | pages | counters match |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['writers']} | {r['batch']} | {r['synchronous_commit']} |"
            f" {r['events_per_s']:,} | {r['commits']:,} | {r['sessions']:,} | {r['pages']:,} |"
            f" {'yes' if r['counters_match'] else 'NO'} |"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_pg_writer.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["counters_match"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
