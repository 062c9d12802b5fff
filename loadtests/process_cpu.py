"""CPU used by a server's process tree (workers and a writer process included), by role.

Roles: `writer` for a process whose name or command line says writer (the SQLite writer
process), `master` for the root when it supervises workers, `worker` otherwise (with one
worker, uvicorn serves in the root process). A child that exits during a run is counted
through its parent's reaped-children times."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import psutil

ROLES = ("worker", "writer", "master")


@dataclass(frozen=True)
class Snapshot:
    per_pid: dict[int, tuple[str, float]]  # pid -> (role, core-seconds so far)
    reaped: float  # core-seconds of the root's and its children's reaped children


def role(process: psutil.Process, root: int, workers: int) -> str:
    with contextlib.suppress(psutil.Error):
        # options left out: under valgrind they name output files
        words = [process.name(), *(a for a in process.cmdline() if not a.startswith("-"))]
        text = " ".join(words)
        if "writer" in text.lower():
            return "writer"
        if "resource_tracker" in text:  # multiprocessing's helper of a supervising master
            return "master"
    if process.pid == root and workers > 1:
        return "master"
    return "worker"


def _cpu(times: Any) -> tuple[float, float]:
    """(own, reaped children's) core-seconds of psutil's cpu_times()."""
    return times.user + times.system, times.children_user + times.children_system


def snapshot(root: int, workers: int) -> Snapshot:
    per_pid: dict[int, tuple[str, float]] = {}
    reaped = 0.0
    try:
        top = psutil.Process(root)
        tree = [top, *top.children(recursive=True)]
    except psutil.Error:
        return Snapshot(per_pid, reaped)
    for process in tree:
        with contextlib.suppress(psutil.Error):
            own, children = _cpu(process.cpu_times())
            per_pid[process.pid] = (role(process, root, workers), own)
            reaped += children
    return Snapshot(per_pid, reaped)


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Core-seconds per role between two snapshots; a process that ended in between counts
    what its parent reaped (under its parent's role, which is then the closest we know)."""
    spent = dict.fromkeys(ROLES, 0.0)
    for pid, (name, cpu) in after.per_pid.items():
        earlier = before.per_pid.get(pid)
        spent[name] += cpu - (earlier[1] if earlier else 0.0)
    spent["worker"] += max(0.0, after.reaped - before.reaped)
    return {name: round(seconds, 3) for name, seconds in spent.items() if seconds > 0}


def postgres_cpu() -> float:
    """Core-seconds so far of every live `postgres` process (the machine's, not only ours)."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            with contextlib.suppress(psutil.Error):
                own, children = _cpu(process.cpu_times())
                total += own + children
    return total
