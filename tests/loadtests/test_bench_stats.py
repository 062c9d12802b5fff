"""The read API benchmark runs end to end on a small database (so that it cannot rot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.stats import counts
from ingest.storage.connection import connect
from loadtests import bench_console_load, bench_stats


def test_bench_builds_consistent_data_and_times_every_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_stats, "OUT", tmp_path)
    path = bench_stats.database(9_000, 9)
    conn = connect(path)
    (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    assert events == 9_000
    (sessions,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
    assert sessions == 9_000 // 4
    # The rollups were folded as the writer folds them: they agree with the rows.
    day = bench_stats.DAY_MS
    start = bench_stats.END_MS - 9 * day
    (in_rollups,) = conn.execute("SELECT sum(events) FROM stats_quarters").fetchone()
    assert in_rollups == events
    assert counts.by_class(conn, [1], start, bench_stats.END_MS)["human"] > events * 0.9
    results = bench_stats.measure(path, repeat=2)
    names = {r["endpoint"] for r in results}
    assert {"counts.series", "counts.breakdown"} <= names
    assert len(results) == len(names) * 4  # two ranges in two zones
    assert all(r["p95_ms"] >= r["p50_ms"] >= 0 for r in results)


def test_console_load_mode_measures_the_collector_alone_and_under_console_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_stats, "OUT", tmp_path)
    argv = ["--console-load", "--events", "4000", "--days", "31", "--phase-seconds", "2"]
    # A short pause after each page: one loop over every page must fit in the 3 s the reader
    # runs (the default 250 ms alone comes to 2.75 s over the 11 pages).
    argv += ["--reader-pause-ms", "20"]
    assert bench_stats.main([*argv, "--warmup", "1", "--readers", "1"]) == 0
    result = json.loads((tmp_path / "bench-stats-console.json").read_text())
    for phase in ("alone", "read"):
        assert result[phase]["requests"] > 0
        assert result[phase]["non_2xx"] == 0
    assert result["ratio_p95"] == round(result["read"]["p95_ms"] / result["alone"]["p95_ms"], 2)
    assert result["committed"] >= result["acknowledged"] > 0
    # Every console data page and stats endpoint was read (signed in: a redirect would fail).
    pages = {page["name"] for page in result["pages"]}
    assert {f"console {p}" for p in bench_console_load.CONSOLE_PAGES} <= pages
    assert {"api timeseries events", "api content", "api journeys", "api ai"} <= pages
    assert "Collector p95 B / A" in (tmp_path / "bench-stats-console.md").read_text()
