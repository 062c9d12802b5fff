"""`optiview logs import`: files through the same triage, checks and group-commit writer as
POST /v1/logs, on the settings' database, a batch of lines at a time."""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.clock import now_ms
from ingest.collect.rollups import RollupRecorder
from ingest.collect.writer import GroupCommitWriter
from ingest.config import Settings
from ingest.logs.files import LogFileError, open_log, size_of
from ingest.logs.formats import FORMATS, PEEKS
from ingest.logs.store import Target, store
from ingest.logs.triage import Candidate, Triager
from ingest.storage.backend import Storage
from ingest.storage.sql import Conn

BATCH_LINES = 5_000
STORES_IN_FLIGHT = 2
# events.key_id of imported hits: no key sent them (the command is the operator's own).
IMPORT_KEY_ID = "logs-import"


class ImportRefused(Exception):
    """Nothing can be imported (an unknown or deactivated property): one line says why."""


@dataclass(slots=True)
class Summary:
    lines: int = 0
    stored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)  # stored hits by ua_class


Advance = Callable[[int], None]  # more bytes of the file read (for the progress bar)


async def target_of(db: Storage, property_id: int) -> Target:
    def load(conn: Conn) -> tuple[object, ...] | None:
        sql = "SELECT domain, project_id, active FROM properties WHERE id = ?"
        row = conn.execute(sql, (property_id,)).fetchone()
        if row is None:
            return None
        sources = conn.execute(
            "SELECT source FROM project_ai_sources WHERE project_id = ? AND enabled = 1",
            (row[1],),
        ).fetchall()
        return (*row, frozenset(source for (source,) in sources))

    found = await db.read(load)
    if found is None:
        raise ImportRefused(f"property {property_id} does not exist")
    domain, project_id, active, sources = found
    if not active:
        raise ImportRefused(f"property {property_id} ({domain}) is deactivated")
    return Target(property_id, str(project_id), IMPORT_KEY_ID, str(domain), sources)  # type: ignore[arg-type]


async def import_files(
    settings: Settings,
    db: Storage,
    property_id: int,
    format_name: str,
    paths: Sequence[Path],
    include_humans: bool,
    on_file: Callable[[Path, int], Advance],
) -> Summary:
    """Import each file in turn; `on_file(path, size)` gives the progress callback of one."""
    target = await target_of(db, property_id)
    for path in paths:  # every file readable before any line is stored
        size_of(path)
    summary = Summary()
    # In this process, as the collector's inline writer: a writer process of its own (as
    # `optiview serve` runs) cost a quarter more CPU in all, and on a busy two-core machine
    # the import took longer, not shorter (loadtests/bench_logs.py, both ways in one run).
    writer = GroupCommitWriter.tuned(db, RollupRecorder(), settings.collector)
    writer.start()
    try:
        for path in paths:
            advance = on_file(path, size_of(path))
            triager = Triager(
                FORMATS[format_name],
                target.domain,
                include_humans,
                now_ms(),
                peek=PEEKS.get(format_name),
            )
            await _import_file(path, writer, db, target, triager, summary, advance)
    finally:
        await writer.close()
    return summary


async def _import_file(
    path: Path,
    writer: GroupCommitWriter,
    db: Storage,
    target: Target,
    triager: Triager,  # one per file: a line's occurrences are counted within its own file
    summary: Summary,
    advance: Advance,
) -> None:
    done = 0
    # Batches are stored while the next ones are parsed, up to STORES_IN_FLIGHT at once: one
    # is enriched while another waits for its COMMIT. Their lines' digests differ (a line's
    # occurrences are counted within its file), so their checks cannot miss each other's rows.
    storing: collections.deque[asyncio.Task[None]] = collections.deque()
    turn = asyncio.Lock()  # their commits, one at a time
    try:
        with open_log(path) as log_file:
            while True:
                batch = list(itertools.islice(log_file.lines, BATCH_LINES))
                if not batch:
                    break
                triage = triager.run(batch)
                summary.lines += triage.lines
                summary.skipped.update(triage.skipped)
                if len(storing) >= STORES_IN_FLIGHT:
                    await storing.popleft()
                storing.append(
                    asyncio.ensure_future(
                        _store(writer, db, target, triage.candidates, summary, turn)
                    )
                )
                position = log_file.position()
                advance(position - done)
                done = position
        while storing:  # every batch of the file committed before the next file is read
            await storing.popleft()
    finally:
        for task in storing:
            task.cancel()
        if storing:
            await asyncio.gather(*storing, return_exceptions=True)


async def _store(
    writer: GroupCommitWriter,
    db: Storage,
    target: Target,
    candidates: list[Candidate],
    summary: Summary,
    turn: asyncio.Lock,
) -> None:
    stored = await store(db, writer, target, candidates, now_ms(), turn=turn)
    summary.stored += len(stored.enriched)
    summary.skipped.update(stored.skipped)
    summary.classes.update(e.user_agent.ua_class for _, e in stored.enriched)


__all__ = ["ImportRefused", "LogFileError", "Summary", "import_files"]
