"""`optiview serve` on SQLite commits in a writer process of its own (ingest/writer): killed
under load, the workers answer 503 at once and /health says down, it comes back by itself and
every 202 is stored exactly once; SIGTERM drains it with the workers; its frames round-trip."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from ingest.collect.rows import Prepared
from ingest.collect.writer import Overloaded
from ingest.storage.database import CommitOutcomeUnknown, StorageLost, StorageUnavailable
from ingest.writer.protocol import (
    Counts,
    Done,
    FrameReader,
    ProtocolError,
    Submit,
    ToWorker,
    ToWriter,
    encode,
    error_for,
    kind_of,
)
from tests import dbprobe
from tests.conftest import Server, start_server
from tests.ingest.collect.conftest import CHROME, Site, provision_on

NO_RATE_LIMIT = {"OPTIVIEW_RATE_LIMIT_PER_KEY": "0"}
SENDERS = 4


def writer_pids(server: Server) -> list[int]:
    """The serving process's children started as `python -m ingest.writer`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == server.process.pid and b"ingest.writer" in cmdline:
            found.append(int(stat.parent.name))
    return found


def socket_of(writer: int) -> Path:
    args = Path(f"/proc/{writer}/cmdline").read_bytes().decode().split("\0")
    return Path(args[args.index("--socket") + 1])


@dataclass
class Answer:
    path: str
    status: int
    sent: float
    answered: float


