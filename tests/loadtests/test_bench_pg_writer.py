"""The PostgreSQL commit-path benchmark runs end to end, tiny (so that it cannot rot)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
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
    made: list[str] = []
    original = bench_pg_writer.fresh_database

    @contextlib.contextmanager
    def recorded(server: str) -> Iterator[str]:
        with original(server) as url:
            made.append(url.rsplit("/", 1)[1])
            yield url

    monkeypatch.setattr(bench_pg_writer, "fresh_database", recorded)
    assert bench_pg_writer.main([*argv, "--server", postgres_server]) == 0
    results = json.loads((tmp_path / "bench_pg_writer.json").read_text())
    assert [r["writers"] for r in results] == [1, 2]
    for result in results:
        assert result["counters_match"]
        assert result["events"] == result["commits"] * 50 > 0
        assert result["sessions"] > 0 and result["pages"] > 0
    assert len(made) == 2
    # The run's own databases were dropped (another benchmark may be running beside it).
    assert not set(made) & bench_databases(postgres_server)


def bench_databases(server: str) -> set[str]:
    with psycopg.connect(f"{server}/postgres") as conn:
        found = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'optiview_bench_%'"
        )
        return {row[0] for row in found}
