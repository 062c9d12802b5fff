"""`python -m purge` and `python -m alerts`: `run` is one optional word, options mean the same
before and after it, and --help shows it once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_env


def python_m(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        env=service_env(db),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("job", ["purge", "alerts"])
def test_help_shows_run_once_as_an_optional_word(tmp_path: Path, job: str):
    result = python_m(job, "--help", db=tmp_path / "unused.db")

    assert result.returncode == 0, result.stderr
    usage = " ".join(result.stdout.split("\n\n")[0].split())
    assert usage.startswith(f"usage: python -m {job} [-h] [--now NOW] [--dry-run]")
    assert usage.endswith(" [run]")
    positional = result.stdout.split("positional arguments:\n")[1].split("\n\n")[0]
    assert " ".join(positional.split()) == (
        "run run the job once: the only action, so it may be left out"
    )
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.parametrize("job", ["purge", "alerts"])
def test_another_action_is_refused(tmp_path: Path, job: str):
    result = python_m(job, "walk", db=tmp_path / "unused.db")

    assert result.returncode == 2
    assert "invalid choice: 'walk' (choose from 'run')" in result.stderr
