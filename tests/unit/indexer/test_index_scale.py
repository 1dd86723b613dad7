"""Indexes for collections larger than RAM: a memory budget picks compressed codes, their
candidates are re-ranked from the stored vectors, inverted lists can live on disk, and a served
space keeps its raw vectors memory-mapped rather than in RAM."""
from __future__ import annotations

import shutil

import faiss
import numpy as np
import pytest

from tests.fakes import FakeFactory
from vitrina.indexer.build_options import BuildOptions
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.index import VectorIndex, build_index
from vitrina.indexer.index.choice import estimate_index_bytes, ivf_nlist
from vitrina.indexer.index.exact import exact_search
from vitrina.indexer.index.metrics import recall_at_k
from vitrina.indexer.index.ondisk import build_ondisk_ivf
from vitrina.indexer.index.synthetic import ClusteredSphere
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas.errors import FieldError, InvalidFieldError
from vitrina.schemas.manifest import IndexInfo

N, DIM, K = 30_000, 64, 10


@pytest.fixture(scope="module")
def data():
    mixture = ClusteredSphere(DIM, n_clusters=128, seed=3)
    return mixture.sample(N, seed=1), mixture.sample(300, seed=2)


@pytest.fixture(scope="module")
def budgeted(data):
    vectors, _ = data
    # Room for product codes (about 32 bytes a vector with ids) but not for SQ8 (80) or floats.
    budget = 2 * estimate_index_bytes("IVF128,PQ16np", N, DIM)
    assert budget < estimate_index_bytes("IVF128,SQ8", N, DIM)
    return build_index(vectors, target_recall=0.9, memory_budget_bytes=budget)


def test_a_memory_budget_picks_product_codes_that_still_reach_the_target(budgeted, data):
    index, info = budgeted
    assert info.factory == f"IVF{ivf_nlist(N)},PQ16np"  # no OPQ rotation at 64-d
    assert info.search_params["rerank"] == 10 and info.recall_at_10 >= 0.9
    vectors, queries = data
    exact = exact_search(vectors, queries, K)[1]
    assert recall_at_k(index.search(queries, K)[1], exact, K) >= 0.88  # held out, as served


def test_reranking_from_the_vectors_is_what_makes_product_codes_usable(budgeted, data):
    index, info = budgeted
    vectors, queries = data
    exact = exact_search(vectors, queries, K)[1]
    codes_only = VectorIndex(index.index, info.search_params)  # no vectors: PQ scores decide alone
    reranked = recall_at_k(index.search(queries, K)[1], exact, K)
    unranked = recall_at_k(codes_only.search(queries, K)[1], exact, K)
    assert reranked > unranked + 0.1, (reranked, unranked)


def test_a_budget_below_every_index_is_refused_naming_it(data):
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        build_index(data[0], memory_budget_bytes=1000)
    with pytest.raises(FieldError) as caught:
        BuildOptions(index_memory=0).checked()
    assert caught.value.field == "index_memory"


def test_served_vectors_are_memory_mapped_and_equal_the_parquet_ones(tiny_bundle):
    for space in tiny_bundle.spaces.values():
        assert isinstance(space.vectors, np.memmap) and not space.vectors.flags.writeable
    image = tiny_bundle.spaces["image"]
    assert image.vectors.shape == (len(image.ids), image.manifest.dim)


def test_versions_without_the_vector_file_still_serve_the_same_answers(tmp_path, tiny_bundle_root, tiny_bundle):
    shutil.copytree(tiny_bundle_root, tmp_path, dirs_exist_ok=True)
    paths = CollectionPaths.of(tmp_path, "tiny").published()
    for space in ("image", "text"):
        paths.vectors(space).unlink()
    older = Bundle.open(tmp_path, "tiny", encoder_factory=FakeFactory())
    for name, space in older.spaces.items():
        served = tiny_bundle.spaces[name]
        assert not isinstance(space.vectors, np.memmap)
        np.testing.assert_array_equal(space.vectors, served.vectors)
        queries = np.asarray(served.vectors[:5])
        np.testing.assert_array_equal(space.index.search(queries, 5)[1], served.index.search(queries, 5)[1])


def test_a_damaged_vector_file_is_refused_naming_it(tmp_path, tiny_bundle_root):
    shutil.copytree(tiny_bundle_root, tmp_path, dirs_exist_ok=True)
    path = CollectionPaths.of(tmp_path, "tiny").published().vectors("image")
    np.save(path, np.zeros((3, 5), np.float64))
    with pytest.raises(InvalidFieldError) as caught:
        Bundle.open(tmp_path, "tiny", encoder_factory=FakeFactory())
    assert caught.value.field == "vectors" and "vectors.npy" in str(caught.value)


def test_on_disk_lists_merged_from_shards_answer_as_one_index_wherever_copied(tmp_path, data):
    vectors, queries = data
    vectors = vectors[:10_000]  # PQ's 256 centroids a sub-quantizer want 9,984 training points
    trained = faiss.index_factory(DIM, "IVF32,PQ8np", faiss.METRIC_INNER_PRODUCT)
    trained.train(vectors)
    whole = faiss.clone_index(trained)
    whole.add(vectors)
    build_ondisk_ivf(trained, vectors, tmp_path / "built" / "index.faiss", shard_rows=4_000, progress=False)
    assert sorted(p.name for p in (tmp_path / "built").iterdir()) == ["index.faiss", "index.ivfdata"]  # no shards left
    shutil.copytree(tmp_path / "built", tmp_path / "moved")
    shutil.rmtree(tmp_path / "built")
    info = IndexInfo(factory="IVF32,PQ8np", search_params={"nprobe": 8, "rerank": 10}, recall_at_10=0.0,
                     recall_sample=0, build_seconds=0.0)
    served = VectorIndex.load(tmp_path / "moved" / "index.faiss", info, vectors=vectors, use_gpu=False)
    expected = VectorIndex(whole, info.search_params, vectors=vectors)
    assert served.ntotal == len(vectors)
    np.testing.assert_array_equal(served.search(queries, K)[1], expected.search(queries, K)[1])
