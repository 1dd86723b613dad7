"""Neighbourhoods and label outliers written by the build, read by the bundle, served by the service."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import loaded_once_by_racing_threads, build_tiny_bundle
from tests.fakes import FakeFactory
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.maps import (
    InvalidFieldError,
    NeighbourTable,
    neighbours_table,
    read_neighbours,
    read_outliers,
    write_neighbours,
)
from vitrina.search_api import BundleHolder, SearchService
from vitrina.training.metrics.ranking import TIE_TOLERANCE, tie_broken_order

K = 20  # BuildOptions.neighbours_k's default
SPACES = ["image", "text"]


def open_bundle(root) -> Bundle:
    return Bundle.open(root, "tiny", encoder_factory=FakeFactory())


def service_over(bundle: Bundle) -> SearchService:
    holder = BundleHolder()
    holder.swap(bundle)
    return SearchService(holder)


def exact_scores(space) -> np.ndarray:
    """Cosine similarity of every pair of items in the space (float64), an item to itself -inf."""
    vectors = space.vectors.astype(np.float64)
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    return scores


def assert_same_up_to_ties(got_ids, got_scores, want_ids, want_scores, row_of=None) -> int:
    """The same ranking, tied items ordered by row on both sides; only which items of the last
    tied group make the cut at k may differ.

    The tiny fixture is full of exact ties (identical colour histograms, texts hashing alike).
    Every ranking orders a tie (scores within TIE_TOLERANCE) by row, so complete tied groups
    must be equal lists; the last group may be cut by k, and which of its items a search
    fetched before ordering them is the index's call. row_of: id -> space row, to check that
    each group of `got` is in row order. Returns how many positions were compared by id,
    so callers can check the test bites.
    """
    got_scores, want_scores = np.asarray(got_scores), np.asarray(want_scores)
    np.testing.assert_allclose(got_scores, want_scores, atol=1e-5)
    assert len(got_ids) == len(want_ids)
    compared, start = 0, 0
    for stop in range(1, len(got_ids) + 1):
        if stop == len(got_ids) or got_scores[stop] < got_scores[stop - 1] - TIE_TOLERANCE:
            if row_of is not None:
                rows = [row_of[i] for i in got_ids[start:stop]]
                assert rows == sorted(rows), (start, stop, got_ids[start:stop])
            if stop < len(got_ids) and got_scores[-1] < got_scores[start] - TIE_TOLERANCE:
                assert got_ids[start:stop] == want_ids[start:stop], (start, stop)
                compared += stop - start
            start = stop
    return compared


class SearchSpy:
    """Wraps a space's index and counts the searches that reach it."""

    def __init__(self, index):
        self.index = index
        self.calls = 0

    def search(self, *args, **kwargs):
        self.calls += 1
        return self.index.search(*args, **kwargs)


# -- what the build writes --------------------------------------------------------------------


@pytest.mark.parametrize("space_name", SPACES)
def test_neighbours_file_equals_exact_search_for_every_item(tiny_bundle, space_name):
    space = tiny_bundle.spaces[space_name]
    table = read_neighbours(tiny_bundle.paths.neighbours(space_name))
    assert table.ids == space.ids and table.k == K
    scores = exact_scores(space)
    best = -np.sort(-scores, axis=1)[:, : K + 1]

    assert (table.rows >= 0).all() and (table.rows != np.arange(len(space.ids))[:, None]).all()
    assert all(len(set(row)) == K for row in table.rows.tolist())
    # Every listed item really has the score stored for it ...
    np.testing.assert_allclose(np.take_along_axis(scores, table.rows, axis=1), table.scores, atol=1e-5)
    # ... and the list is the exact top k, up to the order of tied items.
    expected = tie_broken_order(scores, np.broadcast_to(np.arange(len(space.ids)), scores.shape))[:, :K]
    row_of = {row: row for row in range(len(space.ids))}
    compared = sum(
        assert_same_up_to_ties(table.rows[i].tolist(), table.scores[i], expected[i].tolist(), best[i, :K], row_of)
        for i in range(len(space.ids))
    )
    assert compared >= 0.3 * table.rows.size


def test_build_report_counts_neighbours_and_outliers(tiny_bundle):
    report = json.loads(tiny_bundle.paths.build_report.read_text())
    assert {name: report["spaces"][name]["neighbours_k"] for name in SPACES} == {"image": K, "text": K}
    # Both spaces were checked for the one label attribute; the fixture's labels are all right.
    assert report["outliers"] == {"image": {"category": 0}, "text": {"category": 0}}
    assert tiny_bundle.paths.outliers.is_file() and read_outliers(tiny_bundle.paths.outliers) == []
    assert tiny_bundle.manifest.build["options"]["neighbours_k"] == K


