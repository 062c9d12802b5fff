"""Candidates to committed events: the checks that read the database (digests stored before,
the tag's pageviews), then the collector's own enrich and prepare, then its group-commit
writer. Shared by POST /v1/logs and `optiview logs import`."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.collect.enrich import Enriched, RequestContext, enrich
from ingest.collect.parse import MAX_EVENTS, IncomingEvent
from ingest.collect.rows import HIT_LOG, Prepared, prepare
from ingest.collect.writer import GroupCommitWriter, Overloaded
from ingest.logs.hit import DUPLICATE
from ingest.logs.policy import TAG_WINDOW_MS, TagViews, tag_skip
from ingest.logs.triage import Candidate
from ingest.storage.backend import Storage
from ingest.storage.sql import Conn
from ingest.writer.client import RemoteWriter

# Hits per submitted part: a request of the collector's largest (the writer's queue bound is
# at least that), so a batch of any size fits the queue part by part.
SUBMIT_EVENTS = MAX_EVENTS
DIGESTS_PER_QUERY = 500  # bound on a statement's parameters (SQLite allows 32,766)
# A concurrent import of the same lines can commit between the check and the write: the
# unique index refuses the write, the check runs again and finds them (one retry suffices;
# a second conflict means a third writer of the same lines, answered 409).
CONFLICT_RETRIES = 1


class DigestConflict(Exception):
    """The same lines are being stored by another request or import at this moment."""


@dataclass(slots=True)
class Target:
    """Where the hits go: the property and what enrich needs of it."""

    property_id: int
    project_id: str
    key_id: str  # the key that sent them; the import's marker for files
    domain: str
    enabled_sources: frozenset[str]


@dataclass(slots=True)
class Stored:
    enriched: list[tuple[Candidate, Enriched]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    fates: list[tuple[int, str]] = field(default_factory=list)  # line, reason


async def stored_digests(db: Storage, property_id: int, digests: Sequence[str]) -> set[str]:
    def load(conn: Conn) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(digests), DIGESTS_PER_QUERY):
            chunk = digests[start : start + DIGESTS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT log_digest FROM events WHERE property_id = ? AND log_digest IN ({marks})"
            found.update(row[0] for row in conn.execute(sql, (property_id, *chunk)))
        return found

    return await db.read(load) if digests else set()


async def tag_views(db: Storage, property_id: int, start: int, end: int) -> TagViews:
    """The tag's pageviews of the property between start and end: times by (path, UA)."""

    def load(conn: Conn) -> TagViews:
        sql = (
            "SELECT path, user_agent, ts FROM events WHERE property_id = ? AND ts >= ?"
            " AND ts <= ? AND type = 'pageview' AND hit_source = 'collector'"
        )
        views: defaultdict[tuple[str, str | None], list[int]] = defaultdict(list)
        for path, user_agent, ts in conn.execute(sql, (property_id, start, end)):
            views[(path, user_agent)].append(ts)
        for times in views.values():
            times.sort()
        return views

    return await db.read(load)


def is_digest_conflict(exc: BaseException) -> bool:
    """The unique index on (property_id, log_digest) refused a row: sqlite3's and psycopg's
    errors, and the writer process's relay of either, all name the column or its index."""
    return "log_digest" in str(exc)


async def check(
    db: Storage, target: Target, candidates: list[Candidate], explain: bool
) -> tuple[list[Candidate], Counter[str], list[tuple[int, str]]]:
    """The candidates not stored before and not seen by the tag; the others counted."""
    skipped: Counter[str] = Counter()
    fates: list[tuple[int, str]] = []
    known = await stored_digests(db, target.property_id, [c.digest for c in candidates])
    fresh = []
    for candidate in candidates:
        if candidate.digest in known:
            skipped[DUPLICATE] += 1
            if explain:
                fates.append((candidate.line, DUPLICATE))
        else:
            fresh.append(candidate)
    if not fresh:
        return fresh, skipped, fates
    start = min(c.hit.ts for c in fresh) - TAG_WINDOW_MS
    end = max(c.hit.ts for c in fresh) + TAG_WINDOW_MS
    views = await tag_views(db, target.property_id, start, end)
    kept = []
    for candidate in fresh:
        hit = candidate.hit
        reason = tag_skip(candidate.path, hit.user_agent, hit.ts, views) if views else None
        if reason is None:
            kept.append(candidate)
        else:
            skipped[reason] += 1
            if explain:
                fates.append((candidate.line, reason))
    return kept, skipped, fates


