"""`vitrina index build --engine ray` on a real local Ray cluster gives bit-identical vectors to
a local build of the same openclipart subset, with the real encoders. The Ray build runs as its
own process under a hard timeout; Ray's processes are found by their session folder and must all
be gone when it ends. (docs/scaling.md records the same check on 400 and 1,000 items.)"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.integration.conftest import OPENCLIPART

TIMEOUT_S = 420
# Two chunks of 24 (--chunk-size), so a chunk boundary falls inside the image batches of 16.
LIMIT, CHUNK, BATCH = 48, 24, 16
SPACES = ("image=builtin:efficientnet-lite0", "text=builtin:minilm-l6")


def _processes_using(folder: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if folder.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def ray_temp():
    # Short: Ray puts Unix sockets under it, and socket paths are limited to 107 bytes.
    folder = tempfile.mkdtemp(prefix="vray", dir="/tmp")
    yield folder
    leftovers = _processes_using(folder)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    assert not leftovers, f"Ray processes outlived the build: {leftovers}"


def _local_build(out: Path) -> Path:
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    options = BuildOptions(limit=LIMIT, chunk_size=CHUNK, batch_size=BATCH, projections=("pca",),
                           clusterings=("kmeans",), neighbours_k=0, attribution_steps=0, progress=False)
    return build_bundle(f"openclipart:{OPENCLIPART}", out, "oc", [SpaceRequest.parse(s) for s in SPACES],
                        options).paths.root


def test_ray_build_gives_the_local_builds_vectors(tmp_path, ray_temp):
    if not (OPENCLIPART / "png").is_dir():
        pytest.skip("needs Debian openclipart-png + openclipart-svg")
    local = _local_build(tmp_path / "local")
    command = [
        str(Path(sys.executable).parent / "vitrina"), "index", "build", "--catalogue", f"openclipart:{OPENCLIPART}",
        "--out", str(tmp_path / "ray"), "--collection", "oc", "--limit", str(LIMIT),
        "--chunk-size", str(CHUNK), "--batch-size", str(BATCH),
        *[arg for spec in SPACES for arg in ("--space", spec)], "--engine", "ray", "--ray-actors", "1",
        # Maps and neighbours do not touch the vectors: the cheapest ones keep the test short.
        "--projection", "pca", "--clustering", "kmeans", "--neighbours-k", "0", "--attribution-steps", "0",
        "--no-progress",
    ]
    env = {**os.environ, "RAY_TMPDIR": ray_temp, "HF_HUB_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the Ray build ran past {TIMEOUT_S} s:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]
    assert _processes_using(ray_temp) == [], "ray.shutdown() left processes behind"

    (built,) = (tmp_path / "ray" / "oc" / "versions").iterdir()
    assert built.name.split("-")[-1] == local.name.split("-")[-1]  # the same build key
    for space in ("image", "text"):
        ours = pq.read_table(built / "spaces" / space / "embeddings.parquet")
        theirs = pq.read_table(local / "spaces" / space / "embeddings.parquet")
        assert ours.num_rows >= LIMIT - 3
        assert ours.equals(theirs), f"{space}: the Ray build's vectors differ from the local build's"
    assert '"engine": "ray"' in output
