"""Word attributions with the real offline MiniLM-L6 (builtin:minilm-l6).

Prints, without asserting, the seconds per text at 50 steps (an API explain
request) and the texts per second of explain_texts at 20 steps without target
(what the indexer precomputes): both depend on the machine and its load.
"""
from __future__ import annotations

import itertools
import time

import pytest

from vitrina.training.encoders import create_encoder
from vitrina.training.explain.text_words import explain_text, explain_texts

pytestmark = pytest.mark.integration

QUERY = "red car"
ITEM = "a red car parked on the road"
# 16 short clip-art-like titles: 2 styles x 2 subjects x 4 settings.
TITLES = [" ".join(parts) for parts in itertools.product(
    ["cartoon", "vintage"],
    ["cat", "rocket"],
    ["icon", "on a white background", "under a blue sky", "line drawing"],
)]


@pytest.fixture(scope="module")
def minilm():
    return create_encoder("builtin:minilm-l6", device="cpu")


def _assert_complete(result, relative_delta: float):
    change = result.score - result.baseline_score
    assert abs(sum(w.score for w in result.words) - change) <= abs(result.delta) + 1e-4
    assert abs(result.delta) < relative_delta * abs(change)


def test_query_words_drive_the_similarity_both_ways(minilm):
    query_vector, item_vector = minilm.encode([QUERY, ITEM])
    explain_text(minilm, QUERY, item_vector, n_steps=2)  # warm-up: first-call costs out of the timing
    started, cpu = time.perf_counter(), time.process_time()
    item = explain_text(minilm, ITEM, query_vector)
    query = explain_text(minilm, QUERY, item_vector)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nexplain_text, 50 steps: {elapsed / 2:.2f} s wall, {cpu / 2:.2f} s CPU per text")

    scores = {w.word: w.score for w in item.words}
    assert list(scores) == ITEM.split()
    assert min(scores["red"], scores["car"]) > max(scores["a"], scores["the"])
    assert [w.word for w in query.words] == ["red", "car"]
    assert all(w.score > 0 for w in query.words)
    for result in (item, query):
        assert result.score == pytest.approx(float(query_vector @ item_vector), abs=1e-5)
        _assert_complete(result, 0.01)


def test_precomputing_item_attributions(minilm):
    started, cpu = time.perf_counter(), time.process_time()
    results = explain_texts(minilm, TITLES, n_steps=20)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    worst = max(abs(r.delta / (r.score - r.baseline_score)) for r in results)
    print(f"\nexplain_texts, 20 steps, no target: {len(TITLES) / elapsed:.2f} texts/s "
          f"({elapsed:.1f} s wall, {cpu:.1f} s CPU for {len(TITLES)}); largest |delta| / |score change| {worst:.4f}")
    assert [r.target for r in results] == ["baseline"] * len(TITLES)
    for title, result in zip(TITLES, results):
        assert " ".join(w.word for w in result.words) == title
        # Every word moves the text away from the empty baseline (cosine 1 there).
        assert result.baseline_score == pytest.approx(1.0, abs=1e-5) and result.score < 0.9
        _assert_complete(result, 0.05)
