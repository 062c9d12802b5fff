"""A killed server's metrics folder is removed by the next server to start."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ingest.server.metrics_dir import PREFIX, remove_stale
from tests.conftest import start_server


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_folders_of_dead_owners_are_removed(tmp_path: Path):
    dead = tmp_path / f"{PREFIX}pid{dead_pid()}-abc"
    alive = tmp_path / f"{PREFIX}pid{os.getpid()}-def"
    unowned = tmp_path / f"{PREFIX}xyz"  # made before owners were named: left alone
    for folder in (dead, alive, unowned):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"x")
    assert remove_stale(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and unowned.exists()


def test_a_killed_servers_folder_is_removed_at_the_next_start(tmp_path: Path):
    first = start_server(tmp_path / "optiview.db")
    pid = first.process.pid
    temp = Path(tempfile.gettempdir())
    try:
        (folder,) = temp.glob(f"{PREFIX}pid{pid}-*")
        first.process.kill()  # kill -9: its atexit clean-up never runs
        first.process.wait()
        assert folder.exists()
        second = start_server(tmp_path / "optiview.db")
        try:
            assert not folder.exists()
            assert list(temp.glob(f"{PREFIX}pid{second.process.pid}-*"))
        finally:
            second.stop()
        assert not list(temp.glob(f"{PREFIX}pid{second.process.pid}-*"))
    finally:
        first.stop()
