"""The indexer's build: versions are whole or absent, and an interrupted build resumes."""
import json

import numpy as np
import pytest

from tests.conftest import build_tiny_bundle
from tests.fakes import FakeFactory, FakeImageEncoder
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.bundle.reader import Bundle, BundleNotFoundError
from vitrina.indexer.build import SpaceRequest
from vitrina.schemas import Manifest, Modality


class Crash(RuntimeError):
    pass


class CrashingFactory(FakeFactory):
    """Image encoder that dies after `after` batches, like a killed build."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def __call__(self, spec, modality=None, **kw):
        encoder = super().__call__(spec, modality, **kw)
        if isinstance(encoder, FakeImageEncoder) and not hasattr(encoder, "_wrapped"):
            original = encoder.encode_pixels

            def encode_pixels(pixels, _orig=original, _enc=encoder):
                if _enc.calls >= self.after:
                    raise Crash("killed")
                return _orig(pixels)

            encoder.encode_pixels = encode_pixels
            encoder._wrapped = True
        return encoder


def test_build_writes_a_complete_published_version(tmp_path, tiny_catalogue):
    result = build_tiny_bundle(tmp_path, tiny_catalogue)
    coll = CollectionPaths.of(tmp_path, "tiny")
    assert coll.current() == result.version
    paths = coll.version(result.version)
    for rel in ["manifest.json", "items.parquet", "reports/build.json", "reports/outliers.parquet",
                "spaces/image/embeddings.parquet", "spaces/image/index.faiss", "spaces/image/neighbours.parquet",
                "spaces/text/embeddings.parquet", "spaces/text/index.faiss", "spaces/text/neighbours.parquet",
                "spaces/image/projections.parquet", "spaces/image/clusters.parquet", "spaces/image/reducers/pca.pkl",
                "spaces/text/projections.parquet", "spaces/text/clusters.parquet", "spaces/text/reducers/pca.pkl"]:
        assert (paths.root / rel).is_file(), rel
    assert not (paths.root / "spaces/image/chunks").exists()
    manifest = Manifest.read(paths.manifest)
    assert manifest.catalogue.items == 60
    assert manifest.spaces["image"].rows == 60 and manifest.spaces["text"].rows == 60
    assert manifest.spaces["image"].index.factory == "Flat"
    assert manifest.spaces["image"].index.recall_at_10 == 1.0
    assert manifest.spaces["text"].encoders[Modality.TEXT].fingerprint == "fake-text-v1"
    assert manifest.build["libraries"]["faiss"]


def test_bundle_reader_vectors_match_what_was_indexed(tiny_bundle):
    space = tiny_bundle.spaces["text"]
    assert len(space.ids) == 60
    np.testing.assert_allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)
    scores, rows = space.index.search(space.vectors[:3], 1)
    assert rows[:, 0].tolist() == [0, 1, 2]


def test_crash_mid_build_leaves_current_and_resumes_without_reencoding(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    coll = CollectionPaths.of(tmp_path, "tiny")

    # Same catalogue but a different encoder spec, so this is a new build; it dies after 3 batches.
    from tests.conftest import FAST_MAPS, TABLE_OPTIONS
    from vitrina.indexer.build import BuildOptions, build_bundle

    def run(factory, neighbours_k=5):
        # The fakes' fingerprint ignores the spec: without reuse_vectors=False CURRENT's vectors would be taken.
        opts = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                            reuse_vectors=False, neighbours_k=neighbours_k, **FAST_MAPS)
        return build_bundle(f"table:{tiny_catalogue}", tmp_path, "tiny", [SpaceRequest("image", "fake:image-v2")], opts, encoder_factory=factory)

    with pytest.raises(Crash):
        run(CrashingFactory(after=3))
    assert coll.current() == first.version  # readers never saw the broken build
    assert coll.versions() == [first.version]
    staged = list((coll.root / ".chunks").glob("*/chunk-*.parquet"))
    assert len(staged) == 1  # 3 batches of 8 = one full chunk of 16 finished

    # Rerun with another option (another build key): the finished chunk's vectors still apply.
    factory = FakeFactory()
    second = run(factory, neighbours_k=4)
    encoder = factory.created[("fake:image-v2", Modality.IMAGE)]
    # 60 images, chunk 16: chunk 0 reused; chunks 1-3 (44 items) re-encoded in batches of 8.
    assert encoder.calls == 6
    assert second.report["spaces"]["image"]["chunks_reused"] == 1
    assert coll.current() == second.version
    assert Manifest.read(coll.version(second.version).manifest).parent == first.version
    bundle = Bundle.open(tmp_path, "tiny", encoder_factory=FakeFactory())
    assert len(bundle.spaces["image"].ids) == 60
    assert not (coll.root / ".staging" / second.version).exists()
    assert not list((coll.root / ".chunks").glob("*/chunk-*"))  # a finished build leaves no chunks behind


def test_bad_images_are_skipped_and_reported(tmp_path, tiny_catalogue):
    import shutil

    cat_dir = tmp_path / "cat"
    shutil.copytree(tiny_catalogue.parent, cat_dir)
    (cat_dir / "images" / "plants-03.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (cat_dir / "images" / "plants-04.png").unlink()
    result = build_tiny_bundle(tmp_path / "b", cat_dir / "catalogue.csv")
    report = json.loads(result.paths.build_report.read_text())
    assert list(report["images_skipped"]) == ["plants-03"]
    assert report["images_missing"] == 1
    assert result.manifest.spaces["image"].rows == 58
    assert result.manifest.spaces["text"].rows == 60
    bundle = Bundle.open(tmp_path / "b", "tiny", encoder_factory=FakeFactory())
    assert bundle.items.get("plants-03").image_ref is None


def test_open_without_published_version_names_the_fix(tmp_path):
    with pytest.raises(BundleNotFoundError, match="vitrina index build"):
        Bundle.open(tmp_path, "nothing")


def test_space_argument_is_validated():
    with pytest.raises(ValueError, match="NAME=ENCODER_SPEC"):
        SpaceRequest.parse("builtin:minilm-l6")
    with pytest.raises(ValueError, match="image, text, joint"):
        SpaceRequest.parse("colour=builtin:minilm-l6")


def test_skip_unchanged_reuses_current_only_for_identical_inputs(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    again = build_tiny_bundle(tmp_path, tiny_catalogue, skip_unchanged=True)
    assert again.reused and again.version == first.version
    changed = build_tiny_bundle(tmp_path, tiny_catalogue, skip_unchanged=True, max_pixels=10_000)
    assert not changed.reused and changed.version != first.version
