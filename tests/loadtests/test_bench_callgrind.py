"""The callgrind benchmark runs end to end, tiny: instructions per request of every process of
the server are counted, positive and plausible, and --max-instructions fails a run above it.

valgrind makes the server some 50 times slower, and its start under valgrind is most of this
test's time: the counts are the smallest that still run every step (a warm-up, an idle count,
measured requests over more than one connection). What is checked is the plumbing, not the
figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from loadtests import bench_callgrind, process_cpu

pytestmark = pytest.mark.usefixtures("lower_priority")  # conftest.py: why

REQUESTS = 10
WARMUP = 5


def test_a_tiny_count_reports_instructions_per_request(tmp_path: Path) -> None:
    argv = ["--requests", str(REQUESTS), "--warmup", str(WARMUP), "--connections", "2"]
    argv += ["--sites", "1", "--idle-seconds", "1"]
    # One Python start under valgrind fewer (the slowest part of this test): no writer
    # process. The benchmark itself counts the writer process; its role is tested below
    # without valgrind.
    argv += ["--env", "OPTIVIEW_WRITER=inline"]
    # a limit no collector request can meet: the run must exit 1 and say so
    assert bench_callgrind.main([*argv, "--max-instructions", "1000", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "bench-callgrind.json").read_text())
    [count] = report["counts"]
    assert count["label"] == "current" and count["requests"] == count["events"] == REQUESTS
    total = count["per_request"]["total"]
    # A collector request is about a million instructions: far more than the HTTP exchange
    # alone (so the worker was counted), far less than start-up (so zeroing worked).
    assert 100_000 < total < 50_000_000, count
    assert count["per_request"]["worker"] > 100_000, count
    assert sum(p["instructions"] for p in count["processes"]) == sum(count["instructions"].values())
    assert all(p["instructions"] > 0 for p in count["processes"]), count["processes"]
    # timers run with no request in sight; their part of the count is taken out
    assert sum(count["idle_per_s"].values()) > 0 and 0 < count["idle_share"] < 0.6, count
    assert count["gross_per_request"] > total
    assert count["committed"] >= WARMUP + REQUESTS  # the warm-up's and the measured events
    markdown = (tmp_path / "bench-callgrind.md").read_text()
    assert "| current |" in markdown and "OVER the limit of 1,000" in markdown


def test_a_process_whose_command_names_the_writer_counts_as_the_writer() -> None:
    command = [sys.executable, "-c", "import time; time.sleep(30)", "ingest.writer"]
    with subprocess.Popen(command) as writer, subprocess.Popen(command[:-1]) as other:
        try:
            root = os.getpid()
            assert process_cpu.role(psutil.Process(writer.pid), root, 1) == "writer"
            assert process_cpu.role(psutil.Process(other.pid), root, 1) == "worker"
            assert process_cpu.role(psutil.Process(root), root, 2) == "master"
        finally:
            writer.kill()
            other.kill()
