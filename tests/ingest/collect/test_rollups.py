import pytest

from ingest.collect.rollups import (
    BUCKET_BOUNDS_MS,
    BUCKET_COLUMNS,
    COLUMNS,
    UPSERT_SQL,
    RollupRecorder,
    bucket_index,
)

MINUTE = 1_800_000_000_000 - 1_800_000_000_000 % 60_000


@pytest.mark.parametrize(
    ("latency_ms", "column"),
    [
        (0.2, "le_1"),
        (1, "le_1"),
        (1.01, "le_2_5"),
        (199.9, "le_200"),
        (200, "le_200"),
        (200.1, "le_250"),
        (10_000, "le_10000"),
        (10_001, "le_inf"),
    ],
)
def test_bucket_of_a_latency(latency_ms: float, column: str):
    assert BUCKET_COLUMNS[bucket_index(latency_ms)] == column


def test_bounds_and_columns_agree():
    assert len(BUCKET_COLUMNS) == len(BUCKET_BOUNDS_MS) + 1
    assert list(BUCKET_BOUNDS_MS) == sorted(BUCKET_BOUNDS_MS)
    assert UPSERT_SQL.count("?") == len(COLUMNS) + 2 <= 100  # minute, node; D1 binds at most 100


def test_record_counts_requests_errors_events_and_buckets_per_minute():
    recorder = RollupRecorder()
    recorder.record(MINUTE + 5, 202, 3.0, events=2)
    recorder.record(MINUTE + 59_999, 401, 0.5, events=0)
    recorder.record(MINUTE + 60_000, 503, 250.0, events=0)
    taken = recorder.take()
    assert not recorder
    first = dict(zip(COLUMNS, taken[MINUTE], strict=True))
    assert (first["requests"], first["errors"], first["events"]) == (2, 1, 2)
    assert first["latency_ms_sum"] == 3.5
    assert (first["le_5"], first["le_1"]) == (1, 1)
    second = dict(zip(COLUMNS, taken[MINUTE + 60_000], strict=True))
    assert (second["requests"], second["errors"], second["le_250"]) == (1, 1, 1)


def test_restore_merges_counts_back():
    recorder = RollupRecorder()
    recorder.record(MINUTE, 202, 1, events=1)
    taken = recorder.take()
    recorder.record(MINUTE, 202, 1, events=1)
    recorder.restore(taken)
    assert recorder.take()[MINUTE][0] == 2
