"""`vitrina demo` end to end on a real openclipart subset, with the trained joint space.

Real encoders, real training: build image+text, `train align` on the version's own
vectors, index `joint` (its image vectors projected from the stored image vectors,
not decoded again), evaluate, and a second run that changes nothing.
"""
import json
from pathlib import Path

import pytest

from vitrina.schemas import Manifest

OPENCLIPART = Path("/usr/share/openclipart")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (OPENCLIPART / "png").is_dir(), reason="needs Debian openclipart-png + openclipart-svg"),
]

# Held-out text -> image recall@10 against every picture of the version (measured 0.253 when written,
# 80 held-out texts, 399 pictures, chance 0.025).
HELDOUT_RECALL_FLOOR = 0.18


def _current(root: Path) -> tuple[str, Path]:
    coll = root / "bundles" / "oc"
    version = (coll / "CURRENT").read_text().strip()
    return version, coll / "versions" / version


def test_demo_serves_a_joint_space_projected_from_stored_image_vectors(demo_run):
    root, _ = demo_run
    _, path = _current(root)
    manifest = Manifest.read(path / "manifest.json")
    assert set(manifest.spaces) == {"image", "text", "joint"}
    assert manifest.spaces["joint"].encoders.keys() == {"image", "text"}
    assert manifest.spaces["joint"].rows == manifest.spaces["image"].rows
    report = json.loads((path / "reports" / "build.json").read_text())["spaces"]
    assert report["joint"]["vectors_encoded"] == 0
    assert report["joint"]["vectors_projected"] == manifest.spaces["joint"].rows
    assert report["image"]["vectors_reused"] == manifest.spaces["image"].rows
    # Training the joint space changed no image or text vector: their maps are the parent's, not refitted.
    for space in ("image", "text"):
        assert report[space]["maps"]["reused_from"] == manifest.parent and report[space]["maps"]["seconds"] == 0.0
    assert "reused_from" not in report["joint"]["maps"]


def test_eval_report_holds_heldout_cross_modal_recall(demo_run):
    root, _ = demo_run
    _, path = _current(root)
    metrics = json.loads((path / "reports" / "eval.json").read_text())["metrics"]
    heldout_ids = (root / "ckpt" / "heldout_ids.txt").read_text().split()
    assert metrics["joint/cross_modal_heldout_text_to_image_queries"] <= len(heldout_ids)
    recall = metrics["joint/cross_modal_heldout_text_to_image_recall@10"]
    gallery = metrics["joint/cross_modal_heldout_image_gallery"]
    print(f"held-out text->image recall@10 over {gallery:.0f} pictures: {recall:.3f} (chance {10 / gallery:.3f})")
    assert recall >= HELDOUT_RECALL_FLOOR
    assert recall >= 3 * 10 / gallery


def test_rerunning_the_demo_changes_nothing(demo_run):
    from vitrina.demo import demo

    root, kwargs = demo_run
    before = _current(root)[0]
    ckpt_mtime = (root / "ckpt" / "heads.safetensors").stat().st_mtime
    demo(**kwargs)
    assert _current(root)[0] == before
    assert (root / "ckpt" / "heads.safetensors").stat().st_mtime == ckpt_mtime


def test_the_demo_encodes_on_onnx_runtime_with_torchs_vectors(demo_run):
    import numpy as np
    import pyarrow.parquet as pq

    from vitrina.training.encoders import create_encoder
    from vitrina.training.images import load_image, to_rgb

    root, _ = demo_run
    _, path = _current(root)
    manifest = Manifest.read(path / "manifest.json")
    assert manifest.build["options"]["runtime"] == "onnx"
    items = {row["id"]: row for row in pq.read_table(path / "items.parquet").to_pylist()}
    for space, modality in (("text", "text"), ("image", "image")):
        table = pq.read_table(path / "spaces" / space / "embeddings.parquet").slice(0, 24).to_pylist()
        torch_encoder = create_encoder(manifest.spaces[space].encoders[modality].spec, modality=modality, device="cpu")
        assert torch_encoder.fingerprint == table[0]["model_fingerprint"]
        if modality == "text":
            expected = torch_encoder.encode([items[r["id"]]["text"] or items[r["id"]]["title"] for r in table])
        else:
            expected = torch_encoder.encode([to_rgb(load_image(items[r["id"]]["image_ref"])) for r in table])
        stored = np.asarray([r["vector"] for r in table], dtype=np.float32)
        assert np.min(np.sum(stored * expected, axis=1)) >= 0.9999, space
