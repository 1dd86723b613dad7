"""Word attributions with the real offline MiniLM-L6 (builtin:minilm-l6).

Prints, without asserting, the seconds per text at 50 steps (an API explain
request) and the texts per second of explain_texts at 20 steps without target
(a build with --attribution-steps 20): both depend on the machine and its load.
"""
from __future__ import annotations

import itertools
import time

import pytest

from vitrina.training.encoders import create_encoder
from vitrina.indexer.word_attributions import DEFAULT_STEPS
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


# Full 20-step Integrated Gradients of two texts, as computed before the build's default became
# gradient x input and the convergence delta stopped costing two forward passes: the on-demand
# path must not drift (words, score, baseline score), within 1e-3.
GOLDEN_TEXTS = ["Vintage poster of a steam locomotive crossing a stone bridge at sunset",
                "clip art icon of a smiling cartoon sun"]
GOLDEN = {
    None: [
        ([('Vintage', -0.123197), ('poster', -0.127431), ('of', -0.055695), ('a', -0.053193), ('steam', -0.087025), ('locomotive', -0.153296), ('crossing', -0.094341), ('a', -0.046067), ('stone', -0.064589), ('bridge', -0.079657), ('at', -0.037389), ('sunset', -0.085702)], -0.011139, 1.0),
        ([('clip', -0.147182), ('art', -0.155907), ('icon', -0.191708), ('of', -0.079137), ('a', -0.091397), ('smiling', -0.126047), ('cartoon', -0.136224), ('sun', -0.097191)], -0.024344, 1.0),
    ],
    "a train": [
        ([('Vintage', -0.002625), ('poster', -0.024347), ('of', 0.012086), ('a', 0.024843), ('steam', 0.074596), ('locomotive', 0.212441), ('crossing', 0.038788), ('a', 0.019816), ('stone', 0.017532), ('bridge', 0.033835), ('at', 0.009563), ('sunset', -0.012207)], 0.440093, 0.035919),
        ([('clip', -0.038995), ('art', -0.004591), ('icon', 0.000302), ('of', -0.003841), ('a', 0.018843), ('smiling', -0.007021), ('cartoon', -0.016061), ('sun', -0.031342)], -0.034755, 0.048336),
    ],
}


@pytest.mark.parametrize("against", [None, "a train"])
def test_full_integrated_gradients_stay_within_1e_3_of_their_recorded_scores(minilm, against):
    target = None if against is None else minilm.encode([against])[0]
    results = explain_texts(minilm, GOLDEN_TEXTS, target, n_steps=20)
    for result, (words, score, baseline_score) in zip(results, GOLDEN[against]):
        assert [w.word for w in result.words] == [word for word, _ in words]
        assert max(abs(w.score - expected) for w, (_, expected) in zip(result.words, words)) < 1e-3
        assert abs(result.score - score) < 1e-3 and abs(result.baseline_score - baseline_score) < 1e-3


def test_the_builds_two_step_attributions_rank_like_full_integrated_gradients(minilm):
    """The build's default hover words: full IG's most salient word is the 2-step one's too,
    and the stored delta is what keeps it from complete."""
    fast = explain_texts(minilm, GOLDEN_TEXTS, None, n_steps=DEFAULT_STEPS)
    for result, (words, _, _) in zip(fast, GOLDEN[None]):
        assert min(result.words, key=lambda w: w.score).word == min(words, key=lambda w: w[1])[0]
        assert result.n_steps == 2 and result.method == "integrated_gradients"
        gap = sum(w.score for w in result.words) - (result.score - result.baseline_score)
        assert abs(gap - result.delta) < 1e-4
