"""The read API's rollup counts of the rows a SQLite writer committed since the last fold, kept
in memory so that the fold adds them instead of reading those rows back from the tables.

The fold (rollups.py) adds every row past the watermark in `stats_folded`. Reading them back
took about half of the writer's instructions per event (loadtests/RESULTS.md, issue 14), yet
the writer had every one of them in hand when it wrote them. So each committed group's event
and AI referral rows are counted here (batch_rollups.count_into, the same rules as the SQL:
'' for NULL, quarter and hour buckets, referrals by landed_at) with the ids their inserts got,
and the fold adds the tally when it provably covers exactly the rows past the watermark, for
events and for AI referrals:

- a group's ids are the newest id before its inserts plus one to the newest after them, and
  there are as many as its rows (inside one write transaction nobody else inserts; a row not
  inserted, or a rowid not taken in order, shows as a difference);
- each group starts right after the previous one (a foreign insert in between, from another
  worker's writer or an import, breaks this: the tally is dropped until the next fold);
- at the fold, the tally starts right after the watermark, ends at the newest id, and the
  table holds exactly that many rows past the watermark (a foreign insert after the last group,
  or a purge that deleted rows not folded yet, breaks this).

Otherwise the fold reads the rows past the watermark as it always did (exact either way), and
after every fold the tally starts again. A group is added only once its COMMIT succeeded, so a
rolled-back group leaves nothing; a fold's own group is added inside its transaction, and the
tally restarts after that transaction whatever its outcome (a retry of it reads the rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ingest.stats import rollups
from ingest.stats.batch_rollups import Tally, count_into, rollup_rows

if TYPE_CHECKING:
    from ingest.collect.rows import Prepared
    from ingest.storage.sql import Conn

Span = tuple[int, int]  # first and last id, both included


@dataclass(frozen=True, slots=True)
class Written:
    """One transaction's rows and the ids they got: (first, last) per table (events, AI
    referrals), None where it wrote no rows of that table; `spans` None when the ids do not
    match the rows one for one (then the tally cannot say which rows it holds)."""

    group: Sequence[Prepared]
    spans: tuple[Span | None, Span | None] | None


NOTHING: Final = Written((), (None, None))


class UnfoldedCounts:
    """The tally of one writer's committed rows since its last fold (one per writer; the
    methods taking a connection run inside the writer's transaction, the others after it)."""

    def __init__(self) -> None:
        self.folds_counted = 0  # committed folds that added the tally
        self.folds_read = 0  # committed folds that read the rows past the watermark
        self._fold_kind: str | None = None  # the way the transaction under way folded
        self._restart()

    def _restart(self) -> None:
        self._quarters: Tally = {}
        self._hours: Tally = {}
        self._spans: list[Span | None] = [None, None]
        self._usable = True

    def _drop(self) -> None:
        """Not usable until the next fold (whose rows are read instead): stop counting."""
        self._quarters, self._hours = {}, {}
        self._usable = False

    def before(self, conn: Conn, group: Sequence[Prepared]) -> tuple[int, int] | None:
        """Inside the transaction, before the group's rows are written: the newest ids (None
        when nothing is counted: no rows, or the tally is dropped until the next fold)."""
        if not self._usable or not any(p.events or p.referrals for p in group):
            return None
        return rollups.last_ids(conn)

    def written(
        self, conn: Conn, group: Sequence[Prepared], before: tuple[int, int] | None
    ) -> Written:
        """Inside the transaction, after the group's rows are written: the ids they got."""
        if before is None:
            return NOTHING if self._usable else Written(group, None)
        after = rollups.last_ids(conn)
        rows = (sum(len(p.events) for p in group), sum(len(p.referrals) for p in group))
        spans: list[Span | None] = []
        for newest_before, newest_after, count in zip(before, after, rows, strict=True):
            if newest_after - newest_before != count:
                return Written(group, None)
            spans.append((newest_before + 1, newest_after) if count else None)
        return Written(group, (spans[0], spans[1]))

    def _add(self, written: Written) -> bool:
        """Count a group's rows in, if its ids continue the tally's (else drop the tally)."""
        if not self._usable:
            return False
        if written.spans is None:
            self._drop()
            return False
        spans = list(self._spans)
        for table, span in enumerate(written.spans):
            if span is None:
                continue
            current = spans[table]
            if current is not None and span[0] != current[1] + 1:
                self._drop()
                return False
            spans[table] = (span[0] if current is None else current[0], span[1])
        self._spans = spans
        group = written.group
        if group:
            count_into(
                self._quarters,
                self._hours,
                (r for p in group for r in p.events),
                (r for p in group for r in p.referrals),
            )
        return True

    def committed(self, written: Written) -> None:
        """After a COMMIT that did not fold: the group's rows join the tally."""
        self._add(written)

    def fold(self, conn: Conn, written: Written) -> None:
        """Inside the transaction that wrote `written` (NOTHING if none): fold the rows past
        the watermark into the rollups, by the tally when it covers exactly those rows, else by
        reading them (rollups.fold); then move the watermark. `folded` or `failed` follows."""
        usable = self._usable and self._add(written)
        self._usable = False  # a retry of this transaction reads the rows: the tally has its group
        if usable and self._covers(conn):
            rollups.add_counted(conn, rollup_rows(self._quarters), rollup_rows(self._hours))
            rollups.move_watermark(conn, rollups.last_ids(conn))
            self._fold_kind = "counted"
        else:
            rollups.fold(conn)
            self._fold_kind = "read"

    def _covers(self, conn: Conn) -> bool:
        """The tally holds exactly the rows past the watermark, of both tables."""
        watermark = rollups.folded(conn)
        for table, after, span in zip(
            ("events", "ai_referrals"), watermark, self._spans, strict=True
        ):
            newest, past = conn.execute(
                f"SELECT max(id), count(*) FROM {table} WHERE id > ?", (after,)
            ).fetchone()
            if span is None:
                if past:
                    return False
            elif span[0] != after + 1 or newest != span[1] or past != span[1] - after:
                return False
        return True

    def folded(self) -> None:
        """After a COMMIT that folded: the tally starts again from the new watermark."""
        if self._fold_kind == "counted":
            self.folds_counted += 1
        elif self._fold_kind == "read":
            self.folds_read += 1
        self._fold_kind = None
        self._restart()

    def failed(self, folding: bool) -> None:
        """After a transaction that failed or rolled back: its group is not counted (it was
        never added unless it folded; a fold's transaction restarts the tally)."""
        if folding:
            self._fold_kind = None
            self._restart()


__all__ = ["NOTHING", "UnfoldedCounts", "Written"]
