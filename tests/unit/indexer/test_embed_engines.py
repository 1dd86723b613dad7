"""Embedding engines: a chunk is encoded the same way wherever it runs, and its part file is what
a resumed build reuses. The Ray worker class runs here without Ray; the driver's glue runs
against a stand-in `ray` module (tests/integration/test_ray_engine.py runs the real one)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TABLE_OPTIONS
from tests.fakes import FakeFactory, FakeImageEncoder
from vitrina.indexer.build_options import BuildOptions
from vitrina.indexer.bundle.chunks import ChunkStore, chunk_key
from vitrina.indexer.catalogue import collect, open_catalogue
from vitrina.indexer.embed import EmbedSettings, chunk_batches, embed_items, embeddable, encode_chunks, split_chunks
from vitrina.indexer.engines.chunk_encoder import ChunkEncoder, EncoderMismatch, EncoderRecipe, chunk_rows
from vitrina.schemas import Modality
from vitrina.schemas.errors import FieldError

SETTINGS = EmbedSettings(batch_size=3, workers=0)


class BatchSensitiveEncoder(FakeImageEncoder):
    """Each vector leans towards its batch's mean, so a vector changes with the batch it was in
    (as convolution results do in their last bits), and records the batch sizes it saw."""

    def __init__(self, spec: str = "fake:image"):
        super().__init__(spec)
        self.batch_sizes: list[int] = []

    def encode_pixels(self, pixels):
        self.batch_sizes.append(len(pixels))
        out = super().encode_pixels(pixels)
        return out + 0.01 * out.mean(axis=0)


class SensitiveFactory(FakeFactory):
    def __call__(self, spec, modality=None, **_):
        return BatchSensitiveEncoder(spec) if modality is Modality.IMAGE else super().__call__(spec, modality)


@pytest.fixture(scope="module")
def image_items(tiny_catalogue):
    items = collect(open_catalogue(f"table:{tiny_catalogue}", **TABLE_OPTIONS))
    return embeddable(sorted(items, key=lambda it: it.id), Modality.IMAGE)


def test_image_batches_restart_at_each_chunk():
    assert chunk_batches([5, 3], 2) == [[0, 1], [2, 3], [4], [5, 6], [7]]
    assert chunk_batches([], 4) == []


def test_a_chunk_encodes_the_same_alone_or_after_others(image_items):
    chunks = split_chunks(image_items, 4)
    assert len(chunks) >= 3
    together_encoder = BatchSensitiveEncoder()
    together = list(encode_chunks(chunks, together_encoder, SETTINGS))
    # Batches of 3 over chunks of 4: 3 + 1 per chunk, never one batch across two chunks.
    assert together_encoder.batch_sizes[:4] == [3, 1, 3, 1]
    alone = list(encode_chunks([chunks[1]], BatchSensitiveEncoder(), SETTINGS))[0]
    assert together[1].ids == alone.ids == [it.id for it in chunks[1]]
    np.testing.assert_array_equal(together[1].vectors, alone.vectors)


def test_chunk_encoder_part_files_are_what_a_resumed_build_reuses(tmp_path, image_items):
    chunks = split_chunks(image_items, 4)
    encoder = BatchSensitiveEncoder()
    recipe = EncoderRecipe.of(encoder, SensitiveFactory())
    rows = chunk_rows({1: chunks[1]})
    worker = ChunkEncoder(recipe, str(tmp_path / "resumed"), SETTINGS)
    counts = worker({"chunk": np.array([r["chunk"] for r in rows]), "items": np.array([r["items"] for r in rows])})
    assert counts["chunk"].tolist() == [1] and counts["items"].tolist() == counts["encoded"].tolist() == [4]

    resumed = embed_items(image_items, encoder, ChunkStore(tmp_path / "resumed", encoder.dim, encoder.fingerprint),
                          chunk_size=4, settings=SETTINGS, progress=False)
    fresh_encoder = BatchSensitiveEncoder()
    fresh = embed_items(image_items, fresh_encoder, ChunkStore(tmp_path / "fresh", encoder.dim, encoder.fingerprint),
                        chunk_size=4, settings=SETTINGS, progress=False)
    assert (resumed.chunks_reused, resumed.chunks_encoded) == (1, len(chunks) - 1)
    assert len(encoder.batch_sizes) == len(fresh_encoder.batch_sizes) - 2  # chunk 1's two batches were not redone
    assert resumed.ids == fresh.ids
    np.testing.assert_array_equal(resumed.vectors, fresh.vectors)


def test_chunk_encoder_reports_images_it_cannot_read(tmp_path, image_items):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    items = image_items[:2]
    items[1] = type(items[1])(id="broken", image_ref=str(broken))
    encoder = FakeImageEncoder()
    rows = chunk_rows({0: items})
    counts = ChunkEncoder(EncoderRecipe.of(encoder, FakeFactory()), str(tmp_path / "chunks"), SETTINGS)(
        {"chunk": np.array([0]), "items": np.array([rows[0]["items"]])})
    assert (counts["encoded"].tolist(), counts["skipped"].tolist()) == ([1], [1])
    saved = ChunkStore(tmp_path / "chunks", encoder.dim, encoder.fingerprint).load(chunk_key(items))
    assert saved.ids == [items[0].id] and list(saved.skipped) == ["broken"]


def test_chunk_encoder_refuses_a_worker_whose_encoder_differs(tmp_path):
    recipe = EncoderRecipe(FakeFactory(), "fake:image", Modality.IMAGE, "fingerprint-of-other-weights", 64)
    with pytest.raises(EncoderMismatch, match="fingerprint-of-other-weights"):
        ChunkEncoder(recipe, str(tmp_path), SETTINGS)


@pytest.mark.parametrize("changes, field", [
    ({"engine": "spark"}, "engine"),
    ({"engine": "ray", "ray_actors": 0}, "ray_actors"),
    ({"engine": "ray", "ray_actor_cpus": 1.5}, "ray_actor_cpus"),
])
def test_engine_options_are_checked_before_any_work(changes, field):
    with pytest.raises(FieldError) as caught:
        BuildOptions(**changes).checked()
    assert caught.value.field == field
    assert BuildOptions.flag(field) == "--" + field.replace("_", "-")


def test_a_chunk_is_found_by_its_items_content_not_by_its_place(tmp_path, image_items):
    encoder = FakeImageEncoder()
    store = ChunkStore(tmp_path / "chunks", encoder.dim, encoder.fingerprint)
    items = image_items[:3]
    (result,) = encode_chunks([items], encoder, SETTINGS)
    store.save(chunk_key(items), result)
    assert store.load(chunk_key(items)).ids == result.ids
    edited = [items[0], type(items[1])(id=items[1].id, image_ref=items[1].image_ref, content_hash="edited"), items[2]]
    assert store.load(chunk_key(edited)) is None  # same ids, other content: encoded again
    other = ChunkStore(tmp_path / "chunks", encoder.dim, "another-encoder")
    assert other.load(chunk_key(items)) is None