@dataclass
class Load:
    site: Site
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for n in range(SENDERS):
            thread = threading.Thread(target=self._send, args=(n,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def _send(self, n: int) -> None:
        headers = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": self.site.origin}
        with httpx.Client(timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                path = f"/w/{n}-{i}"
                body = orjson.dumps(self.site.payload(self.site.pageview(path)))
                sent = time.monotonic()
                url = self.site.server.url + "/v1/events"
                try:
                    answer = client.post(url, content=body, headers=headers)
                except httpx.TransportError:  # the server has stopped
                    return
                with self.lock:
                    self.answers.append(Answer(path, answer.status_code, sent, time.monotonic()))
                if answer.status_code != 202:
                    assert answer.status_code == 503, answer.text
                    assert answer.json()["error"] == "unavailable", answer.text
                    assert answer.headers["Retry-After"] == "1"
                    time.sleep(0.01)


def stored(db: Path, property_id: int) -> list[str]:
    rows = dbprobe.rows(db, "SELECT path FROM events WHERE property_id = ?", (property_id,))
    return [row[0] for row in rows]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path / "optiview.db", TMPDIR=str(tmp_path), **NO_RATE_LIMIT)
    yield server
    server.stop()


def test_a_killed_writer_gives_503_at_once_shows_in_health_and_comes_back(served: Server):
    site = provision_on(served)
    [writer] = writer_pids(served)
    with Load(site) as load:
        time.sleep(1.0)
        os.kill(writer, signal.SIGKILL)
        killed_at = time.monotonic()
        health = None
        while time.monotonic() - killed_at < 5:
            answer = httpx.get(served.url + "/health", timeout=5)
            if answer.status_code == 503:
                health = answer.json()
                break
            time.sleep(0.005)
        # Back by itself: 202s again after the first 503.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with load.lock:
                refused = [a for a in load.answers if a.status == 503]
                resumed = [a for a in load.answers if refused and a.sent > refused[-1].answered]
            if len([a for a in resumed if a.status == 202]) >= 50:
                break
            time.sleep(0.1)
    answers = load.answers
    refused = [a for a in answers if a.status == 503]
    acknowledged = [a.path for a in answers if a.status == 202]
    first_refusal = min(a.answered for a in refused)
    slowest = max(a.answered - a.sent for a in answers)
    print(
        f"\nwriter killed: {len(acknowledged)} acknowledged, {len(refused)} refused, first 503"
        f" {first_refusal - killed_at:.3f} s after the kill, slowest answer {slowest:.3f} s,"
        f" /health: {health}"
    )
    assert health is not None, "/health never said down"
    assert health["status"] == "down"
    assert health["checks"]["writer"]["status"] == "down"
    assert "writer process" in health["checks"]["writer"]["detail"]
    assert health["checks"]["database"]["status"] == "ok"  # reads go on
    assert refused, "no request was refused while the writer was gone"
    # At once, not after a timeout (the busy timeout is 5 s); room for a loaded 2-core box.
    assert first_refusal - killed_at < 2.0
    assert slowest < 4.0
    assert any(a.status == 202 and a.sent > max(r.answered for r in refused) for a in answers)
    new_writers = writer_pids(served)
    assert len(new_writers) == 1 and new_writers != [writer]
    assert "restarting it" in served.log_text()
    assert httpx.get(served.url + "/health", timeout=5).json()["status"] == "ok"
    rows = stored(served.db, site.property_id)  # type: ignore[arg-type]
    assert set(acknowledged) <= set(rows)
    assert len(rows) == len(set(rows)), "an event was stored twice"
    # A 503 means "not stored, retry": at most those under way at the kill were committed.
    assert len(set(rows) - set(acknowledged)) <= SENDERS


def test_sigterm_drains_through_the_writer_which_exits_with_serve(tmp_path: Path):
    server = start_server(tmp_path / "optiview.db", TMPDIR=str(tmp_path), **NO_RATE_LIMIT)
    try:
        site = provision_on(server)
        [writer] = writer_pids(server)
        folder = socket_of(writer).parent
        with Load(site) as load:
            time.sleep(1.0)
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(timeout=20)
    finally:
        server.stop()
    acknowledged = {a.path for a in load.answers if a.status == 202}
    rows = stored(server.db, site.property_id)  # type: ignore[arg-type]
    print(f"\nSIGTERM: {len(acknowledged)} acknowledged, {len(rows)} stored, exit {code}")
    assert code == 0
    assert len(acknowledged) >= 50
    assert acknowledged <= set(rows)
    assert {a.status for a in load.answers} == {202}
    assert not Path(f"/proc/{writer}").exists(), "the writer process outlived serve"
    assert not folder.exists(), "the socket's folder was left behind"
    assert "Traceback" not in server.log_text()
    # The rollups of every answered request reached the table before the writer exited.
    [(requests,)] = dbprobe.rows(server.db, "SELECT sum(requests) FROM request_rollups")
    assert requests == len(load.answers)


def test_frames_round_trip_and_refusals_keep_their_kind():
    prepared = Prepared(1, [(1, "p", None, 2.5)], [(1, "s")], [], [])
    to_writer = FrameReader(ToWriter)
    pieces = encode([Submit.of(7, prepared), Counts(8, {60_000: [1.0, 0.0]}, {"k": 5})])
    data = b"".join(pieces) * 2
    # Split anywhere, frames still come out whole and in order.
    frames = to_writer.feed(data[:3]) + to_writer.feed(data[3:20]) + to_writer.feed(data[20:])
    assert len(frames) == 2
    submit, counts = frames[0]
    assert submit.prepared() == prepared  # rows are tuples again
    assert counts == Counts(8, {60_000: [1.0, 0.0]}, {"k": 5})
    to_worker = FrameReader(ToWorker)
    [[done]] = to_worker.feed(b"".join(encode([Done([1, 2], [(3, "lost", "gone")])])))
    assert done.failed == [(3, "lost", "gone")]
    for exc in (
        Overloaded("x"),
        StorageLost("x"),
        CommitOutcomeUnknown("x"),
        StorageUnavailable("x"),
    ):
        again = error_for(kind_of(exc), "x")
        assert type(again) is type(exc)
    with pytest.raises(ProtocolError):
        FrameReader(ToWriter).feed(b"\x00\x00\x00\x02\xc1\xc1")  # not msgpack of ours
    with pytest.raises(ProtocolError):
        FrameReader(ToWriter).feed(b"\xff\xff\xff\xff")  # a length no frame has


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    """A TMPDIR of this test's own, short enough for the socket's path: under pytest's deep
    tmp_path the folder falls back to the shared /tmp, where any other server starting
    meanwhile (another test process) removes a killed server's folder before we look."""
    folder = Path(tempfile.mkdtemp(prefix="ovw-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_writer_exits_when_serve_is_killed_and_the_next_server_writes(
    tmp_path: Path, short_tmpdir: Path
):
    server = start_server(tmp_path / "optiview.db", TMPDIR=str(short_tmpdir))
    try:
        site = provision_on(server)
        assert site.send(site.pageview("/before")).status_code == 202
        [writer] = writer_pids(server)
        folder = socket_of(writer).parent
        server.process.kill()  # no drain, no SIGTERM to the writer from serve
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{writer}").exists() and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # reaped by init, not by us
                os.waitpid(writer, os.WNOHANG)
            time.sleep(0.05)
        assert not Path(f"/proc/{writer}").exists(), "the writer outlived a killed serve"
        assert folder.exists()  # serve's own clean-up never ran
    finally:
        server.stop()
    again = start_server(server.db, TMPDIR=str(short_tmpdir))  # removes the killed one's folder
    try:
        site.server = again
        assert site.send(site.pageview("/after")).status_code == 202
        assert not folder.exists()
    finally:
        again.stop()
    assert sorted(stored(server.db, site.property_id)) == ["/after", "/before"]  # type: ignore[arg-type]


def test_inline_commits_in_the_worker_without_a_writer_process(tmp_path: Path):
    server = start_server(tmp_path / "optiview.db", OPTIVIEW_WRITER="inline")
    try:
        site = provision_on(server)
        assert site.send(site.pageview("/inline")).status_code == 202
        assert writer_pids(server) == []
        assert "writer:" not in server.log_text()
    finally:
        server.stop()
    assert stored(server.db, site.property_id) == ["/inline"]  # type: ignore[arg-type]
