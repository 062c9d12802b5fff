from ingest.collect.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.take("k") for _ in range(4)] == [0, 0, 0, 1]
    clock.now += 0.5  # one token back
    assert limiter.take("k") == 0
    assert limiter.take("k") == 1


def test_retry_after_is_whole_seconds_until_a_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=0.25, burst=1, clock=clock)
    assert limiter.take("k") == 0
    assert limiter.take("k") == 4


def test_keys_have_their_own_buckets():
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock())
    assert limiter.take("a") == 0
    assert limiter.take("a") == 1
    assert limiter.take("b") == 0


def test_zero_rate_turns_it_off():
    limiter = RateLimiter(rate_per_s=0, burst=1, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.take("k") == 0 for _ in range(1000))
