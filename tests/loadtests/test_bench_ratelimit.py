"""The rate-limit isolation benchmark in small (its real runs take a minute): one server, a
victim key at a steady rate, a flooding key far over its limit, and the cost of each answer."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("lower_priority")  # conftest.py: why


def test_the_rate_limit_benchmark_runs_both_keys_in_one_run(tmp_path: Path):
    result = subprocess.run(
        # A low limit keeps the flood far over it however slowly a busy machine answers (the
        # suite runs in several processes): the 429 share below does not depend on speed.
        [sys.executable, "-m", "loadtests.bench_ratelimit", "--duration", "1", "--warmup", "1",
         "--sites", "8", "--limit", "150", "--victim-rate", "50", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads((tmp_path / "bench-ratelimit.json").read_text())
    alone, flooded, flood, spread = report["phases"]
    # the victim stays under its limit throughout: every answer a 202, latency measured
    for phase in (alone, flooded):
        assert phase["victim"]["requests"] > 20
        assert phase["victim"]["non_2xx"] == 0 and phase["victim"]["socket_errors"] == 0
        assert 0 < phase["victim"]["p50_ms"] <= phase["victim"]["p95_ms"]
    # the flood is far over its limit: most of its answers are 429
    assert flooded["flood"]["requests"] > flooded["victim"]["requests"]
    assert flood["answers"]["429"] > 2 * flood["answers"].get("202", 0)
    assert set(spread["answers"]) <= {"202", "429"} and spread["answers"]["202"] > 0
    costs = report["costs"]
    assert costs["cpu_us_per_202"] > 0 and costs["cpu_us_per_429"] > 0
    assert costs["ratio"] < 1, "a 429 should cost less than a 202"

    markdown = (tmp_path / "bench-ratelimit.md").read_text()
    assert "Victim p95 under the flood" in markdown and "A 429 costs" in markdown
