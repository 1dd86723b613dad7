"""`vitrina eval` end to end on the fake 60-item bundle: report content, determinism, atomic write."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import COLOURS, FAST_MAPS, TABLE_OPTIONS
from tests.fakes import FakeFactory, FakeImageEncoder, FakeTextEncoder
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.evaluate import EVAL_REPORT, EvalOptions, categorical_attributes, evaluate_bundle, run_eval
from vitrina.schemas import Modality
from vitrina.training.encoders.base import TextEncoder, l2_normalise
from vitrina.training.metrics.evaluator import EvaluatorError


@pytest.fixture(scope="module")
def bundle_root(tiny_bundle_root, tmp_path_factory):
    # eval writes into the version: work on a copy, the session fixture is read-only.
    root = tmp_path_factory.mktemp("eval") / "bundles"
    shutil.copytree(tiny_bundle_root, root)
    return root


def _options(**kw):
    return EvalOptions(progress=False, clustering_max_items=None, sts_pairs_per_grade=40, **kw)


def test_eval_writes_a_report_covering_every_space_and_metric_family(bundle_root):
    report, path = run_eval(bundle_root, "tiny", options=_options(), encoder_factory=FakeFactory())
    assert path.relative_to(bundle_root / "tiny" / "versions").parts[1:] == tuple(EVAL_REPORT.split("/"))
    assert json.loads(path.read_text())["metrics"] == report["metrics"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left behind
    assert report["attributes"] == ["category"]  # tags is a list, year an identifier
    metrics = report["metrics"]
    for space in ("image", "text"):
        assert 0 <= metrics[f"{space}/neighbours_category_precision@10"] <= 1
        for method in ("kmeans", "dbscan", "agglomerative"):
            assert -1 <= metrics[f"{space}/clustering_category_{method}_ari"] <= 1
            assert 0 <= metrics[f"{space}/clustering_category_{method}_nmi"] <= 1
        # The stored map (PCA, k-means: tests/conftest.py FAST_MAPS) scored against the attribute.
        assert -1 <= metrics[f"{space}/map_category_kmeans_ari"] <= 1
        assert 0 <= metrics[f"{space}/map_category_kmeans_nmi"] <= 1
        assert -1 <= metrics[f"{space}/map_category_pca_silhouette"] <= 1
        assert 0 < metrics[f"{space}/maps_pca_trustworthiness"] <= 1
        assert report["spaces"][space]["primary"]["map_category"] == "map_category_kmeans_ari"
    # Colour carries the category in the images: the image space separates it perfectly.
    assert metrics["image/neighbours_category_precision@1"] == 1.0
    assert metrics["image/clustering_category_kmeans_ari"] == pytest.approx(1.0)
    # STS only where there is a text encoder; the tiny items have no sub-category, so no grade 3.
    assert "text/sts_pearson" in metrics and "image/sts_pearson" not in metrics
    assert set(report["sts_set"]["per_grade"]) == {1, 2, 4}
    assert report["spaces"]["text"]["primary"]["sts"] == "sts_pearson"


def test_eval_is_deterministic_and_leaves_the_manifest_alone(bundle_root):
    bundle = Bundle.open(bundle_root, "tiny", encoder_factory=FakeFactory())
    manifest_hash = hashlib.sha256(bundle.paths.manifest.read_bytes()).hexdigest()
    first = evaluate_bundle(bundle, _options(seed=5))
    second = evaluate_bundle(bundle, _options(seed=5))
    assert first["metrics"] == second["metrics"]
    assert hashlib.sha256(bundle.paths.manifest.read_bytes()).hexdigest() == manifest_hash


def test_categorical_attributes_skip_lists_and_identifiers(tiny_bundle):
    assert categorical_attributes(tiny_bundle.items) == ["category"]


def test_eval_rejects_unknown_spaces(tiny_bundle):
    with pytest.raises(EvaluatorError, match=r"spaces: \['nope'\] not in version"):
        evaluate_bundle(tiny_bundle, _options(spaces=["nope"]))


class _CategoryTextEncoder(TextEncoder):
    """Maps a text naming a category to that category's image histogram: a perfect-ish joint tower."""

    dim = FakeImageEncoder.dim
    fingerprint = "fake-joint-text-v1"

    def __init__(self, spec="fake:joint"):
        self.spec = spec
        image = FakeImageEncoder()
        self.targets = {c: image.encode([Image.new("RGB", (24, 24), colour) for colour in colours]).mean(0)
                        for c, colours in COLOURS.items()}

    def encode(self, batch):
        out = np.full((len(batch), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(batch):
            for category, vector in self.targets.items():
                if category in text:
                    out[row] += vector
        return l2_normalise(out)


class _JointFactory(FakeFactory):
    def __call__(self, spec, modality=None, **kw):
        if spec == "fake:joint" and modality is Modality.TEXT:
            return self.created.setdefault((spec, modality), _CategoryTextEncoder(spec))
        return super().__call__(spec, modality, **kw)


def test_cross_modal_recall_for_a_space_with_both_towers(tmp_path, tiny_catalogue):
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    factory = _JointFactory()
    options = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                           **FAST_MAPS)
    build_bundle(f"table:{tiny_catalogue}", tmp_path, "tiny", [SpaceRequest("joint", "fake:joint")], options,
                 encoder_factory=factory)
    report, _ = run_eval(tmp_path, "tiny", options=_options(ks=(1, 10, 30)), encoder_factory=factory)
    m = report["metrics"]
    assert m["joint/cross_modal_text_to_image_queries"] == 60
    # A text finds its category's images (20 of 60) first: its own image ranks within them.
    assert m["joint/cross_modal_text_to_image_median_rank"] <= 20
    assert m["joint/cross_modal_text_to_image_recall@30"] == 1.0
    assert m["joint/cross_modal_image_to_text_recall@10"] >= 10 / 60
    assert "joint/sts_pearson" in m  # the joint text tower is a text encoder too

    subset, _ = run_eval(tmp_path, "tiny", options=_options(query_ids=["animals-00", "plants-03"]), encoder_factory=factory)
    assert subset["metrics"]["joint/cross_modal_text_to_image_queries"] == 2
    assert subset["metrics"]["joint/cross_modal_image_gallery"] == 60


def test_a_checkpoints_heldout_items_get_their_own_cross_modal_scores(tmp_path, tiny_catalogue):
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle
    from vitrina.training.checkpoint import HELDOUT_FILE

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / HELDOUT_FILE).write_text("animals-00\nplants-03\nnot-in-bundle\n")

    class CkptFactory(FakeFactory):
        def __call__(self, spec, modality=None, **kw):
            if modality is Modality.TEXT:
                return self.created.setdefault((spec, modality), _CategoryTextEncoder(spec))
            return super().__call__(spec, modality, **kw)

    factory = CkptFactory()
    options = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                           **FAST_MAPS)
    build_bundle(f"table:{tiny_catalogue}", tmp_path / "b", "tiny", [SpaceRequest("joint", f"ckpt:{ckpt}")], options,
                 encoder_factory=factory)
    report, _ = run_eval(tmp_path / "b", "tiny", options=_options(ks=(1, 10)), encoder_factory=factory)
    m = report["metrics"]
    assert m["joint/cross_modal_text_to_image_queries"] == 60
    assert m["joint/cross_modal_heldout_text_to_image_queries"] == 2
    assert m["joint/cross_modal_heldout_image_gallery"] == 60  # held-out texts search every picture
    assert report["spaces"]["joint"]["details"]["cross_modal_heldout"]["ids"] == 3


def test_eval_command_prints_tables_and_writes_the_report(bundle_root, monkeypatch):
    import typer

    from vitrina.indexer import cli_eval, evaluate

    monkeypatch.setattr(evaluate, "Bundle", _BundleWithFakes)
    app = typer.Typer()
    app.command()(cli_eval.eval_command)
    result = CliRunner().invoke(app, ["--bundles", str(bundle_root), "--collection", "tiny", "--no-progress",
                                      "--sts-pairs-per-grade", "20", "--k", "1", "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "Within-modal" in result.output and "Clustering agreement" in result.output and "STS" in result.output
    assert "Stored map vs labels" in result.output and "clusters: kmeans" in result.output
    assert "eval.json" in result.output
    missing = CliRunner().invoke(app, ["--bundles", str(bundle_root), "--collection", "nope"])
    assert missing.exit_code != 0 and "no published version" in missing.output


class _BundleWithFakes(Bundle):
    @classmethod
    def open(cls, *args, **kwargs):
        kwargs["encoder_factory"] = FakeFactory()
        return Bundle.open.__func__(cls, *args, **kwargs)
