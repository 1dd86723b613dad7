"""Index build, tuning and filtered search on a seeded synthetic clustered dataset."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from vitrina.indexer.index import (
    VectorIndex,
    build_index,
    exact_search,
    ivf_nlist,
    maybe_to_gpu,
    recall_at_k,
)
from vitrina.indexer.index import vector_index as vector_index_module
from vitrina.indexer.index.synthetic import ClusteredSphere
from vitrina.schemas.manifest import IndexInfo

N, DIM, K = 20_000, 64, 10
IVF = f"IVF{ivf_nlist(N)},Flat"
SPECS = ["Flat", "HNSW32", IVF]


@pytest.fixture(scope="module")
def data():
    mixture = ClusteredSphere(DIM, n_clusters=128, seed=7)
    vectors = mixture.sample(N, seed=1)
    queries = mixture.sample(400, seed=2)  # held out: never part of the index or its tuning
    return vectors, queries


@pytest.fixture(scope="module")
def built(data):
    vectors, _ = data
    # target 0.96: one point above what the held-out check asks, covering the
    # sampling noise of 1000 tuning queries vs 400 held-out ones.
    return {spec: build_index(vectors, spec=spec, target_recall=0.96) for spec in SPECS}


def assert_same_topk(got, want, atol=1e-5):
    """Equal results, allowing near-tied scores to come back in either order."""
    (gs, gr), (ws, wr) = got, want
    np.testing.assert_allclose(gs, ws, atol=atol)
    np.testing.assert_array_equal(gr < 0, wr < 0)
    differ = gr != wr
    # Where rows differ the scores are ties (allclose above); a row only one side returned
    # was cut at k from a tie, so it scores like that side's last hit.
    for q in np.flatnonzero(differ.any(axis=1)):
        for rows, scores, other in ((gr[q], gs[q], wr[q]), (wr[q], ws[q], gr[q])):
            cut = np.isin(rows, other, invert=True)
            np.testing.assert_allclose(scores[cut], scores[-1], atol=atol)


def test_synthetic_data_is_clustered_not_uniform(data):
    vectors, queries = data
    scores, _ = exact_search(vectors, queries, K)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert scores[:, 0].mean() > 0.5  # close neighbours exist (uniform 64-d would give ~0.35)
    assert np.abs(vectors[:500] @ vectors[500:1000].T).mean() < 0.2  # but most pairs are far apart


def test_exact_search_matches_faiss_flat(data):
    vectors, queries = data
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    assert_same_topk(exact_search(vectors, queries, K), flat.search(queries, K))


def test_exact_search_pads_when_fewer_rows_than_k():
    vectors = np.eye(3, 4, dtype=np.float32)
    scores, rows = exact_search(vectors, vectors[:1], 5)
    assert rows.tolist() == [[0, 1, 2, -1, -1]]
    assert scores[0, 0] == 1 and np.isneginf(scores[0, 3:]).all()


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("filtered", [False, True])
def test_identical_vectors_come_back_in_row_order_with_one_score(data, spec, filtered):
    # Five copies of one vector at scattered rows: FAISS's float32 kernels may score them a
    # few ulps apart and order them by those bits; hits are settled to row order, one score.
    vectors, queries = data
    twins = [3, 4_417, 9_000, 9_001, 19_998]
    copied = vectors.copy()
    copied[twins] = vectors[123]
    index, _ = build_index(copied, spec=spec, target_recall=0.96)
    query = vectors[123] + 0.01 * queries[0]
    query = (query / np.linalg.norm(query))[None, :].astype(np.float32)
    allowed = None
    if filtered:
        allowed = np.ones(N, bool)
        allowed[123] = False  # selective enough to go through FAISS's selector, not exact
    scores, rows = index.search(query, K, allowed=allowed)
    expected = sorted(twins) if filtered else sorted([123, *twins])
    assert rows[0, : len(expected)].tolist() == expected
    assert len(set(scores[0, : len(expected)].tolist())) == 1
    # The scores are the exact inner products, rounded once to float32.
    exact = copied[rows[0]].astype(np.float64) @ query[0].astype(np.float64)
    np.testing.assert_array_equal(scores[0], exact.astype(np.float32))


def test_flat_build_is_exact_without_measuring(built):
    _, info = built["Flat"]
    assert info == IndexInfo(factory="Flat", recall_at_10=1.0, recall_sample=0, build_seconds=info.build_seconds)


def test_small_collections_get_flat_automatically(data):
    index, info = build_index(data[0][:5_000])
    assert info.factory == "Flat" and index.kind == "flat"


@pytest.mark.parametrize("spec,knob", [("HNSW32", "efSearch"), (IVF, "nprobe")])
def test_tuned_index_reaches_recall_on_tuning_sample_and_held_out_queries(data, built, spec, knob):
    vectors, queries = data
    index, info = built[spec]
    assert info.factory == spec and set(info.search_params) == {knob}
    assert info.recall_at_10 >= 0.96 and info.recall_sample == 1000 and info.build_seconds > 0
    _, rows = index.search(queries, K)
    _, exact_rows = exact_search(vectors, queries, K)
    held_out = recall_at_k(rows, exact_rows, K)
    assert held_out >= 0.95
    # Tuning hides its sample rows from the index, so its estimate is not flattered.
    assert abs(info.recall_at_10 - held_out) < 0.03


def test_unreachable_target_falls_back_to_flat_and_says_why(data):
    # One byte of PQ code a vector cannot bring the true neighbours into the 10 x k candidates
    # that re-ranking re-scores: the target is out of reach.
    index, info = build_index(data[0][:5_000], spec="PQ1", target_recall=0.999)
    assert info.factory == "Flat" and info.recall_at_10 == 1.0
    (why,) = info.search_params["fallback_from"]
    assert why["factory"] == "PQ1" and why["recall_at_10"] < 0.999 and "target" in why["reason"]
    assert index.search_params == {}


@pytest.fixture
def through_the_index(monkeypatch):
    """Send every filtered search through FAISS's selector path, however many rows it allows."""
    monkeypatch.setattr(vector_index_module, "SUBSET_EXACT_MAX_FRACTION", 0.0)
    monkeypatch.setattr(vector_index_module, "SUBSET_EXACT_MAX_ROWS", 0)