def test_planted_mislabel_is_in_the_report_of_every_space(tmp_path, tiny_catalogue):
    from tests.unit.search_api.test_service import MISLABELLED_ID, build_mislabelled_bundle

    bundle = open_bundle(build_mislabelled_bundle(tmp_path, tiny_catalogue))
    report = json.loads(bundle.paths.build_report.read_text())
    found = {(o.space, o.id, o.label, o.majority_label) for o in bundle.outliers()}
    assert found == {(space, MISLABELLED_ID, "vehicles", "plants") for space in SPACES}
    assert report["outliers"] == {"image": {"category": 1}, "text": {"category": 1}}


def test_neighbours_k_zero_writes_no_neighbours_and_an_empty_report(tmp_path, tiny_catalogue):
    result = build_tiny_bundle(tmp_path, tiny_catalogue, neighbours_k=0)
    assert not any(result.paths.neighbours(name).exists() for name in SPACES)
    assert read_outliers(result.paths.outliers) == []
    assert result.report["outliers"] == {} and result.report["spaces"]["image"]["neighbours_k"] == 0
    bundle = open_bundle(tmp_path)
    assert all(space.neighbours is None for space in bundle.spaces.values())
    # Answered by a live search instead.
    assert len(service_over(bundle).neighbours("animals-00", "text", k=5).hits) == 5


