"""The read API's rollup counts of the rows a SQLite writer committed since its last fold, kept
in memory so that the next fold adds them instead of reading those rows back.

The fold (rollups.py) adds every row past the watermark in `stats_folded`. Reading them back
cost about half of the writer's instructions per event (loadtests/RESULTS.md, issue 14), yet
the writer had every one of them in hand when it wrote them. So each committed group's event
and AI referral rows are kept here (the row tuples the group was written from: a couple of
seconds' worth), and the fold counts them all at once (batch_rollups.count_bulk, the same rules
as the SQL: '' for NULL, quarter and hour buckets, referrals by landed_at; a third of the time
of counting each commit's rows as they come) and adds the counts when the tally provably holds
exactly the rows past the watermark, for events and for AI referrals.

The tally starts at a fold, right after the ids that fold moved the watermark to; while one
writer holds the write lock, its inserts take the ids after the newest (no AUTOINCREMENT:
max(id) + 1 on), so after C rows of its own the rows past the watermark are ids W+1 .. W+C.
At the next fold the tally is used only if the watermark is still W, the newest id is W+C and
there are exactly C rows past W: a foreign insert (another worker's writer, an import), before
or between the writer's groups or after the last, makes the newest id or the count larger, and
a purge that deleted rows not folded yet makes the count smaller (or, having deleted the
newest, the ids of the next group's rows differ from those counted: the newest id is smaller).
Then the fold reads the rows past the watermark as it always did; exact either way.

Nothing is counted until the writer's first fold (the newest ids are not known before; its
first commit folds), nor after a fold whose transaction failed, until the next one. A group is
counted only after its COMMIT succeeded, so a rolled-back one leaves nothing (the next group
takes its ids); a fold's own group is counted inside the fold's transaction, and the tally
starts again after that transaction whatever its outcome.

This holds while every row of a group is inserted (rows.write_rows inserts them all or fails
the transaction). If the writer's inserts could skip rows (ON CONFLICT DO NOTHING), the group's
ids would have to come from the inserts themselves (cursor.rowcount and lastrowid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ingest.stats import rollups
from ingest.stats.batch_rollups import Tally, count_bulk, rollup_rows

if TYPE_CHECKING:
    from ingest.collect.rows import Prepared, Row
    from ingest.storage.sql import Conn

Ids = tuple[int, int]  # events, AI referrals


class UnfoldedCounts:
    """The tally of one writer's committed rows since its last fold (one per writer; `fold`
    runs inside the writer's transaction, the other methods after it)."""

    def __init__(self) -> None:
        self.folds_counted = 0  # committed folds that added the tally
        self.folds_read = 0  # committed folds that read the rows past the watermark
        self._fold_kind: str | None = None  # how the transaction under way folded
        self._folded_to: Ids | None = None  # the watermark it moved to
        self._restart(None)

    def _restart(self, watermark: Ids | None) -> None:
        """Count from just past `watermark`, or nothing until the next fold (None)."""
        self._events: list[Row] = []  # committed past it, in order
        self._referrals: list[Row] = []
        self._watermark = watermark

    @property
    def counting(self) -> bool:
        return self._watermark is not None

    def committed(self, group: Sequence[Prepared]) -> None:
        """After a COMMIT that did not fold: the group's rows join the tally."""
        if self._watermark is None:
            return
        for prepared in group:
            self._events += prepared.events
            self._referrals += prepared.referrals

    def fold(self, conn: Conn, group: Sequence[Prepared]) -> None:
        """Inside the transaction that wrote `group` (after its rows): fold the rows past the
        watermark into the rollups, by the tally when it holds exactly those rows, else by
        reading them (rollups.fold); then move the watermark. `folded` or `failed` follows."""
        self.committed(group)  # inside the fold's transaction: the tally restarts after it
        expected, self._watermark = self._watermark, None  # a retry of it reads the rows
        newest = rollups.last_ids(conn)
        if expected is not None and self._holds(conn, expected, newest):
            quarters: Tally = {}
            hours: Tally = {}
            count_bulk(quarters, hours, self._events, self._referrals)
            rollups.add_counted(conn, rollup_rows(quarters), rollup_rows(hours))
            rollups.move_watermark(conn, newest)
            self._fold_kind = "counted"
        else:
            rollups.fold(conn)
            self._fold_kind = "read"
        self._folded_to = newest

    def _holds(self, conn: Conn, expected: Ids, newest: Ids) -> bool:
        """The rows past the watermark are exactly the ones counted, in both tables."""
        if rollups.folded(conn) != expected:  # moved by another folder (an import, a rebuild)
            return False
        kept = (len(self._events), len(self._referrals))
        for table, after, top, counted in zip(
            ("events", "ai_referrals"), expected, newest, kept, strict=True
        ):
            if counted and top != after + counted:
                return False
            (past,) = conn.execute(
                f"SELECT count(*) FROM {table} WHERE id > ?", (after,)
            ).fetchone()
            if past != counted:
                return False
        return True

    def folded(self) -> None:
        """After a COMMIT that folded: the tally starts again from the new watermark."""
        if self._fold_kind == "counted":
            self.folds_counted += 1
        elif self._fold_kind == "read":
            self.folds_read += 1
        self._fold_kind = None
        self._restart(self._folded_to)

    def failed(self, folding: bool) -> None:
        """After a transaction that failed or rolled back: its group is not counted (it was
        never added unless it folded; after a fold's failure nothing is counted until the next
        fold, which reads the rows)."""
        if folding:
            self._fold_kind = None
            self._restart(None)


__all__ = ["UnfoldedCounts"]
