"""Shared fixtures: a tiny real bundle built by the real indexer with fake encoders.

The bundle is built once per session and copied per test module that may
mutate it; tests that only read share it.
"""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest

# A hub call hangs ~30 s before failing; every test runs offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# ONNX exports and feature caches go to a folder of this session's, not the user's ~/.cache.
os.environ.setdefault("VITRINA_CACHE", tempfile.mkdtemp(prefix="vitrina-test-cache-"))

COLOURS = {
    "animals": [(200, 40, 40), (220, 60, 50), (180, 30, 60)],
    "plants": [(40, 180, 60), (60, 200, 40), (30, 160, 90)],
    "vehicles": [(40, 60, 200), (60, 40, 220), (30, 90, 170)],
}
WORDS = {
    "animals": ["cat", "dog", "horse", "bird", "fish"],
    "plants": ["tree", "flower", "rose", "grass", "leaf"],
    "vehicles": ["car", "truck", "bus", "bicycle", "train"],
}
TAGS = ["old", "new", "large", "small"]


def write_tiny_catalogue(folder: Path, per_category: int = 20) -> Path:
    """60 items in 3 categories: colour and words both carry the category."""
    from PIL import Image

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    n = 0
    for category, colours in COLOURS.items():
        for i in range(per_category):
            colour = colours[i % len(colours)]
            word = WORDS[category][i % len(WORDS[category])]
            item_id = f"{category}-{i:02d}"
            img = Image.new("RGB", (24, 24), colour)
            # A lighter square keeps images of one category distinct but close.
            img.paste(tuple(min(255, c + 40) for c in colour), (4 + i % 8, 4, 12 + i % 8, 12))
            img.save(images / f"{item_id}.png")
            rows.append(
                {
                    "id": item_id,
                    "title": f"{word} {i}",
                    "description": f"a {word} from the {category} collection",
                    "image": f"images/{item_id}.png",
                    "category": category,
                    "tags": "|".join(TAGS[j] for j in range(len(TAGS)) if (n >> j) & 1),
                    "year": str(1900 + n * 2),
                }
            )
            n += 1
    path = folder / "catalogue.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def catalogue_without(folder: Path, catalogue: Path, drop: set[str]) -> Path:
    """A copy of a tiny catalogue (images included) into `folder` without the items in `drop`."""
    import shutil

    shutil.copytree(catalogue.parent, folder)
    path = folder / "catalogue.csv"
    with open(path, newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["id"] not in drop]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


TABLE_OPTIONS = dict(
    id_column="id",
    title_column="title",
    text_columns=["title", "description"],
    image_column="image",
    metadata_columns=["category", "tags", "year"],
    list_columns=["tags"],
)


# UMAP JIT-compiles for ~30 s on first use and HDBSCAN is the slower clustering: test builds
# map with PCA and k-means unless a test asks for more (see tests/unit/indexer/test_maps_umap.py).
FAST_MAPS = dict(projections=("pca",), clusterings=("kmeans",))


def build_tiny_bundle(out: Path, catalogue: Path, factory=None, **options):
    from tests.fakes import FakeFactory
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    factory = factory or FakeFactory()
    opts = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS, **FAST_MAPS)
    for key, value in options.items():
        setattr(opts, key, value)
    spaces = [SpaceRequest("image", "fake:image"), SpaceRequest("text", "fake:text")]
    return build_bundle(f"table:{catalogue}", out, "tiny", spaces, opts, encoder_factory=factory)


@pytest.fixture(scope="session")
def tiny_catalogue(tmp_path_factory) -> Path:
    return write_tiny_catalogue(tmp_path_factory.mktemp("catalogue"))


@pytest.fixture(scope="session")
def tiny_bundle_root(tmp_path_factory, tiny_catalogue) -> Path:
    """Bundles root holding collection 'tiny' with one published version. Read only."""
    out = tmp_path_factory.mktemp("bundles")
    build_tiny_bundle(out, tiny_catalogue)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bundle_root):
    from tests.fakes import FakeFactory
    from vitrina.indexer.bundle.reader import Bundle

    return Bundle.open(tiny_bundle_root, "tiny", encoder_factory=FakeFactory())


def loaded_once_by_racing_threads(monkeypatch, module, loader_name: str, ask, threads: int = 8) -> None:
    """`ask()` from `threads` threads released together: the lazy load behind it runs once and
    every thread gets the same object (a slow loader widens the window for a race)."""
    import threading
    import time

    loads = []
    real = getattr(module, loader_name)

    def slow_load(path):
        loads.append(path)
        time.sleep(0.05)
        return real(path)

    monkeypatch.setattr(module, loader_name, slow_load)
    start = threading.Barrier(threads)
    results = []

    def run():
        start.wait()
        results.append(ask())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(loads) == 1 and len(results) == threads and all(r is results[0] for r in results)


# Integrated Gradients steps of the word attributions in the tiny-model bundle (full IG, not the
# default gradient x input, so its stored rows are complete): enough for completeness within 1e-3
# on the tiny random models, cheap enough for every build.
TINY_MODEL_ATTRIBUTION_STEPS = 8


@pytest.fixture(scope="session")
def tiny_model_bundle_root(tmp_path_factory, tiny_catalogue) -> Path:
    """Collection 'tiny' indexed with tiny random Hugging Face models (ViT, BERT, CLIP) saved to
    a temp dir and loaded through the real `hf:` path: real text and image queries, stored word
    attributions and explanations, offline. Read only."""
    from tests.unit._tiny_models import save_tiny_bert, save_tiny_clip, save_tiny_vit
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    models = tmp_path_factory.mktemp("models")
    spaces = [
        SpaceRequest("image", f"hf:{save_tiny_vit(models / 'vit')}"),
        SpaceRequest("text", f"hf:{save_tiny_bert(models / 'bert')}"),
        SpaceRequest("joint", f"hf:{save_tiny_clip(models / 'clip')}"),
    ]
    root = tmp_path_factory.mktemp("tiny-models") / "bundles"
    options = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                           attribution_method="integrated_gradients",
                           attribution_steps=TINY_MODEL_ATTRIBUTION_STEPS, **FAST_MAPS)
    build_bundle(f"table:{tiny_catalogue}", root, "tiny", spaces, options)
    return root
