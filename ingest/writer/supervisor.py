"""Start the writer process for `optiview serve`, restart it when it dies, stop it last.

Its socket lives in a private folder (0700, named for the serving process so that the next
server removes it if this one was killed); the workers find it in WRITER_SOCKET_ENV, which
they inherit. The writer is started before the workers and stopped after they have exited
(their lifespan close waits for their last answers), so it drains whatever is still queued.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("optiview.writer")

WRITER_SOCKET_ENV = "OPTIVIEW_WRITER_SOCKET"
PREFIX = "optiview-writer-"
OWNED = re.compile(re.escape(PREFIX) + r"pid(\d+)-")
SOCKET_NAME = "writer.sock"
# A Unix socket's path must fit in sun_path (107 bytes and a NUL); a deep TMPDIR falls back
# to /tmp. The folder's name and the socket's take up to this much after the base.
MAX_SOCKET_PATH = 107
NAMES_BYTES = len(f"/{PREFIX}pid{2**22}-12345678/{SOCKET_NAME}.new")
READY_TIMEOUT_S = 30.0  # the default of OPTIVIEW_WRITER_READY_TIMEOUT_S
STOP_TIMEOUT_S = 60.0  # it commits what is queued; a held lock waits at most the busy timeout
BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
STABLE_S = 10.0  # a writer that lived this long starts the backoff over


class WriterStartFailed(RuntimeError):
    pass


def socket_folder() -> Path:
    for base in (Path(tempfile.gettempdir()), Path("/tmp")):  # noqa: S108 (a 0700 folder)
        if len(str(base)) + NAMES_BYTES <= MAX_SOCKET_PATH:
            break
    remove_stale(base)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}pid{os.getpid()}-", dir=base))


def remove_stale(base: Path) -> None:
    """The folders of servers that were killed (their own clean-up never ran)."""
    for folder in base.glob(PREFIX + "*"):
        match = OWNED.match(folder.name)
        if match and not _alive(int(match.group(1))) and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriterSupervisor:
    def __init__(self, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        # A slow host (or valgrind, in the instruction benchmark) may need longer to start it.
        self.ready_timeout_s = ready_timeout_s
        self.folder = socket_folder()
        self.socket = self.folder / SOCKET_NAME
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def start(self, meanwhile: Callable[[], object] | None = None) -> None:
        """Start the writer and wait until it accepts; then publish its socket. `meanwhile`
        runs while the writer starts (serve imports the app then: on two cores both start at
        once instead of one after the other)."""
        process, deadline = self._launch()
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:
                process.kill()
                process.wait()
                raise
        self.process = self._ready(process, deadline)
        os.environ[WRITER_SOCKET_ENV] = str(self.socket)
        # Restarts are spawned from this thread: PR_SET_PDEATHSIG follows the thread that
        # started a child, so it must live as long as the writer may.
        self._watcher = threading.Thread(target=self._watch, name="writer-supervisor", daemon=True)
        self._watcher.start()

    def stop(self) -> int | None:
        """SIGTERM (the workers have gone: it drains and exits); its exit code."""
        self._stopping.set()
        with self._lock:
            process = self.process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.error(
                        "the writer process did not stop within %.0f s: killed", STOP_TIMEOUT_S
                    )
                    process.kill()
                    process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)
        return None if process is None else process.returncode

    def _spawn(self) -> subprocess.Popen[bytes]:
        return self._ready(*self._launch())

    def _launch(self) -> tuple[subprocess.Popen[bytes], float]:
        """The writer's process, and when it must be ready by."""
        self.socket.unlink(missing_ok=True)  # a dead writer's; its existence means "ready"
        deadline = time.monotonic() + self.ready_timeout_s
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "ingest.writer", "--socket", str(self.socket),
             "--parent", str(os.getpid())],
        )  # fmt: skip
        return process, deadline

    def _ready(self, process: subprocess.Popen[bytes], deadline: float) -> subprocess.Popen[bytes]:
        """Wait until the writer accepts (its socket exists); one that exits first, or is not
        ready by the deadline, fails the start."""
        while not self.socket.exists():
            if process.poll() is not None:
                raise WriterStartFailed(
                    f"the writer process exited with {process.returncode} before it was ready"
                )
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise WriterStartFailed(
                    f"the writer process was not ready in {self.ready_timeout_s:g} s"
                    " (OPTIVIEW_WRITER_READY_TIMEOUT_S)"
                )
            time.sleep(0.01)
        return process

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= STABLE_S:
                failures = 0
            pause = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            log.warning(
                "the writer process (pid %d) exited with %s: restarting it in %.2f s",
                process.pid,
                code,
                pause,
            )
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self.process = self._spawn()
                except WriterStartFailed as exc:
                    log.warning("%s", exc)
                    failures += 1
                    continue
            self.restarts += 1
            failures += 1
            log.warning("the writer process is back (pid %d)", self.process.pid)
