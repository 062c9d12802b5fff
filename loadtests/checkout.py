"""A git revision checked out beside the working tree, to serve "today's code" in the same run.

The benchmarks start `optiview serve` from the checkout (cwd and PYTHONPATH pointing at it,
the same venv), so a baseline and the current tree meet the same machine load."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def short(rev: str) -> str:
    """The abbreviated commit `rev` names (a branch or tag resolved)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench: no commit {rev!r}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached `git worktree` of `rev` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="optiview-baseline-"))
    tree = folder / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(tree), short(rev)],
        cwd=REPO, check=True,
    )  # fmt: skip
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, check=False)


def tree_env(env: dict[str, str], tree: Path) -> dict[str, str]:
    """`env` for a process that must import the packages of `tree` before any other copy."""
    paths = [str(tree), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}