def as_event(candidate: Candidate) -> IncomingEvent:
    hit = candidate.hit
    return IncomingEvent(
        "pageview", None, candidate.url, hit.referrer, None, hit.ts, None, None,
        hit.user_agent, hit.ip,
    )  # fmt: skip


def rows_of(
    kept: list[Candidate], target: Target, received_at: int
) -> tuple[list[Enriched], list[Prepared]]:
    """The collector's enrich and prepare, in parts of SUBMIT_EVENTS."""
    context = RequestContext(
        header_user_agent=None,
        server=True,  # the log's user agents and addresses are the visitors' own
        property_domain=target.domain,
        enabled_sources=target.enabled_sources,
        country=None,
    )
    enriched = enrich([as_event(c) for c in kept], context)
    parts = [
        prepare(
            enriched[start : start + SUBMIT_EVENTS],
            target.key_id,
            target.property_id,
            target.project_id,
            received_at,
            hit_source=HIT_LOG,
            digests=[c.digest for c in kept[start : start + SUBMIT_EVENTS]],
        )
        for start in range(0, len(kept), SUBMIT_EVENTS)
    ]
    return enriched, parts


async def commit(writer: GroupCommitWriter | RemoteWriter, parts: list[Prepared]) -> None:
    """Submit every part and wait for all of them to be committed (or failed).

    A part the writer's queue refuses (Overloaded: raised by submit inline, answered by the
    writer process) is held until one of this batch's own parts commits, then submitted
    again: a batch larger than the queue goes in part by part. Refused while none of its parts
    is under way, the queue is full of others' events and Overloaded stands (the parts queued
    before still commit, and are waited for)."""
    unsent = collections.deque(parts)
    sent: dict[asyncio.Future[None], Prepared] = {}
    held: list[Prepared] = []
    failures: list[BaseException] = []
    try:
        while unsent or sent:
            while unsent:  # as many as the queue takes
                try:
                    future = writer.submit(unsent[0])
                except Overloaded:
                    if not sent:
                        raise
                    break
                sent[future] = unsent.popleft()
            if not sent:
                break
            done, _ = await asyncio.wait(sent, return_when=asyncio.FIRST_COMPLETED)
            committed = False
            for future in done:
                part = sent.pop(future)
                exc = future.exception()
                if exc is None:
                    committed = True
                elif isinstance(exc, Overloaded):
                    held.append(part)
                else:
                    failures.append(exc)
            if failures:  # no more parts: wait for those under way, then raise
                unsent.clear()
                held.clear()
            elif committed:
                unsent.extendleft(reversed(held))
                held.clear()
            elif held and not sent:
                raise Overloaded(f"the writer's queue is full: {len(held)} parts were refused")
    finally:
        results = await asyncio.gather(*sent, return_exceptions=True)
    failures += [r for r in results if isinstance(r, BaseException)]
    conflicts = [f for f in failures if is_digest_conflict(f)]
    if conflicts:
        raise conflicts[0]
    if failures:
        raise failures[0]


async def store(
    db: Storage,
    writer: GroupCommitWriter | RemoteWriter,
    target: Target,
    candidates: list[Candidate],
    received_at: int,
    explain: bool = False,
    turn: asyncio.Lock | None = None,
) -> Stored:
    """Check, enrich, prepare and commit; returns after COMMIT. Raises the writer's errors
    (Overloaded, StorageUnavailable) and DigestConflict. With `turn`, the commit waits for
    it: batches of one import are checked and enriched while another commits, but commit one
    at a time (two at once could fill the writer's queue with each other's parts)."""
    out = Stored()
    for attempt in range(CONFLICT_RETRIES + 1):
        kept, skipped, fates = await check(db, target, candidates, explain)
        if not kept:
            out.skipped, out.fates = skipped, fates
            return out
        # Off the event loop: thousands of hits' enrichment would hold every other request.
        enriched, parts = await asyncio.to_thread(rows_of, kept, target, received_at)
        try:
            async with turn or contextlib.nullcontext():
                await commit(writer, parts)
        except Exception as exc:
            if not is_digest_conflict(exc):
                raise
            if attempt == CONFLICT_RETRIES:
                raise DigestConflict(str(exc)) from None
            continue
        out.enriched = list(zip(kept, enriched, strict=True))
        out.skipped, out.fates = skipped, fates
        return out
    raise AssertionError("unreachable")
