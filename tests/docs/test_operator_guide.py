"""The operator guide's onboarding block runs as written: extracted from the Markdown and run
with bash, verbatim, twice (a second partner) against a temporary database, so that the
guide cannot rot into commands that fail or ids that belong to someone else."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import optiview, service_env

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operator-guide.md"
MARKER = "<!-- onboarding-block:"
HARD_CODED_ID = re.compile(r"\b(org|prj|key)_[0-9A-Za-z]{4,}|--property [0-9]")


def onboarding_block(text: str) -> str:
    after = text.split(MARKER, 1)[1]
    fence = re.search(r"^```sh\n(.*?)^```$", after, re.MULTILINE | re.DOTALL)
    assert fence is not None, "no ```sh block after the onboarding marker"
    return fence.group(1)


def run_block(block: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The block runs as pasted into a shell; -e and pipefail make any failing line fail here.
    return subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-c", block],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_block_hard_codes_no_id() -> None:
    block = onboarding_block(GUIDE.read_text())
    assert not HARD_CODED_ID.search(block), HARD_CODED_ID.search(block)
    assert "optiview org create" in block and "optiview install" in block


def test_the_onboarding_block_runs_verbatim_for_two_partners(tmp_path: Path) -> None:
    db = tmp_path / "service" / "optiview.db"
    env = service_env(db)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    optiview("migrate", env=env, check=True)  # the server's database exists already
    block = onboarding_block(GUIDE.read_text())
    work = tmp_path / "operator"
    work.mkdir()

    first = run_block(block, work, env)
    assert first.returncode == 0, first.stderr
    second = run_block(block, work, env)
    assert second.returncode == 0, second.stderr

    for result in (first, second):
        assert f"database {db} (OPTIVIEW_DB)" in result.stderr
        assert "error" not in result.stderr
        status = json.loads(result.stdout[result.stdout.rindex('{\n  "project_id"') :])
        pending = [item["id"] for item in status["items"] if not item["done"]]
        assert pending[0] == "events_arriving", status  # steps 1-4 and 7 are done

    conn = sqlite3.connect(db)
    try:
        projects = conn.execute("SELECT id, org_id FROM projects ORDER BY created_at").fetchall()
        keys = conn.execute(
            "SELECT k.id, p.project_id FROM api_keys k JOIN properties p ON p.id = k.property_id"
        ).fetchall()
    finally:
        conn.close()
    # Two partners: two orgs, two projects, each with its own key and its own snippet.
    assert len(projects) == 2 and len({org for _, org in projects}) == 2
    assert sorted(project for _, project in keys) == sorted(p for p, _ in projects)
    for project, _ in projects:
        snippet = (work / f"snippet-{project}.html").read_text()
        key = next(k for k, p in keys if p == project)
        assert snippet.startswith("<script async src=")
        assert f'data-project-id="{project}"' in snippet
        assert f'data-key-id="{key}"' in snippet
