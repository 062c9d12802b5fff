"""The PostgreSQL commit-path benchmark runs end to end, tiny (so that it cannot rot)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from loadtests import bench_pg_writer


def test_a_tiny_run_commits_and_keeps_every_counter(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_pg_writer, "OUT", tmp_path)
    monkeypatch.setattr(bench_pg_writer, "GROUPS_PER_WRITER", 3)
    argv = ["--writers", "1", "2", "--seconds", "0.5", "--batch", "50"]
    assert bench_pg_writer.main([*argv, "--server", postgres_server]) == 0
    results = json.loads((tmp_path / "bench_pg_writer.json").read_text())
    assert [r["writers"] for r in results] == [1, 2]
    for result in results:
        assert result["counters_match"]
        assert result["events"] == result["commits"] * 50 > 0
        assert result["sessions"] > 0 and result["pages"] > 0
    with psycopg.connect(f"{postgres_server}/postgres") as conn:  # the databases were dropped
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'optiview_bench_%'")
        assert left.fetchall() == []
