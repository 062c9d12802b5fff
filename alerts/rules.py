"""Alert rules (runbook step 9), pure functions over the per-minute request rollups.

- error rate: answers with status >= 400 over requests, above 1% AND at least 500 requests;
- p95 latency: estimated from the latency buckets, above 200 ms AND at least 500 requests;
- cron stall: a job with a run going for more than 90 minutes, or without a success for more
  than 90 minutes (for the daily purge: a day and 90 minutes; ingest.cron.jobs.stall_reason).

The window is the last `window_minutes` whole minutes before `now` (the current minute is
still being counted by the workers).

p95 from buckets: the requests are counted per bucket (upper bounds in
ingest.collect.rollups.BUCKET_BOUNDS_MS: ... 100, 150, 200, 250, 300, 500 ms ...). The p95 lies
in the bucket where the cumulative count reaches 95%; the estimate interpolates linearly
inside it, so its error is at most that bucket's width (50 ms between 100 and 300 ms). With a
bucket bound at the threshold (200 ms) the decision itself is exact: the estimate exceeds
200 ms exactly when the true p95 does. Past the last bound (10 s) the estimate is 10 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.collect.rollups import BUCKET_BOUNDS_MS, COLUMNS, MINUTE_MS
from ingest.config import AlertSettings
from ingest.cron.jobs import JOBS, JobState, stall_reason

ERROR_RATE = "error_rate"
P95_LATENCY = "p95_latency"
CRON_STALL = "cron_stall"
COLLECTOR = "collector"


# The thresholds are the alert settings (ingest.config, the runbook's values by default).
Thresholds = AlertSettings


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    requests: int
    errors: int
    buckets: tuple[int, ...]  # counts per latency bucket, the last one unbounded


@dataclass(frozen=True)
class Evaluation:
    rule: str
    subject: str
    firing: bool
    value: float | None
    threshold: float
    summary: str  # one line: the value against the threshold
    window: Window | None = None


def window(rows: Sequence[Sequence[float]], now_ms: int, minutes: int) -> Window:
    """Sum rollup rows (minute, *COLUMNS) whose minute lies in the window."""
    end = now_ms - now_ms % MINUTE_MS
    start = end - minutes * MINUTE_MS
    fixed = len(COLUMNS) - len(BUCKET_BOUNDS_MS) - 1
    requests = errors = 0
    buckets = [0] * (len(BUCKET_BOUNDS_MS) + 1)
    for row in rows:
        if not start <= row[0] < end:
            continue
        counters = dict(zip(COLUMNS, row[1:], strict=True))
        requests += int(counters["requests"])
        errors += int(counters["errors"])
        for i, count in enumerate(row[1 + fixed :]):
            buckets[i] += int(count)
    return Window(start, end, requests, errors, tuple(buckets))


def p95_ms(buckets: Sequence[int]) -> float | None:
    total = sum(buckets)
    if total == 0:
        return None
    rank = 0.95 * total
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            if i == len(BUCKET_BOUNDS_MS):
                return float(BUCKET_BOUNDS_MS[-1])
            lower = BUCKET_BOUNDS_MS[i - 1] if i else 0.0
            upper = BUCKET_BOUNDS_MS[i]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return float(BUCKET_BOUNDS_MS[-1])


def error_rate(w: Window, limits: Thresholds) -> Evaluation:
    rate = w.errors / w.requests if w.requests else 0.0
    enough = w.requests >= limits.min_requests
    return Evaluation(
        ERROR_RATE,
        COLLECTOR,
        firing=enough and rate > limits.error_rate,
        value=rate,
        threshold=limits.error_rate,
        summary=f"error rate {rate:.2%} ({w.errors} of {w.requests} requests) against"
        f" > {limits.error_rate:.2%} with at least {limits.min_requests} requests",
        window=w,
    )


def latency(w: Window, limits: Thresholds) -> Evaluation:
    p95 = p95_ms(w.buckets)
    enough = w.requests >= limits.min_requests
    shown = "no requests" if p95 is None else f"{p95:.0f} ms"
    return Evaluation(
        P95_LATENCY,
        COLLECTOR,
        firing=enough and p95 is not None and p95 > limits.p95_ms,
        value=p95,
        threshold=limits.p95_ms,
        summary=f"p95 latency {shown} over {w.requests} requests against"
        f" > {limits.p95_ms:.0f} ms with at least {limits.min_requests} requests",
        window=w,
    )


def cron_stalls(
    states: Mapping[str, JobState], now_ms: int, limits: Thresholds
) -> list[Evaluation]:
    grace = limits.cron_stall_minutes * MINUTE_MS
    found = []
    for name, job in JOBS.items():
        reason = stall_reason(states.get(name, JobState(name)), job, now_ms, grace)
        found.append(
            Evaluation(
                CRON_STALL,
                name,
                firing=reason is not None,
                value=None,
                threshold=limits.cron_stall_minutes,
                summary=f"cron job {name}: {reason}" if reason else f"cron job {name} on time",
            )
        )
    return found


def evaluate(
    rollup_rows: Sequence[Sequence[float]],
    cron_states: Mapping[str, JobState],
    now_ms: int,
    limits: Thresholds,
) -> list[Evaluation]:
    w = window(rollup_rows, now_ms, limits.window_minutes)
    return [error_rate(w, limits), latency(w, limits), *cron_stalls(cron_states, now_ms, limits)]
