"""Every ranking the build stores or the server answers comes out the same whatever BLAS
kernels and thread count the machine has.

The build runs in subprocesses with OpenBLAS forced to another architecture's kernels
(OPENBLAS_CORETYPE; Nehalem has no FMA, so its products round differently from the AVX2
ones most machines pick) and with one thread instead of several; both change the last bits
of every matrix product. On the tiny fixture's tie-heavy vectors (identical colour
histograms, texts hashing alike) that used to reorder cluster members, which is how a
bundle built on one processor disagreed with a server on another.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeImageEncoder, FakeTextEncoder

ROOT = Path(__file__).resolve().parents[3]
# The environment each run starts from: the machine's own choice of kernel and threads.
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
VARIANTS = {
    "one thread": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    # Kernel names are per architecture; Nehalem runs on every x86-64 processor since 2008.
    "Nehalem kernels": {"OPENBLAS_CORETYPE": "Nehalem"},
}


@pytest.fixture(scope="module")
def fixture_vectors(tmp_path_factory, tiny_catalogue) -> list[Path]:
    import csv

    from PIL import Image

    with open(tiny_catalogue, newline="") as fh:
        rows = list(csv.DictReader(fh))
    image = FakeImageEncoder()
    pixels = np.stack([image.preprocess(Image.open(tiny_catalogue.parent / r["image"])) for r in rows])
    text = FakeTextEncoder().encode([f"{r['title']} {r['description']}" for r in rows])
    folder = tmp_path_factory.mktemp("vectors")
    paths = []
    for name, vectors in (("image", image.encode_pixels(pixels)), ("text", text)):
        paths.append(folder / f"{name}.npy")
        np.save(paths[-1], vectors.astype(np.float32))
    return paths


def orderings(out: Path, vectors: list[Path], **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    done = subprocess.run([sys.executable, "-m", "tests.unit._orderings", str(out), *map(str, vectors)],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fixture_vectors) -> dict:
    return orderings(tmp_path_factory.mktemp("default"), fixture_vectors)


def test_the_fixture_is_tie_heavy(fixture_vectors):
    image = np.load(fixture_vectors[0])
    assert len(np.unique(image, axis=0)) <= 0.75 * len(image)  # exact twins


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_stored_and_served_orders_do_not_depend_on_blas_kernels_or_threads(
    tmp_path, fixture_vectors, reference, variant
):
    if "OPENBLAS_CORETYPE" in VARIANTS[variant] and platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("OpenBLAS kernel names are per architecture; Nehalem is an x86-64 one")
    got = orderings(tmp_path, fixture_vectors, **VARIANTS[variant])
    for space, expected in reference.items():
        assert set(expected["member_ranks"]) == set(expected["labels"]) and expected["member_ranks"]
        for name, value in expected.items():
            assert got[space][name] == value, (space, name)
