"""The collector when SQLite will not take writes: another connection holds the write lock.

Nothing refused may be stored, refusals are quick 503s with Retry-After that the tag can read,
and the collector recovers by itself once the lock is gone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, serving, start_server
from tests.ingest.collect.conftest import Site, provision_on


@pytest.fixture(scope="module")
def quick_busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Gives up on a locked database after 100 ms (three tries, then 503)."""
    folder = tmp_path_factory.mktemp("busy")
    yield from serving(folder / "optiview.db", TMPDIR=str(folder), OPTIVIEW_BUSY_TIMEOUT_MS="100")


@pytest.fixture
def site(quick_busy_server: Server) -> Site:
    return provision_on(quick_busy_server)


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer: holds SQLite's write lock until the block ends."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def paths(site: Site) -> list[str]:
    return [row[1] for row in site.events()]


def timed_send(site: Site, path: str, events: int = 1) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    pages = [site.pageview(path if events == 1 else f"{path}/{i}") for i in range(events)]
    answer = site.send(*pages)
    return answer, time.monotonic() - started


def assert_unavailable(answer: httpx.Response, site: Site) -> None:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "unavailable"
    assert "nothing was stored" in body["detail"]
    assert int(answer.headers["retry-after"]) >= 1
    # the tag on the partner's page can read the refusal and back off
    assert answer.headers["access-control-allow-origin"] == site.origin


def test_a_held_write_lock_gives_503_with_retry_after_then_recovers(site: Site):
    assert site.send(site.pageview("/before")).status_code == 202
    with write_lock(site.server.db):
        failed, failed_s = timed_send(site, "/locked/1")
        assert_unavailable(failed, site)
        # the breaker is open: the next request is refused without waiting for the database
        refused, refused_s = timed_send(site, "/locked/2")
        assert_unavailable(refused, site)
        print(f"\nlocked: first 503 after {failed_s:.3f} s, breaker 503 after {refused_s:.3f} s")
        assert failed_s < 3.0
        assert refused_s < 0.5
    assert paths(site) == ["/before"]

    time.sleep(1.5)  # the breaker stays open 1 s after the last failed flush
    answers = [site.send(site.pageview(f"/after/{i}")) for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202], answers[0].text
    assert paths(site) == ["/before", "/after/0", "/after/1", "/after/2"]


def test_health_is_degraded_while_the_writer_is_failing(site: Site):
    url = site.server.url + "/health"
    with write_lock(site.server.db):
        assert_unavailable(site.send(site.pageview("/locked")), site)
        started = time.monotonic()
        health = httpx.get(url, timeout=2)
        took = time.monotonic() - started
    print(f"\n/health while writes fail: {health.status_code} {health.text} in {took:.3f} s")
    assert health.status_code == 200  # reads still work: degraded, not down
    body = health.json()
    assert body["status"] == "degraded"
    assert body["checks"]["writer"]["status"] == "degraded"
    assert body["checks"]["writer"]["detail"].startswith("writes are failing")
    assert "locked" in body["checks"]["writer"]["detail"]
    assert took < 2
    time.sleep(1.5)
    assert site.send(site.pageview("/later")).status_code == 202
    assert httpx.get(url, timeout=2).json()["status"] == "ok"
    assert paths(site) == ["/later"]


def test_a_full_queue_answers_overloaded_at_once_and_stores_only_the_accepted(
    tmp_path: Path,
):
    server = start_server(
        tmp_path / "optiview.db",
        TMPDIR=str(tmp_path),  # for the metrics folder of `serve`
        OPTIVIEW_QUEUE_MAX_EVENTS="50",  # the least allowed: one full request
        OPTIVIEW_BUSY_TIMEOUT_MS="3000",
    )
    try:
        site = provision_on(server)
        assert site.send(site.pageview("/warm")).status_code == 202
        with ThreadPoolExecutor(max_workers=10) as pool, write_lock(server.db):
            started = time.monotonic()
            # 10 requests of 10 events: at most 5 fit in the queue
            futures = {pool.submit(timed_send, site, f"/q/{i}", 10): f"/q/{i}" for i in range(10)}
            # The refusals come back while the lock is still held; the queued wait for it.
            done, _ = wait(futures, timeout=1.5)
            early = [f.result() for f in done]
            held_s = time.monotonic() - started
        answers = {futures[f]: f.result() for f in futures}

        overloaded = sorted(p for p, (a, _) in answers.items() if a.status_code == 503)
        accepted = sorted(p for p, (a, _) in answers.items() if a.status_code == 202)
        print(
            f"\nqueue bound 50 events: {len(accepted)} accepted, {len(overloaded)} overloaded;"
            f" lock held {held_s:.2f} s; slowest refusal"
            f" {max((s for a, s in early if a.status_code == 503), default=0):.3f} s"
        )
        assert len(accepted) + len(overloaded) == 10, {
            p: a.status_code for p, (a, _) in answers.items()
        }
        assert 1 <= len(accepted) <= 5
        assert overloaded
        for path in overloaded:
            answer, took = answers[path]
            assert answer.json()["error"] == "overloaded"
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.headers["access-control-allow-origin"] == site.origin
            assert took < 1.5, f"{path} waited {took:.2f} s for its refusal"
        # every refusal came back before the lock was released, none of the acceptances did
        assert sorted(a.status_code for a, _ in early) == [503] * len(overloaded)
        stored = {path.rsplit("/", 1)[0] for path in paths(site) if path.startswith("/q/")}
        assert set(accepted) <= stored
        assert len(paths(site)) == 1 + 10 * len(accepted)
        assert not set(overloaded) & stored
    finally:
        server.stop()
