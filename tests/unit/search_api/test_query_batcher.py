"""Concurrent queries to one encoder are encoded in shared batches, each caller getting its own row."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from vitrina.search_api import query_batcher
from vitrina.search_api.query_batcher import QueryBatcher


class SlowEncoder:
    """Encodes a text as [len, hash-ish, 1]; each call takes 50 ms whatever the batch size."""

    def __init__(self):
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        time.sleep(0.05)
        if "boom" in texts:
            raise ValueError("cannot encode 'boom'")
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)


def test_concurrent_queries_share_batches_and_get_their_own_rows():
    encoder, batcher = SlowEncoder(), QueryBatcher(max_batch=8)
    texts = [f"query number {i}" * (i % 3 + 1) for i in range(24)]
    with ThreadPoolExecutor(24) as pool:
        vectors = list(pool.map(lambda t: batcher.encode(encoder, t), texts))
    calls = list(encoder.calls)
    assert sum(calls) == 24 and max(calls) <= 8 and batcher.batches == len(calls)
    assert len(calls) < 24 / 2  # 24 callers, 50 ms per call: far fewer calls than queries
    for text, vector in zip(texts, vectors):
        np.testing.assert_array_equal(vector, SlowEncoder().encode([text]))


def test_a_lone_query_waits_for_nobody_and_max_batch_1_encodes_alone():
    encoder = SlowEncoder()
    started = time.perf_counter()
    QueryBatcher(max_batch=32).encode(encoder, "alone")
    assert time.perf_counter() - started < 0.5 and encoder.calls == [1]
    QueryBatcher(max_batch=1).encode(encoder, "direct")
    assert encoder.calls == [1, 1]


def test_one_bad_query_fails_only_its_caller():
    encoder, batcher = SlowEncoder(), QueryBatcher(max_batch=8, window_s=0.1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.encode, encoder, text) for text in ("fine", "boom", "also fine", "ok")]
        outcomes = [f.exception() for f in futures]
    assert [type(e).__name__ if e else None for e in outcomes] == [None, "ValueError", None, None]
    assert "boom" in str(outcomes[1])


def test_an_idle_lane_ends_and_a_new_one_starts_on_demand(monkeypatch):
    monkeypatch.setattr(query_batcher, "IDLE_S", 0.05)
    encoder, batcher = SlowEncoder(), QueryBatcher()
    batcher.encode(encoder, "first")
    deadline = time.monotonic() + 5
    while batcher._lanes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not batcher._lanes
    assert batcher.encode(encoder, "second").shape == (1, 3) and len(batcher._lanes) == 1


@pytest.mark.parametrize("max_batch, window", [(0, 0.0), (4, -1.0)])
def test_settings_out_of_range_are_refused(max_batch, window):
    with pytest.raises(ValueError, match="max_batch"):
        QueryBatcher(max_batch, window)
