"""A rebuild takes stored vectors of unchanged items instead of encoding them again."""
import shutil

import numpy as np

from tests.conftest import FAST_MAPS, TABLE_OPTIONS, build_tiny_bundle
from tests.fakes import FakeFactory, FakeImageEncoder
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle
from vitrina.schemas import Modality
from vitrina.training.encoders.base import l2_normalise


class ProjectedImageEncoder(FakeImageEncoder):
    """A joint tower stand-in: a fixed linear head over the fake image encoder."""

    dim = 16

    def __init__(self, spec: str):
        super().__init__(spec)
        self.base = FakeImageEncoder()
        self.head = np.random.default_rng(7).standard_normal((self.base.dim, self.dim)).astype(np.float32)

    @property
    def fingerprint(self) -> str:
        return "projected-v1"

    @property
    def base_fingerprint(self) -> str:
        return self.base.fingerprint

    def project(self, base_vectors):
        return l2_normalise(base_vectors @ self.head)

    def encode_pixels(self, pixels):
        self.calls += 1
        return self.project(self.base.encode_pixels(pixels))


class JointFactory(FakeFactory):
    def __call__(self, spec, modality=None, **kw):
        if spec == "fake:joint" and modality is Modality.IMAGE:
            return self.created.setdefault((spec, modality), ProjectedImageEncoder(spec))
        return super().__call__(spec, modality, **kw)


def _build(out, catalogue, factory, spaces, **options):
    opts = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS, **FAST_MAPS, **options)
    return build_bundle(f"table:{catalogue}", out, "tiny", spaces, opts, encoder_factory=factory)


def test_unchanged_items_take_currents_vectors_and_changed_ones_are_encoded(tmp_path, tiny_catalogue):
    cat_dir = tmp_path / "cat"
    shutil.copytree(tiny_catalogue.parent, cat_dir)
    first = build_tiny_bundle(tmp_path / "b", cat_dir / "catalogue.csv")
    # A new picture for one item: only that item's image is encoded again.
    shutil.copy(cat_dir / "images" / "plants-05.png", cat_dir / "images" / "animals-00.png")
    factory = FakeFactory()
    second = build_tiny_bundle(tmp_path / "b", cat_dir / "catalogue.csv", factory=factory, max_pixels=50_000_000)
    assert second.version != first.version
    image = second.report["spaces"]["image"]
    assert (image["vectors_reused"], image["vectors_encoded"]) == (59, 1)
    # The content hash covers the whole item, so its text is encoded again too.
    assert second.report["spaces"]["text"]["vectors_reused"] == 59
    assert factory.created[("fake:image", Modality.IMAGE)].calls == 1

    fresh = build_tiny_bundle(tmp_path / "fresh", cat_dir / "catalogue.csv")
    reused = Bundle.open(tmp_path / "b", "tiny", encoder_factory=FakeFactory()).spaces["image"]
    encoded = Bundle.open(tmp_path / "fresh", "tiny", encoder_factory=FakeFactory()).spaces["image"]
    assert reused.ids == encoded.ids  # rows keep catalogue order whatever their source
    np.testing.assert_allclose(reused.vectors, encoded.vectors, atol=1e-6)
    assert fresh.report["spaces"]["image"]["vectors_reused"] == 0


def test_joint_tower_vectors_are_projected_from_base_vectors_without_decoding(tmp_path, tiny_catalogue):
    _build(tmp_path, tiny_catalogue, FakeFactory(), [SpaceRequest("image", "fake:image")])
    factory = JointFactory()
    result = _build(tmp_path, tiny_catalogue, factory, [SpaceRequest("image", "fake:image"), SpaceRequest("joint", "fake:joint")])
    joint = result.report["spaces"]["joint"]
    assert (joint["vectors_projected"], joint["vectors_encoded"]) == (60, 0)
    assert factory.created[("fake:joint", Modality.IMAGE)].calls == 0

    encoded = _build(tmp_path / "fresh", tiny_catalogue, JointFactory(), [SpaceRequest("joint", "fake:joint")])
    assert encoded.report["spaces"]["joint"]["vectors_encoded"] == 60
    projected = Bundle.open(tmp_path, "tiny", encoder_factory=JointFactory()).spaces["joint"]
    direct = Bundle.open(tmp_path / "fresh", "tiny", encoder_factory=JointFactory()).spaces["joint"]
    np.testing.assert_allclose(projected.vectors, direct.vectors, atol=1e-5)


def test_reuse_can_be_turned_off(tmp_path, tiny_catalogue):
    build_tiny_bundle(tmp_path, tiny_catalogue)
    again = build_tiny_bundle(tmp_path, tiny_catalogue, reuse_vectors=False)
    assert again.report["spaces"]["image"]["vectors_reused"] == 0
    assert again.report["spaces"]["image"]["vectors_encoded"] == 60
