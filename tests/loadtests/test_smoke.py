"""The load gate in small (the full runs are too long for the test suite): a real service,
real Locust users, and every acknowledged event found in the database."""

import json
import subprocess
import sys
import time
from pathlib import Path

# 7 s of it: 252 events acknowledged (the test asks 100), every kind of request sent, two
# memory samples. 8 keeps a margin.
SMOKE_SECONDS = 8


def test_the_load_gate_passes_on_a_short_run(tmp_path: Path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--users", "15", "--spawn-rate", "15",
         "--duration", str(SMOKE_SECONDS), "--sites", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 60, f"the smoke run took {took:.0f} s"

    report = json.loads((tmp_path / "load-report.json").read_text())
    assert report["passed"] is True and report["problems"] == []
    assert report["aggregate"]["p95_ms"] < 200
    assert report["aggregate"]["failures"] == 0
    events = report["events"]
    assert events["acknowledged"] > 100
    assert events["missing"] == 0 and events["stored"] >= events["acknowledged"]
    names = {row["name"] for row in report["requests"]}
    # the mix: the tag, browser events, server-forwarded crawler batches, deliberate refusals
    assert {"tag.js", "pageview (landing)", "pageview", "forwarded batch"} <= names
    assert any(name.startswith("bad: ") for name in names)
    assert report["memory"]["samples"], "resident memory was not sampled"
    assert report["machine"]["cpus"] >= 1

    markdown = (tmp_path / "load-report.md").read_text()
    assert markdown.startswith("# Load gate: PASS")
    assert "missing: 0" in markdown


def test_the_gate_fails_when_p95_is_not_under_the_limit(tmp_path: Path):
    """The gate can fail: an impossible limit must make the same run exit non-zero."""
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys, loadtests.run as r; r.P95_LIMIT_MS = 0.001;"
         f" sys.exit(r.main(['--users', '5', '--spawn-rate', '5', '--duration', '2',"
         f" '--sites', '1', '--out', {str(tmp_path)!r}]))"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "load-report.json").read_text())
    assert report["passed"] is False
    assert any("p95" in problem for problem in report["problems"])
