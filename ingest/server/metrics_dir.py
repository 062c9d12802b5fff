"""The folder of the workers' metric files: one per server, named for the process that owns
it, removed when that process exits, and by the next server to start if it was killed."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

# prometheus_client decides at import whether it runs in multiprocess mode, so this is set
# before the app (and so prometheus_client) is imported, here or in a worker.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "optiview-metrics-"
OWNED = re.compile(re.escape(PREFIX) + r"pid(\d+)-")


def metrics_dir() -> None:
    """A fresh folder for the workers' metric files, removed when the server exits."""
    if os.environ.get(MULTIPROC_ENV):
        return
    remove_stale(Path(tempfile.gettempdir()))
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}pid{os.getpid()}-")
    os.environ[MULTIPROC_ENV] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def remove_stale(temp: Path) -> list[Path]:
    """Remove the folders whose owner is gone (killed, so its atexit never ran)."""
    removed = []
    for folder in temp.glob(PREFIX + "*"):
        match = OWNED.match(folder.name)
        if match and not _alive(int(match.group(1))) and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