def check_filtered(index, vectors, queries, allowed, exact_expected):
    scores, rows = index.search(queries, K, allowed=allowed)
    assert rows.shape == (len(queries), K) and (rows >= 0).all()
    assert allowed[rows].all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    want = exact_search(vectors, queries, K, allowed=allowed)
    if exact_expected:
        assert_same_topk((scores, rows), want)
    else:
        assert recall_at_k(rows, want[1], K) >= 0.95


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("fraction", [0.005, 0.5])
def test_filtered_search_default_path_is_exact_for_small_subsets(data, built, spec, fraction):
    # 0.5% and 50% of 20k rows are both under SUBSET_EXACT_MAX_ROWS: exact scoring of the subset.
    vectors, queries = data
    allowed = np.random.default_rng(3).random(N) < fraction
    assert allowed.sum() <= vector_index_module.SUBSET_EXACT_MAX_ROWS
    check_filtered(built[spec][0], vectors, queries, allowed, exact_expected=True)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("fraction", [0.005, 0.03, 0.5])
def test_filtered_search_through_the_index(data, built, spec, fraction, through_the_index):
    vectors, queries = data
    allowed = np.random.default_rng(4).random(N) < fraction
    # Flat with a selector is still exhaustive; HNSW/IVF walks are approximate.
    check_filtered(built[spec][0], vectors, queries[:100], allowed, exact_expected=spec == "Flat")


def category_filter():
    """Rows of 16 of the 128 clusters, like a metadata category that clusters in embedding space."""
    mixture = ClusteredSphere(DIM, n_clusters=128, seed=7)
    _, labels = mixture.sample(N, seed=1, return_labels=True)  # same rows as the `data` fixture
    return np.isin(labels, np.arange(0, 128, 8)), mixture.sample(100, seed=9)


def test_category_filter_under_the_row_floor_is_answered_exactly(data, built):
    allowed, queries = category_filter()
    check_filtered(built["HNSW32"][0], data[0], queries, allowed, exact_expected=True)


@pytest.mark.parametrize("spec", SPECS)
def test_selector_path_guarantees_k_even_for_a_category_filter(data, built, spec, through_the_index):
    # Walks from queries far from the allowed clusters run dry; the exact top-up still gives k.
    allowed, queries = category_filter()
    _, rows = built[spec][0].search(queries, K, allowed=allowed)
    assert (rows >= 0).all() and allowed[rows].all()


def test_short_ivf_result_is_completed_by_exact_search(data, built, through_the_index):
    vectors, queries = data
    index, _ = built[IVF]
    ivf = faiss.extract_index_ivf(index.index)
    _, row_lists = ivf.quantizer.search(vectors, 1)
    _, query_lists = ivf.quantizer.search(queries[:1], 1)
    # Exclude exactly the list the query probes (nprobe 1): FAISS alone finds nothing allowed.
    allowed = row_lists[:, 0] != query_lists[0, 0]
    index.search_params = {"nprobe": 1}
    try:
        scores, rows = index.search(queries[:1], K, allowed=allowed)
    finally:
        index.search_params = built[IVF][1].search_params
    assert_same_topk((scores, rows), exact_search(vectors, queries[:1], K, allowed=allowed))


