"""Rate limits shared through Redis (OPTIVIEW_REDIS_URL): the bucket script's arithmetic, the
limiter's fallback to local buckets while Redis is gone, and two `optiview serve` nodes
spending one budget. The nodes share a SQLite file: the budget lives in Redis, whatever the
database (tests/cluster/ runs nodes on PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from ingest.collect.ratelimit import RateLimiter
from ingest.collect.ratelimit_redis import BUCKET_SCRIPT, KEY_PREFIX, SharedRateLimiter
from ingest.collect.service import limiter
from ingest.config import ConfigError, load_settings
from tests import redis_server
from tests.conftest import INLINE_WRITER, Server, service_env, serving, serving_two
from tests.ingest.collect.conftest import provision_on

T0 = 1_700_000_000.25  # a Redis-clock time, in seconds


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as connection:
        yield connection


def bucket_key() -> str:
    return KEY_PREFIX + "test-" + uuid.uuid4().hex


def take(client: redis.Redis, key: str, rate: float, burst: float, now: float) -> tuple[int, float]:
    now_us = round(now * 1_000_000)
    taken, left = client.register_script(BUCKET_SCRIPT)(keys=[key], args=[rate, burst, now_us])
    return int(taken), float(left)


# The bucket's arithmetic, in Redis, on a clock passed in


def test_a_new_bucket_holds_the_burst_and_refuses_once_spent(client: redis.Redis):
    key = bucket_key()
    answers = [take(client, key, 2, 3, T0) for _ in range(4)]
    assert answers == [(1, 2.0), (1, 1.0), (1, 0.0), (0, 0.0)]


def test_the_bucket_refills_at_the_rate_to_exact_fractions(client: redis.Redis):
    key = bucket_key()
    for _ in range(3):
        take(client, key, 2, 3, T0)
    assert take(client, key, 2, 3, T0 + 0.25) == (0, 0.5)  # half a token: still refused
    assert take(client, key, 2, 3, T0 + 0.5) == (1, 0.0)  # refilled from 0.5 at T0 + 0.25
    assert take(client, key, 2, 3, T0 + 0.5 + 0.000_001) == (0, 0.000_002)


def test_the_bucket_never_holds_more_than_the_burst(client: redis.Redis):
    key = bucket_key()
    take(client, key, 2, 3, T0)
    assert take(client, key, 2, 3, T0 + 3600) == (1, 2.0)


def test_a_clock_going_back_refills_nothing_and_takes_as_usual(client: redis.Redis):
    key = bucket_key()
    take(client, key, 1, 2, T0)
    assert take(client, key, 1, 2, T0 - 100) == (1, 0.0)
    assert take(client, key, 1, 2, T0 - 50) == (0, 0.0)


def test_an_idle_bucket_expires_once_it_would_be_full(client: redis.Redis):
    key = bucket_key()
    take(client, key, 4, 10, T0)  # 9 left: full again in 250 ms
    assert 1000 < client.pttl(key) <= 1250
    take(client, key, 0.5, 10, T0)  # 8 left at 0.5/s: full again in 4 s
    assert 4000 < client.pttl(key) <= 5000


def test_without_a_clock_the_script_reads_redis_time(client: redis.Redis):
    key = bucket_key()
    taken, left = client.register_script(BUCKET_SCRIPT)(keys=[key], args=[1, 5])
    assert (int(taken), float(left)) == (1, 4.0)
    seconds, micros = client.time()
    assert abs(int(client.hget(key, "at")) - (seconds * 1_000_000 + micros)) < 1_000_000


def test_one_call_takes_for_several_keys_in_order(client: redis.Redis):
    first, second = bucket_key(), bucket_key()
    flat = client.register_script(BUCKET_SCRIPT)(
        keys=[first, second, first], args=[1, 1, round(T0 * 1_000_000)]
    )
    assert [(int(flat[i]), float(flat[i + 1])) for i in range(0, 6, 2)] == [
        (1, 0.0),
        (1, 0.0),
        (0, 0.0),
    ]


# The limiter: shared answers, a mirror for peek, local buckets while Redis is gone


def test_concurrent_takes_share_one_call_and_the_budget(redis_url: str):
    async def run() -> list[int]:
        limiter = SharedRateLimiter(redis_url, 0.01, 4)
        key = "key_" + uuid.uuid4().hex
        try:
            return list(await asyncio.gather(*(limiter.take(key) for _ in range(6))))
        finally:
            await limiter.close()

    answers = asyncio.run(run())
    assert answers[:4] == [0, 0, 0, 0] and all(wait >= 1 for wait in answers[4:])


def test_two_limiters_on_one_redis_spend_one_budget(redis_url: str):
    async def run() -> list[int]:
        nodes = [SharedRateLimiter(redis_url, 0.01, 4) for _ in range(2)]
        key = "key_" + uuid.uuid4().hex
        try:
            return [await nodes[i % 2].take(key) for i in range(6)]
        finally:
            for node in nodes:
                await node.close()

    answers = asyncio.run(run())
    assert answers[:4] == [0, 0, 0, 0]
    assert all(wait >= 1 for wait in answers[4:])


def test_peek_reads_the_last_shared_answer_without_a_round_trip(redis_url: str):
    async def run() -> None:
        a, b = SharedRateLimiter(redis_url, 0.01, 2), SharedRateLimiter(redis_url, 0.01, 2)
        key = "key_" + uuid.uuid4().hex
        try:
            assert a.peek(key) == 0 and not a.refusing()
            assert await a.take(key) == 0
            assert await b.take(key) == 0  # the last token, spent on the other node
            assert a.peek(key) == 0  # a's mirror cannot know: the full way will ask Redis
            wait = await a.take(key)
            assert wait >= 1 and a.refusing()
            assert a.peek(key) == wait  # now it knows, and says so without asking
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_a_dead_redis_costs_no_request_more_than_the_timeout(tmp_path: Path):
    async def run(server: redis_server.ThrowawayRedis) -> None:
        limiter = SharedRateLimiter(server.url, 0.01, 3, first_retry_s=0.1)
        key = "key_" + uuid.uuid4().hex
        try:
            assert await limiter.take(key) == 0
            assert (await limiter.check())["shared"] is True
            assert server.process is not None
            os.kill(server.process.pid, signal.SIGSTOP)  # there, but not answering
            try:
                started = time.monotonic()
                assert await limiter.take(key) == 0  # the local bucket, from the mirror's 2
                assert time.monotonic() - started < 0.5
                started = time.monotonic()
                assert await limiter.take(key) == 0
                wait = await limiter.take(key)  # 3 taken in all: local limits apply
                assert wait >= 1 and limiter.refusing()
                assert time.monotonic() - started < 0.05  # no waiting while Redis is down
                check = await limiter.check()
                assert check["status"] == "degraded" and check["shared"] is False
                assert f"127.0.0.1:{server.port}" in check["detail"]
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            await wait_until_shared(limiter)
            other = "key_" + uuid.uuid4().hex
            assert await limiter.take(other) == 0
            with redis.Redis.from_url(server.url) as direct:
                assert direct.exists(KEY_PREFIX + other)
        finally:
            await limiter.close()

    with redis_server.throwaway() as server:
        asyncio.run(run(server))


def test_a_redis_that_never_answered_leaves_local_limits(tmp_path: Path):
    async def run() -> None:
        url = f"redis://127.0.0.1:{redis_server.free_port()}/0"  # nothing listens
        limiter = SharedRateLimiter(url, 0.01, 2)
        key = "key_" + uuid.uuid4().hex
        try:
            started = time.monotonic()
            answers = [await limiter.take(key) for _ in range(3)]
            assert time.monotonic() - started < 0.5
            assert answers[:2] == [0, 0] and answers[2] >= 1
            assert (await limiter.check())["status"] == "degraded"
        finally:
            await limiter.close()

    asyncio.run(run())


async def wait_until_shared(limiter: SharedRateLimiter, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while (await limiter.check())["status"] != "ok":
        assert time.monotonic() < deadline, "the limiter did not go back to Redis"
        await asyncio.sleep(0.05)


# Settings


def test_the_redis_url_picks_the_shared_limiter(tmp_path: Path, redis_url: str):
    env = service_env(tmp_path / "o.db", OPTIVIEW_REDIS_URL=redis_url)
    assert isinstance(limiter(load_settings(env).collector), SharedRateLimiter)
    assert isinstance(limiter(load_settings(service_env(tmp_path / "o.db")).collector), RateLimiter)
    off = service_env(
        tmp_path / "o.db", OPTIVIEW_REDIS_URL=redis_url, OPTIVIEW_RATE_LIMIT_PER_KEY="0"
    )
    assert isinstance(limiter(load_settings(off).collector), RateLimiter)  # nothing to share


def test_a_redis_url_of_another_scheme_is_refused(tmp_path: Path):
    env = service_env(tmp_path / "o.db", OPTIVIEW_REDIS_URL="http://127.0.0.1:6379")
    with pytest.raises(ConfigError, match="OPTIVIEW_REDIS_URL must start with redis://"):
        load_settings(env)


# Real nodes over HTTP

RATE, BURST = "1", "4"


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[Server, Server]]:
    db = tmp_path_factory.mktemp("nodes") / "optiview.db"
    limits = {
        "OPTIVIEW_RATE_LIMIT_PER_KEY": RATE,
        "OPTIVIEW_RATE_LIMIT_BURST": BURST,
        "OPTIVIEW_REDIS_URL": redis_url,
    }
    # about the limiter, not the writer: each worker commits itself (no writer process)
    yield from serving_two(db, **limits, **INLINE_WRITER)


def test_two_nodes_share_a_keys_budget(nodes: tuple[Server, Server]):
    first, second = nodes
    on_first = provision_on(first)
    on_second = dataclasses.replace(on_first, server=second)
    started = time.monotonic()
    answers = [(on_first if i % 2 == 0 else on_second).send().status_code for i in range(16)]
    elapsed = time.monotonic() - started
    accepted = answers.count(202)
    # Per process, each node would have granted its own burst: 8 at least.
    assert int(BURST) <= accepted <= int(BURST) + float(RATE) * elapsed + 1, (answers, elapsed)
    refused_by = {i % 2 for i, status in enumerate(answers) if status == 429}
    assert refused_by == {0, 1}  # both nodes refused the key once its budget was spent
    assert len(on_first.events()) == accepted
    for node in nodes:
        check = httpx.get(node.url + "/health", timeout=5).json()["checks"]["rate_limits"]
        assert check == {"status": "ok", "shared": True}


def test_without_redis_a_node_says_its_limits_are_its_own(tmp_path: Path):
    for node in serving(tmp_path / "optiview.db", **INLINE_WRITER):
        check = httpx.get(node.url + "/health", timeout=5).json()["checks"]["rate_limits"]
        assert check == {"status": "ok", "shared": False}


def test_a_node_answers_while_redis_is_down_and_shares_again_when_it_is_back(tmp_path: Path):
    with redis_server.throwaway() as redis_process:
        for node in serving(
            tmp_path / "optiview.db",
            OPTIVIEW_RATE_LIMIT_PER_KEY="0.01",
            OPTIVIEW_RATE_LIMIT_BURST="3",
            OPTIVIEW_REDIS_URL=redis_process.url,
            **INLINE_WRITER,
        ):
            before, during, after = (provision_on(node) for _ in range(3))
            assert [before.send().status_code for _ in range(4)] == [202, 202, 202, 429]
            redis_process.stop()
            started = time.monotonic()
            answers = [during.send().status_code for _ in range(4)]
            assert answers == [202, 202, 202, 429]  # the node's own bucket for this key
            assert time.monotonic() - started < 5
            assert len(during.events()) == 3
            health = httpx.get(node.url + "/health", timeout=5)
            assert health.status_code == 200 and health.json()["status"] == "degraded"
            check = health.json()["checks"]["rate_limits"]
            assert check["status"] == "degraded" and check["shared"] is False
            assert "each process limits keys on its own" in check["detail"]

            redis_process.start()  # empty: the buckets start full again
            deadline = time.monotonic() + 15
            while health_of(node)["status"] != "ok":
                assert time.monotonic() < deadline, "the node did not go back to Redis"
                time.sleep(0.1)
            assert [after.send().status_code for _ in range(4)] == [202, 202, 202, 429]
            with redis.Redis.from_url(redis_process.url) as direct:
                assert direct.exists(KEY_PREFIX + after.key_id)


def health_of(node: Server) -> dict[str, object]:
    check: dict[str, object] = httpx.get(node.url + "/health", timeout=5).json()["checks"][
        "rate_limits"
    ]
    return check


def test_without_a_local_redis_the_tests_start_a_throwaway_one():
    with redis_server.redis_server(local_port=redis_server.free_port()) as (url, source):
        assert source.startswith("a throwaway redis-server") and redis_server.answers(url) is None
    assert redis_server.answers(url) is not None  # gone afterwards
