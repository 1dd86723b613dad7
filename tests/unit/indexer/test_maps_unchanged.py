"""A re-index whose space vectors, words and map methods are unchanged takes the parent's maps."""
from __future__ import annotations

import json

import numpy as np

from tests.conftest import build_tiny_bundle
from vitrina.indexer.maps.unchanged import maps_inputs
from vitrina.schemas import Manifest


def _maps_report(result, space):
    return json.loads(result.paths.build_report.read_text())["spaces"][space]["maps"]


def test_unchanged_maps_are_taken_from_the_parent_and_other_methods_refit(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    # Another neighbourhood size: a new version, the same vectors and map methods.
    second = build_tiny_bundle(tmp_path, tiny_catalogue, neighbours_k=4)
    for space in ("image", "text"):
        report = _maps_report(second, space)
        assert report["reused_from"] == first.version and report["seconds"] == 0.0
        assert report["inputs"] == _maps_report(first, space)["inputs"]
        for path in (lambda p: p.projections(space), lambda p: p.clusters(space)):
            assert path(second.paths).read_bytes() == path(first.paths).read_bytes()
    assert Manifest.read(second.paths.manifest).build["maps"]["text"]["reused_from"] == first.version
    # A third build that asks for other clusterings fits again.
    third = build_tiny_bundle(tmp_path, tiny_catalogue, clusterings=("agglomerative",))
    report = _maps_report(third, "text")
    assert "reused_from" not in report and "agglomerative" in report["clusterings"]


def test_the_inputs_hash_covers_rows_vectors_words_and_methods():
    ids, vectors, words = ["a", "b"], np.eye(2, dtype=np.float32), ["red", "blue"]
    base = maps_inputs(ids, vectors, words, ("pca",), ("kmeans",))
    assert base == maps_inputs(list(ids), vectors.copy(), list(words), ["pca"], ["kmeans"])
    changed = [
        maps_inputs(["b", "a"], vectors, words, ("pca",), ("kmeans",)),
        maps_inputs(ids, vectors[::-1], words, ("pca",), ("kmeans",)),
        maps_inputs(ids, vectors, ["red", "green"], ("pca",), ("kmeans",)),
        maps_inputs(ids, vectors, words, ("pca", "umap"), ("kmeans",)),
        maps_inputs(ids, vectors, words, ("pca",), ()),
    ]
    assert base not in changed and len(set(changed)) == len(changed)