@pytest.mark.parametrize("spec", SPECS)
def test_fewer_allowed_rows_than_k_returns_them_all_then_padding(data, built, spec):
    index, _ = built[spec]
    allowed = np.zeros(N, dtype=bool)
    allowed[[5, 77, 19_999]] = True
    scores, rows = index.search(data[1][:4], K, allowed=allowed)
    assert (np.sort(rows[:, :3], axis=1) == [5, 77, 19_999]).all()
    assert (rows[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    scores, rows = index.search(data[1][:4], K, allowed=np.zeros(N, dtype=bool))
    assert (rows == -1).all() and np.isneginf(scores).all()


def test_k_larger_than_collection_pads():
    vectors = ClusteredSphere(8, n_clusters=2, seed=0).sample(6, seed=0)
    index, info = build_index(vectors, spec="HNSW32")
    scores, rows = index.search(vectors[:2], 10)
    assert (np.sort(rows[:, :6], axis=1) == np.arange(6)).all() and (rows[:, 6:] == -1).all()
    assert np.isneginf(scores[:, 6:]).all()


@pytest.mark.parametrize("selector_path", [False, True])
@pytest.mark.parametrize("spec", SPECS)
def test_save_load_round_trip(data, built, spec, selector_path, tmp_path, monkeypatch):
    if selector_path:
        monkeypatch.setattr(vector_index_module, "SUBSET_EXACT_MAX_FRACTION", 0.0)
        monkeypatch.setattr(vector_index_module, "SUBSET_EXACT_MAX_ROWS", 0)
    vectors, queries = data
    index, info = built[spec]
    path = tmp_path / "index.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]  # no temp file left behind
    info = IndexInfo.model_validate_json(info.model_dump_json())  # as read back from a manifest
    allowed = np.random.default_rng(5).random(N) < 0.5
    selective = np.random.default_rng(6).random(N) < 0.005
    with_vectors = VectorIndex.load(path, info, vectors=vectors)
    # Without `vectors`, the exact fallback reconstructs rows from the index itself.
    without_vectors = VectorIndex.load(path, info)
    for loaded in (with_vectors, without_vectors):
        assert loaded.ntotal == N and loaded.dim == DIM and loaded.search_params == index.search_params
        for mask in (None, allowed, selective):
            got, want = loaded.search(queries[:100], K, allowed=mask), index.search(queries[:100], K, allowed=mask)
            np.testing.assert_array_equal(got[1], want[1])
            np.testing.assert_array_equal(got[0], want[0])


def test_save_replaces_existing_file(data, built, tmp_path):
    path = tmp_path / "index.faiss"
    path.write_bytes(b"old")
    built["Flat"][0].save(path)
    assert VectorIndex.load(path, built["Flat"][1]).ntotal == N


def test_load_reports_missing_file_and_mismatched_vectors(data, built, tmp_path):
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "nope.faiss", IndexInfo(factory="Flat"))
    path = tmp_path / "index.faiss"
    built["Flat"][0].save(path)
    with pytest.raises(ValueError, match="vectors"):
        VectorIndex.load(path, built["Flat"][1], vectors=data[0][:10])


@pytest.mark.parametrize(
    "call,argument",
    [
        (lambda ix, q: ix.search(q[:, :32], K), "queries"),
        (lambda ix, q: ix.search(q[0], K), "queries"),
        (lambda ix, q: ix.search(q.astype(np.int32), K), "queries"),
        (lambda ix, q: ix.search(q, 0), "k"),
        (lambda ix, q: ix.search(q, True), "k"),
        (lambda ix, q: ix.search(q, 2.5), "k"),
        (lambda ix, q: ix.search(q, K, allowed=np.ones(N - 1, dtype=bool)), "allowed"),
        (lambda ix, q: ix.search(q, K, allowed=np.ones(N, dtype=np.int8)), "allowed"),
    ],
)
@pytest.mark.parametrize("spec", ["Flat", "HNSW32"])
def test_bad_search_arguments_name_the_argument(data, built, spec, call, argument):
    with pytest.raises(ValueError, match=rf"^{argument} "):
        call(built[spec][0], data[1])


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"spec": "NotAnIndex"}, "spec"),
        ({"spec": ""}, "spec"),
        ({"target_recall": 0}, "target_recall"),
        ({"target_recall": 1.5}, "target_recall"),
        ({"sample_size": 0}, "sample_size"),
    ],
)
def test_bad_build_arguments_name_the_argument(data, kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}"):
        build_index(data[0][:100], **kwargs)


def test_build_rejects_bad_vectors():
    with pytest.raises(ValueError, match="^vectors"):
        build_index(np.zeros((0, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="^vectors"):
        build_index(np.zeros(8, dtype=np.float32))


def test_recall_at_k():
    exact = np.array([[1, 2, 3], [4, 5, -1]])
    assert recall_at_k(np.array([[3, 2, 1], [4, 9, 9]]), exact, 3) == pytest.approx((1 + 0.5) / 2)
    assert recall_at_k(np.array([[1, 9], [9, 9]]), exact, 2) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="^k"):
        recall_at_k(exact, exact, 4)


def test_maybe_to_gpu_is_identity_without_gpu():
    index = faiss.IndexFlatIP(4)
    assert faiss.get_num_gpus() == 0 and maybe_to_gpu(index) is index


@pytest.mark.parametrize("use_gpu", [True, False])
def test_load_goes_through_the_gpu_helper_unless_told_not_to(built, tmp_path, monkeypatch, use_gpu):
    calls = []
    monkeypatch.setattr(vector_index_module, "maybe_to_gpu", lambda index: calls.append(index) or index)
    path = tmp_path / "index.faiss"
    built[IVF][0].save(path)
    loaded = VectorIndex.load(path, built[IVF][1], use_gpu=use_gpu)
    assert len(calls) == int(use_gpu) and loaded.search_params == built[IVF][0].search_params
