"""scripts/bootstrap.sh, the first install behind ./scripts/serve and ./scripts/test: it says
what it is doing, shows pip's own progress, and says when pip failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bootstrap(venv: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # as scripts/serve does: bootstrap.sh sets -e, so a failed step ends the script
        ["bash", "-c", f'source "{ROOT}/scripts/bootstrap.sh"; bootstrap ""; echo ready'],
        env={**os.environ, "OPTIVIEW_VENV": str(venv), **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_a_first_install_says_each_step_and_shows_pip(tmp_path: Path):
    venv = tmp_path / "venv"
    # No package index: the venv is made and pip runs, then the install fails fast, offline.
    result = bootstrap(venv, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path))

    assert result.returncode != 0
    assert result.stdout == ""  # pip's output and ours go to stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("optiview: ")]
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    assert lines[0].startswith(f"optiview: creating the virtual environment {venv} with {python}")
    assert lines[1:] == [
        f"optiview: installing dependencies into {venv}, pinned by constraints.txt"
        " (the first time takes a few minutes)",
        "optiview: step 1 of 2: upgrading pip",
        "optiview: step 2 of 2: installing optiview-edge and its dependencies",
        "optiview: error: pip failed (its output is above); fix the cause and run this again",
    ]
    # pip's own lines are shown, not swallowed by --quiet
    assert "setuptools" in result.stderr
    assert not (venv / ".optiview-installed").exists()


def test_an_installed_venv_is_used_without_a_word(tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    digest = subprocess.run(
        f'cat "{ROOT}/pyproject.toml" "{ROOT}/constraints.txt" | sha256sum | cut -d" " -f1',
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (venv / ".optiview-installed").write_text(f" {digest}\n")

    again = bootstrap(venv)

    assert again.returncode == 0, again.stderr
    assert again.stdout == "ready\n"
    assert again.stderr == ""