def test_a_different_neighbours_k_is_a_different_build(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    again = build_tiny_bundle(tmp_path, tiny_catalogue, skip_unchanged=True, neighbours_k=5)
    assert not again.reused and again.version != first.version
    assert read_neighbours(again.paths.neighbours("image")).k == 5


def test_negative_neighbours_k_is_refused(tmp_path, tiny_catalogue):
    with pytest.raises(ValueError, match="neighbours_k: must be an integer >= 0"):
        build_tiny_bundle(tmp_path, tiny_catalogue, neighbours_k=-1)


def test_cli_passes_neighbours_k(tmp_path, tiny_catalogue, monkeypatch):
    import vitrina.training.encoders
    from vitrina.indexer.cli import app

    monkeypatch.setattr(vitrina.training.encoders, "create_encoder", FakeFactory())
    args = ["build", "--catalogue", f"table:{tiny_catalogue}", "--out", str(tmp_path), "--collection", "tiny",
            "--space", "image=fake:image", "--space", "text=fake:text", "--image-column", "image",
            "--title-column", "title", "--text-columns", "title,description", "--metadata-columns", "category,tags,year",
            "--list-columns", "tags", "--workers", "0", "--no-progress", "--projection", "pca", "--clustering", "kmeans",
            "--neighbours-k", "7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["report"]["spaces"]["text"]["neighbours_k"] == 7 and out["report"]["outliers"]["text"] == {"category": 0}
    version = CollectionPaths.of(tmp_path, "tiny").version(out["version"])
    assert read_neighbours(version.neighbours("text")).k == 7
    refused = CliRunner().invoke(app, [*args[:-1], "-1"])
    assert refused.exit_code != 0


# -- what the bundle reads -------------------------------------------------------------------


def test_spaces_carry_their_neighbour_table(tiny_bundle):
    for space in tiny_bundle.spaces.values():
        assert isinstance(space.neighbours, NeighbourTable)
        assert space.neighbours.ids == space.ids and space.neighbours.k == K


@pytest.fixture
def bundle_copy(tmp_path, tiny_bundle_root):
    root = tmp_path / "bundles"
    shutil.copytree(tiny_bundle_root, root)
    return root, CollectionPaths.of(root, "tiny").version(CollectionPaths.of(root, "tiny").current())


def test_versions_built_before_maps_open_without_them(bundle_copy):
    root, paths = bundle_copy
    for name in SPACES:
        paths.neighbours(name).unlink()
    paths.outliers.unlink()
    bundle = open_bundle(root)
    assert all(space.neighbours is None for space in bundle.spaces.values())
    assert bundle.outliers() == []
    service = service_over(bundle)
    assert service.outliers("image", "category").total == 0
    assert len(service.neighbours("plants-03", "image", k=4).hits) == 4


def test_neighbours_in_another_row_order_are_refused(bundle_copy):
    root, paths = bundle_copy
    table = read_neighbours(paths.neighbours("text"))
    n = len(table.ids)
    # The same neighbourhoods listed in reverse: valid on their own, but rows no longer match embeddings.parquet.
    order = np.arange(n)[::-1]
    rows = np.where(table.rows >= 0, n - 1 - table.rows, -1)[order]
    reversed_table = NeighbourTable([table.ids[i] for i in order], rows, table.scores[order])
    write_neighbours(neighbours_table(reversed_table), paths.neighbours("text"))
    with pytest.raises(InvalidFieldError, match="embeddings.parquet") as err:
        open_bundle(root)
    assert err.value.field == "id" and err.value.path == str(paths.neighbours("text"))


def test_outliers_load_once_however_many_threads_ask(tiny_bundle_root, monkeypatch):
    import vitrina.indexer.maps as maps

    bundle = open_bundle(tiny_bundle_root)
    loaded_once_by_racing_threads(monkeypatch, maps, "read_outliers", bundle.outliers)


# -- what the service answers from them -------------------------------------------------------------


@pytest.fixture(scope="module")
def precomputed(tiny_bundle_root) -> Bundle:
    return open_bundle(tiny_bundle_root)


@pytest.fixture(scope="module")
def live(tiny_bundle_root) -> SearchService:
    bundle = open_bundle(tiny_bundle_root)
    for space in bundle.spaces.values():
        space.neighbours = None  # as a version built without them: every answer is a search
    return service_over(bundle)


CASES = [(item, k) for item in ("animals-00", "animals-13", "plants-07", "vehicles-19") for k in (1, 5, 10, K)]


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("item_id, k", CASES)
def test_answer_from_the_table_equals_the_live_search(precomputed, live, space_name, item_id, k, monkeypatch):
    space = precomputed.spaces[space_name]
    spy = SearchSpy(space.index)
    monkeypatch.setattr(space, "index", spy)
    got = service_over(precomputed).neighbours(item_id, space_name, k)
    want = live.neighbours(item_id, space_name, k)
    assert spy.calls == 0  # answered from neighbours.parquet
    assert got.bundle_version == want.bundle_version and len(got.hits) == len(want.hits) == k
    assert [h.rank for h in got.hits] == [h.rank for h in want.hits] == list(range(1, k + 1))
    np.testing.assert_allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-5)
    assert_same_up_to_ties([h.id for h in got.hits], [h.score for h in got.hits],
                           [h.id for h in want.hits], [h.score for h in want.hits], space.row_of)
    # The last tied group may be cut anywhere; each item in it must still really have its score.
    scores = exact_scores(space)
    row = space.row_of[item_id]
    true = [scores[row, space.row_of[h.id]] for h in got.hits]
    np.testing.assert_allclose(true, [h.score for h in got.hits], atol=1e-5)
    # Everything but the ids and scores (titles, metadata, urls) is the same.
    by_id = {h.id: h for h in want.hits}
    for hit in got.hits:
        if hit.id in by_id:
            assert hit.model_copy(update={"rank": 0, "score": 0}) == by_id[hit.id].model_copy(update={"rank": 0, "score": 0})


def test_the_tie_tolerant_comparison_still_compares_most_ids(precomputed, live):
    """Over every item, k=10: the comparison above is not vacuous on this tie-heavy fixture."""
    service = service_over(precomputed)
    compared = total = 0
    for space_name in SPACES:
        for item_id in precomputed.spaces[space_name].ids:
            got, want = service.neighbours(item_id, space_name, 10), live.neighbours(item_id, space_name, 10)
            compared += assert_same_up_to_ties([h.id for h in got.hits], [h.score for h in got.hits],
                                               [h.id for h in want.hits], [h.score for h in want.hits],
                                               precomputed.spaces[space_name].row_of)
            total += 10
    assert compared >= 0.3 * total


@pytest.mark.parametrize(
    "kwargs, searched",
    [
        ({"k": 5}, False),
        ({"k": 5, "filter": "  "}, False),  # an empty filter is no filter
        ({"k": 5, "filter": {}}, False),
        ({"k": 5, "filter": {"category": "plants"}}, True),
        ({"k": 5, "filter": '{"tags": "old"}'}, True),
        ({"k": K + 1}, True),  # more than the table holds
    ],
)
def test_filters_and_large_k_use_the_live_search(precomputed, live, monkeypatch, kwargs, searched):
    space = precomputed.spaces["image"]
    spy = SearchSpy(space.index)
    monkeypatch.setattr(space, "index", spy)
    got = service_over(precomputed).neighbours("animals-00", "image", **kwargs)
    assert spy.calls == int(searched)
    want = live.neighbours("animals-00", "image", **kwargs)
    assert len(got.hits) == len(want.hits) == kwargs["k"]
    assert_same_up_to_ties([h.id for h in got.hits], [h.score for h in got.hits],
                           [h.id for h in want.hits], [h.score for h in want.hits], space.row_of)
    if kwargs.get("filter") == {"category": "plants"}:
        assert {h.metadata["category"] for h in got.hits} == {"plants"}
