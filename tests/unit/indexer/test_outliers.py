"""Label outliers: a planted mislabel in clustered data, skipping unlabelled items, ranking, Parquet."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitrina.indexer.index import build_index
from vitrina.indexer.maps import (
    InvalidFieldError,
    Outlier,
    compute_neighbourhoods,
    find_label_outliers,
    outliers_table,
    read_outliers,
    write_outliers,
)
from vitrina.schemas import SchemaMismatchError

PLANTED = 7  # a cluster-0 point labelled as cluster 2
UNLABELLED = [60, 61, 62, 63, 64]  # cluster-1 points without a label


@pytest.fixture(scope="module")
def clustered():
    """4 well-separated Gaussian clusters in 16-d, 50 points each, labelled by cluster."""
    rng = np.random.default_rng(3)
    centres = 10 * np.eye(16, dtype=np.float32)[:4]
    cluster = np.repeat(np.arange(4), 50)
    vectors = centres[cluster] + rng.standard_normal((200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"obj-{i:03d}" for i in range(200)]
    labels: list[str | None] = [f"c{c}" for c in cluster]
    labels[PLANTED] = "c2"
    for i in UNLABELLED:
        labels[i] = None
    index, _ = build_index(vectors, spec="Flat", progress=False)
    table = compute_neighbourhoods(index, vectors, ids, k=20, progress=False)
    return table, labels, cluster


def test_planted_mislabel_is_the_only_outlier(clustered):
    table, labels, cluster = clustered
    # The clusters really are separated: every neighbour lies in the item's own cluster.
    assert (cluster[table.rows] == cluster[:, None]).all()

    outliers = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria")
    assert outliers == [
        Outlier(
            space="image",
            id="obj-007",
            attribute="categoria",
            label="c2",
            majority_label="c0",
            majority_share=1.0,
            own_label_share=0.0,
            confidence=1.0,
        )
    ]


def test_unlabelled_items_are_skipped_even_when_their_neighbours_agree(clustered):
    table, labels, _ = clustered
    outliers = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria", min_agreement=0.5)
    assert {o.id for o in outliers}.isdisjoint(table.ids[i] for i in UNLABELLED)


# Hand-made neighbour lists: rows 0-4 are labelled A, rows 5-9 B; the rest are the cases.
VOTERS = ["A"] * 5 + ["B"] * 5


def hand_made(cases: dict[str, tuple[str | None, list[int]]], width: int = 6):
    """(neighbour_rows, labels, ids) for voters plus `cases` (id -> (label, neighbour rows)).
    A neighbour row given as "self" (-2) becomes the case's own row."""
    n = len(VOTERS) + len(cases)
    rows = np.full((n, width), -1, dtype=np.int64)
    for i in range(len(VOTERS)):
        same = [j for j in range(len(VOTERS)) if VOTERS[j] == VOTERS[i] and j != i]
        rows[i, : len(same)] = same
    labels: list[str | None] = list(VOTERS)
    ids = [f"voter-{i}" for i in range(len(VOTERS))]
    for row, (item_id, (label, neighbours)) in enumerate(cases.items(), start=len(VOTERS)):
        rows[row, : len(neighbours)] = [row if r == -2 else r for r in neighbours]
        labels.append(label)
        ids.append(item_id)
    return rows, labels, ids


