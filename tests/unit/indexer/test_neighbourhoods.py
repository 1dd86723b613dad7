"""Precomputed neighbourhoods: exact against brute force, self excluded, duplicates, Parquet round trip."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitrina.indexer.index import build_index
from vitrina.indexer.maps import (
    InvalidFieldError,
    NeighbourTable,
    UnknownItemError,
    compute_neighbourhoods,
    neighbours_table,
    read_neighbours,
    write_neighbours,
)
from vitrina.schemas import SchemaMismatchError
from vitrina.training.metrics.ranking import TIE_TOLERANCE, tie_broken_order

N, DIM, K = 300, 32, 10


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def neighbourhoods(vectors: np.ndarray, k: int, **kwargs) -> NeighbourTable:
    index, _ = build_index(vectors, spec="Flat", progress=False)
    ids = [f"item-{i:03d}" for i in range(len(vectors))]
    return compute_neighbourhoods(index, vectors, ids, k=k, progress=False, **kwargs)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit_rows(np.random.default_rng(0), N, DIM)


@pytest.fixture(scope="module")
def table(vectors) -> NeighbourTable:
    # 64 does not divide 300: several batches and a short last one.
    return neighbourhoods(vectors, K, batch_size=64)


def test_neighbourhoods_equal_brute_force(vectors, table):
    # The reference in float64 and ordered as every ranking is (near-ties by row), so the
    # comparison is exact on any processor; the scores are the exact ones, rounded once.
    scores = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    np.fill_diagonal(scores, -np.inf)
    order = tie_broken_order(scores, np.broadcast_to(np.arange(N), scores.shape))
    want = order[:, :K]
    # Which items make the cut at k is FAISS's float32 call; this data leaves no near-tie there.
    ranked = np.take_along_axis(scores, order, axis=1)
    assert (ranked[:, K - 1] - ranked[:, K]).min() > 10 * TIE_TOLERANCE
    np.testing.assert_array_equal(table.rows, want)
    np.testing.assert_array_equal(table.scores, np.take_along_axis(scores, want, axis=1).astype(np.float32))
    assert table.rows.dtype == np.int64 and table.scores.dtype == np.float32
    assert table.rows.shape == (N, K) and table.k == K


def test_an_item_is_never_its_own_neighbour(table):
    assert (table.rows != np.arange(N)[:, None]).all()
    assert (table.rows >= 0).all()
    assert all(len(set(r)) == K for r in table.rows.tolist())


def test_lookup_by_id(table):
    ids, scores = table.of("item-007")
    assert ids == [f"item-{r:03d}" for r in table.rows[7]]
    np.testing.assert_array_equal(scores, table.scores[7])
    assert "item-007" not in ids


def test_unknown_id_is_a_value_and_key_error(table):
    with pytest.raises(UnknownItemError, match="item_id") as err:
        table.of("nope")
    assert isinstance(err.value, ValueError) and isinstance(err.value, KeyError)
    assert err.value.field == "item_id"


def test_exact_duplicates_keep_k_others_and_drop_only_the_item():
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng, 60, 16)
    # Six identical vectors: tied scores. FAISS Flat answers every one of them with 33, 22, 11, 0,
    # so 44 and 55 are not in their own top k+1 and 0 is not first in its own.
    group = [0, 11, 22, 33, 44, 55]
    vectors[group] = vectors[0]
    vectors[5] = vectors[6]  # a pair of twins
    table = neighbourhoods(vectors, k=3)
    for i in group:
        row = table.rows[i].tolist()
        assert i not in row and len(set(row)) == 3 and set(row) <= set(group)
        np.testing.assert_allclose(table.scores[i], 1.0, atol=1e-5)
    assert table.rows[5, 0] == 6 and table.rows[6, 0] == 5
    assert (table.rows != np.arange(60)[:, None]).all() and (table.rows >= 0).all()


class RotatingIndex:
    """Returns, for query row q of eye(4), rows q+1, q+2, q+3 (mod 4): never the item itself,
    as an approximate index (or a crowd of exact duplicates) may."""

    ntotal = 4

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = queries.argmax(axis=1)[:, None]
        rows = (q + np.arange(1, k + 1)) % 4
        return np.tile(np.linspace(0.9, 0.1, k, dtype=np.float32), (len(q), 1)), rows.astype(np.int64)


def test_when_the_item_is_not_returned_the_first_k_others_are_kept():
    ids = ["a", "b", "c", "d"]
    table = compute_neighbourhoods(RotatingIndex(), np.eye(4, dtype=np.float32), ids, k=2, progress=False)
    assert table.rows.tolist() == [[1, 2], [2, 3], [3, 0], [0, 1]]
    np.testing.assert_allclose(table.scores, [[0.9, 0.5]] * 4)


def test_spaces_with_k_or_fewer_items_pad_with_minus_one(tmp_path):
    table = neighbourhoods(unit_rows(np.random.default_rng(2), 5, 8), k=10)
    assert table.rows.shape == (5, 10)
    assert ((table.rows >= 0).sum(axis=1) == 4).all()
    assert np.isneginf(table.scores[table.rows < 0]).all()
    assert len(table.of("item-002")[0]) == 4

    write_neighbours(neighbours_table(table), tmp_path / "neighbours.parquet")
    back = read_neighbours(tmp_path / "neighbours.parquet")
    assert back.rows.shape == (5, 4)  # padding is not stored; a list holds what exists
    np.testing.assert_array_equal(back.rows, table.rows[:, :4])


def test_parquet_round_trip(tmp_path, table):
    arrow = neighbours_table(table, ids=table.ids)
    assert arrow.schema.field("id").type == pa.string()
    assert arrow.schema.field("neighbour_ids").type == pa.list_(pa.string())
    assert arrow.schema.field("scores").type == pa.list_(pa.float32())
    assert arrow.column("neighbour_ids")[7].as_py() == table.of("item-007")[0]

    path = tmp_path / "neighbours.parquet"
    write_neighbours(arrow, path)
    assert [p.name for p in tmp_path.iterdir()] == ["neighbours.parquet"]  # no temp file left behind
    back = read_neighbours(path)
    assert back.ids == table.ids
    np.testing.assert_array_equal(back.rows, table.rows)
    np.testing.assert_array_equal(back.scores, table.scores)
    assert back.of("item-123")[0] == table.of("item-123")[0]


def test_rewriting_replaces_the_file(tmp_path, table):
    path = tmp_path / "neighbours.parquet"
    write_neighbours(neighbours_table(table), path)
    small = NeighbourTable(["x", "y"], np.array([[1], [0]]), np.array([[0.5], [0.5]], np.float32))
    write_neighbours(neighbours_table(small), path)
    assert read_neighbours(path).ids == ["x", "y"]


def test_schema_mismatch_names_file_and_field(tmp_path):
    path = tmp_path / "neighbours.parquet"
    wrong = pa.table({"id": ["a", "b"], "neighbour_ids": [["b"], ["a"]], "scores": [[0.5], [0.5]]})  # float64
    pq.write_table(wrong, path)
    with pytest.raises(SchemaMismatchError) as err:
        read_neighbours(path)
    assert isinstance(err.value, ValueError)
    assert str(path) in str(err.value) and "'scores'" in str(err.value)

    pq.write_table(pa.table({"id": ["a"], "scores": pa.array([[0.5]], pa.list_(pa.float32()))}), path)
    with pytest.raises(SchemaMismatchError, match="'neighbour_ids' is missing"):
        read_neighbours(path)


def test_dangling_neighbour_id_names_file_and_field(tmp_path):
    path = tmp_path / "neighbours.parquet"
    good = neighbours_table(NeighbourTable(["a", "b"], np.array([[1], [0]]), np.ones((2, 1), np.float32)))
    bad = good.set_column(1, "neighbour_ids", pa.array([["b"], ["zz"]], pa.list_(pa.string())))
    pq.write_table(bad, path)
    with pytest.raises(InvalidFieldError, match="neighbour_ids") as err:
        read_neighbours(path)
    assert err.value.path == str(path) and err.value.field == "neighbour_ids"


def test_bad_arguments_name_the_field(vectors, table):
    index, _ = build_index(vectors, spec="Flat", progress=False)
    with pytest.raises(InvalidFieldError, match="^ids "):
        compute_neighbourhoods(index, vectors, ["only-one"], progress=False)
    with pytest.raises(InvalidFieldError, match="^k "):
        compute_neighbourhoods(index, vectors, table.ids, k=0, progress=False)
    with pytest.raises(InvalidFieldError, match="^index "):
        compute_neighbourhoods(index, vectors[:10], table.ids[:10], progress=False)
    with pytest.raises(InvalidFieldError, match="^ids "):
        neighbours_table(table, ids=list(reversed(table.ids)))
    with pytest.raises(InvalidFieldError, match="^ids "):
        NeighbourTable(["a", "a"], np.zeros((2, 0), np.int64), np.zeros((2, 0), np.float32))
