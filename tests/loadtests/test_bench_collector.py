"""The collector benchmark runs end to end, tiny (so that it cannot rot): the bare app, the
current tree and a baseline worktree under wrk, batched server-to-server requests, and the
same on PostgreSQL, with every acknowledged event stored and the CPU per request measured."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from loadtests import bench_collector, checkout

pytestmark = pytest.mark.usefixtures("lower_priority")  # conftest.py: why

TINY = ["--servers", "uvicorn", "--workers", "1", "--duration", "1", "--warmup", "0"]
TINY += ["--connections", "4", "--sites", "2"]


def worktrees() -> str:
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=checkout.REPO, capture_output=True, text=True, check=True
    )
    return listed.stdout


def test_batched_requests_against_a_baseline_worktree(tmp_path: Path) -> None:
    head = checkout.short("HEAD")  # others may commit meanwhile: the revision, not the name
    argv = [*TINY, "--events-per-request", "5", "--baseline", head, "--out", str(tmp_path)]
    assert bench_collector.main(argv) == 0
    report = json.loads((tmp_path / "bench-collector.json").read_text())
    runs = {run["kind"]: run for run in report["runs"]}
    assert set(runs) == {"bare", "baseline", "current"}
    assert runs["baseline"]["label"] == f"baseline {head}"
    for kind in ("baseline", "current"):
        run = runs[kind]
        assert run["non_2xx"] == 0 and run["socket_errors"] == 0, run
        # every 202 carried 5 events (server to server, with the key's secret), all stored
        assert run["acknowledged"] > 0 and run["acknowledged"] % 5 == 0, run
        assert run["committed"] >= run["acknowledged"], run
        assert run["cpu_us_per_request"] > 0 and run["cpu_s"]["worker"] > 0, run
        assert abs(run["cpu_us_per_event"] * 5 - run["cpu_us_per_request"]) < 1, run
    assert runs["bare"]["requests_per_s"] > 0 and runs["bare"]["cpu_s"]["wrk"] > 0
    current = next(row for row in report["summary"] if row["kind"] == "current")
    assert current["to_baseline"] > 0 and current["to_bare"] > 0
    markdown = (tmp_path / "bench-collector.md").read_text()
    assert "5 pageviews per request (bearer)" in markdown and "CPU us/request" in markdown
    assert "/optiview-baseline-" not in worktrees()  # the worktree was removed


def test_a_tiny_run_on_postgresql_drops_its_database(postgres_server: str, tmp_path: Path) -> None:
    argv = [*TINY, "--backend", "postgres", "--pg-server", postgres_server, "--out", str(tmp_path)]
    assert bench_collector.main(argv) == 0
    report = json.loads((tmp_path / "bench-collector.json").read_text())
    [run] = [r for r in report["runs"] if r["kind"] == "current"]
    assert run["committed"] >= run["acknowledged"] > 0 and run["non_2xx"] == 0, run
    assert run["cpu_s"]["postgresql"] > 0 and run["cpu_us_per_request"] > 0, run
    markdown = (tmp_path / "bench-collector.md").read_text()
    assert "single-event pageviews (origin), postgres" in markdown
    assert ">= 10,000 committed single-event requests/s" in markdown
    with psycopg.connect(f"{postgres_server}/postgres") as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (run["database"],))
        assert left.fetchall() == []
