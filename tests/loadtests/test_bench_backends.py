"""The backends benchmark runs end to end, tiny (so that it cannot rot): SQLite, one and three
PostgreSQL nodes under wrk, and the commit path, with every acknowledged event stored."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from loadtests import bench_backends, bench_pg_writer

pytestmark = pytest.mark.usefixtures("lower_priority")  # conftest.py: why


def test_a_tiny_run_measures_every_setup_and_loses_nothing(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_pg_writer, "GROUPS_PER_WRITER", 3)
    made: list[str] = []
    fresh_database = bench_pg_writer.fresh_database

    @contextlib.contextmanager
    def recorded(server: str) -> Iterator[str]:
        with fresh_database(server) as url:
            made.append(url.rsplit("/", 1)[1])
            yield url

    monkeypatch.setattr(bench_pg_writer, "fresh_database", recorded)
    argv = ["--duration", "1", "--warmup", "0", "--connections", "3", "--sites", "2"]
    argv += ["--writers", "2", "--writer-seconds", "0.5", "--batch", "50"]
    assert bench_backends.main([*argv, "--server", postgres_server, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "bench-backends.json").read_text())
    [setups] = report["rounds"]
    assert [(s["backend"], s["nodes"]) for s in setups] == [
        ("sqlite", 1),
        ("postgres", 1),
        ("postgres", 3),
    ]
    for setup in setups:
        assert setup["non_2xx"] == 0 and setup["socket_errors"] == 0, setup
        assert setup["committed"] >= setup["acknowledged"] > 0, setup
        assert setup["p95_ms"] > 0 and set(setup["cpu_s"]) == {"nodes", "postgresql", "wrk"}
        assert setup["cpu_s"]["nodes"] > 0, setup
    [writers] = report["writers"]
    assert writers["read_rollups"] is True
    assert writers["counters_match"] and writers["events"] == writers["commits"] * 50 > 0
    markdown = (tmp_path / "bench-backends.md").read_text()
    assert "PostgreSQL / SQLite, one node: committed events/s" in markdown
    assert "Three PostgreSQL nodes / one" in markdown
    assert len(made) == 3  # one node, three nodes, the writers
    with psycopg.connect(f"{postgres_server}/postgres") as conn:  # the databases were dropped
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (made,))
        assert left.fetchall() == []