def test_ranking_shares_and_the_first_k_labelled_neighbours():
    rows, labels, ids = hand_made(
        {
            "x": ("B", [0, 1, 2, 3, 4]),  # A 5/5, own 0    -> confidence 1.0
            "y": ("B", [0, 1, 2, 3, 5]),  # A 4/5, own 1/5  -> 0.6
            "z": ("C", [0, 1, 2, 3, 5]),  # A 4/5, own 0    -> 0.8
            "w": ("B", [0, 1, 2, 5, 6]),  # A 3/5 < 0.7      -> kept
            "t": ("B", [0, 1, 2, 3, 5, 6]),  # only the first k=5 count: A 4/5 (all six: 4/6)
            "u": (None, [0, 1, 2, 3, 4]),  # no label: skipped
            "v": ("B", [15, 0, 1, 2, 3, 4]),  # u (row 15) has no label: the next five vote
            "s": ("A", [-2, 5, 6, 7, 8]),  # its own row must not vote for itself
        }
    )
    outliers = find_label_outliers(rows, labels, ids, space="text", attribute="povo", k=5, min_agreement=0.7)
    assert [o.id for o in outliers] == ["s", "v", "x", "z", "t", "y"]  # confidence desc, then id
    by_id = {o.id: o for o in outliers}
    assert (by_id["s"].majority_label, by_id["s"].majority_share, by_id["s"].own_label_share) == ("B", 1.0, 0.0)
    assert (by_id["y"].majority_share, by_id["y"].own_label_share, by_id["y"].confidence) == (0.8, 0.2, 0.6)
    assert (by_id["z"].label, by_id["z"].majority_label, by_id["z"].confidence) == ("C", "A", 0.8)
    assert by_id["t"].confidence == by_id["y"].confidence
    assert all(o.attribute == "povo" and o.space == "text" for o in outliers)
    confidences = [o.confidence for o in outliers]
    assert confidences == sorted(confidences, reverse=True)


def test_ties_flag_only_items_whose_label_is_not_among_the_most_common():
    rows, labels, ids = hand_made({"tied-own": ("A", [0, 1, 5, 6]), "tied-other": ("C", [0, 1, 5, 6])})
    outliers = find_label_outliers(rows, labels, ids, space="text", attribute="povo", k=4, min_agreement=0.5)
    assert [(o.id, o.majority_label, o.majority_share) for o in outliers] == [("tied-other", "A", 0.5)]


def test_parquet_round_trip_holds_several_attributes(tmp_path, clustered):
    table, labels, _ = clustered
    found = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria")
    rows, hand_labels, hand_ids = hand_made({"x": ("B", [0, 1, 2, 3, 4])})
    found += find_label_outliers(rows, hand_labels, hand_ids, space="text", attribute="povo", k=5)
    path = tmp_path / "reports" / "outliers.parquet"
    write_outliers(outliers_table(found), path)
    assert [p.name for p in path.parent.iterdir()] == ["outliers.parquet"]
    assert pq.read_table(path).column("attribute").to_pylist() == ["categoria", "povo"]
    assert pq.read_table(path).column("space").to_pylist() == ["image", "text"]
    assert read_outliers(path) == found


def test_schema_mismatch_names_file_and_field(tmp_path):
    path = tmp_path / "outliers.parquet"
    good = outliers_table([Outlier("text", "a", "povo", "B", "A", 1.0, 0.0, 1.0)])
    pq.write_table(good.set_column(7, "confidence", pa.array([1.0], pa.float32())), path)
    with pytest.raises(SchemaMismatchError) as err:
        read_outliers(path)
    assert isinstance(err.value, ValueError)
    assert str(path) in str(err.value) and "'confidence'" in str(err.value)


def test_bad_arguments_name_the_field():
    rows, labels, ids = hand_made({})
    with pytest.raises(InvalidFieldError, match="^labels "):
        find_label_outliers(rows, labels[:-1], ids, space="text", attribute="povo")
    with pytest.raises(InvalidFieldError, match="^min_agreement "):
        find_label_outliers(rows, labels, ids, space="text", attribute="povo", min_agreement=0)
    with pytest.raises(InvalidFieldError, match="^neighbour_rows "):
        find_label_outliers(rows + 100, labels, ids, space="text", attribute="povo")
    with pytest.raises(InvalidFieldError, match="^labels "):
        find_label_outliers(rows, [1] * len(ids), ids, space="text", attribute="povo")
    with pytest.raises(InvalidFieldError, match="^space "):
        find_label_outliers(rows, labels, ids, space="", attribute="povo")
