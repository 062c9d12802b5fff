"""The logs import benchmark runs end to end on a small file (so that it cannot rot)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtests import bench_logs


def test_bench_imports_a_generated_nginx_file_then_finds_it_all_stored(tmp_path: Path) -> None:
    assert bench_logs.main(["--lines", "3000", "--gzip", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "bench-logs.json").read_text())
    first, again = result["first"]["summary"], result["again"]["summary"]
    assert first["lines read"] == again["lines read"] == 3000
    # Mostly people, skipped: bots, crawlers and agents stored, a few hundred of them.
    assert first["human"] > 1000
    assert 100 < first["stored"] < 1000
    assert first["ai_crawler"] > 0 and first["ai_agent"] > 0 and first["bot"] > 0
    assert again["stored"] == 0
    assert again["duplicates"] == first["stored"]
    assert result["first"]["lines_per_s"] > 0
    assert result["first"]["command_lines_per_s"] > 0  # the summary's own figure was read


def test_generated_lines_are_the_same_for_a_seed() -> None:
    assert list(bench_logs.generate(500)) == list(bench_logs.generate(500))
    assert len(list(bench_logs.generate(500))) == 500
