"""The fold finds its rows by id: walking an index over the whole table instead stalled the
collector's writer for a time that grew with the table (46 ms per fold at 1M events)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.stats import rollups
from ingest.storage.migrations import migrate_database


@pytest.mark.parametrize("table", sorted(rollups.ROLLED_UP_TABLES))
def test_every_fold_statement_searches_by_rowid(tmp_path: Path, table: str) -> None:
    db = tmp_path / "optiview.db"
    migrate_database(db)
    conn = sqlite3.connect(db)
    for sql in rollups._NEWER[table]:
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (0,)))
        assert f"SCAN {table}" not in plan, plan
        assert f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
