from ingest.collect.ratelimit import REFUSING_WINDOW_S, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.take_now("k") for _ in range(4)] == [0, 0, 0, 1]
    clock.now += 0.5  # one token back
    assert limiter.take_now("k") == 0
    assert limiter.take_now("k") == 1


def test_retry_after_is_whole_seconds_until_a_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=0.25, burst=1, clock=clock)
    assert limiter.take_now("k") == 0
    assert limiter.take_now("k") == 4


def test_keys_have_their_own_buckets():
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock())
    assert limiter.take_now("a") == 0
    assert limiter.take_now("a") == 1
    assert limiter.take_now("b") == 0


def test_zero_rate_turns_it_off():
    limiter = RateLimiter(rate_per_s=0, burst=1, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.take_now("k") == 0 for _ in range(1000))


def test_peek_answers_like_take_without_spending_a_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=2, clock=clock)
    assert limiter.peek("k") == 0
    assert [limiter.take_now("k") for _ in range(2)] == [0, 0]
    assert limiter.peek("k") == 1
    assert limiter.peek("k") == 1  # peeking again changes nothing
    clock.now += 1.0
    assert limiter.peek("k") == 0
    assert limiter.take_now("k") == 0  # the token peek saw is still there
    assert limiter.take_now("k") == 1


def test_peek_does_not_track_keys():
    """Unknown key ids (anyone can make them up) must not take room in the bounded table."""
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock(), max_keys=2)
    limiter.take_now("a")
    limiter.take_now("b")
    for i in range(100):
        assert limiter.peek(f"made-up-{i}") == 0
    assert limiter.take_now("a") == 1 and limiter.take_now("b") == 1  # neither bucket was evicted


def test_the_least_recently_used_bucket_is_evicted_first():
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock(), max_keys=2)
    limiter.take_now("a")
    limiter.take_now("b")
    limiter.take_now("a")  # a used last
    limiter.take_now("c")  # evicts b, the least recently used
    assert limiter.peek("a") == 1
    assert limiter.peek("b") == 0  # forgotten: a full bucket again
    assert limiter.peek("c") == 1


def test_refusing_is_true_for_a_while_after_a_refusal():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=clock)
    assert not limiter.refusing()
    limiter.take_now("k")
    assert not limiter.refusing()  # taking is not refusing
    assert limiter.take_now("k") == 1
    assert limiter.refusing()
    clock.now += REFUSING_WINDOW_S + 0.01
    assert not limiter.refusing()


def test_a_disabled_limiter_never_refuses():
    limiter = RateLimiter(rate_per_s=0, burst=1, clock=Clock())
    assert all(limiter.take_now("k") == 0 for _ in range(10))
    assert limiter.peek("k") == 0 and not limiter.refusing()
