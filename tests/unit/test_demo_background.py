"""`vitrina demo` serves after its first build and finishes the joint space in the background."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import vitrina.demo as demo_module
import vitrina.indexer.build as build_module
import vitrina.search_api.cli as serve_module


class FakeChild:
    def __init__(self, argv, **kwargs):
        self.argv, self.terminated = argv, False

    def poll(self):
        return None

    def terminate(self):
        self.terminated = True


@pytest.fixture()
def recorded(tmp_path, monkeypatch):
    calls = {"builds": [], "serve": None, "children": [], "trained": 0}

    def fake_build(catalogue, out, collection, spaces, options):
        calls["builds"].append([s.name for s in spaces])
        calls.setdefault("options", []).append(options)
        (out / collection).mkdir(parents=True, exist_ok=True)
        return SimpleNamespace(reused=False, version="v1", report={"spaces": {}}, paths=SimpleNamespace(root=tmp_path))

    def fake_serve(**kwargs):
        # While the server runs, the background child is alive and nobody trained in this process.
        assert len(calls["children"]) == 1 and not calls["children"][0].terminated
        calls["serve"] = kwargs

    def fake_popen(argv, **kwargs):
        calls["children"].append(FakeChild(argv, **kwargs))
        return calls["children"][-1]

    monkeypatch.setattr(build_module, "build_bundle", fake_build)
    monkeypatch.setattr(serve_module, "serve", fake_serve)
    monkeypatch.setattr(demo_module.subprocess, "Popen", fake_popen)
    monkeypatch.setattr(demo_module, "_usable_checkpoint", lambda path: False)
    monkeypatch.setattr(demo_module, "_train_joint", lambda *a: calls.__setitem__("trained", calls["trained"] + 1))
    (tmp_path / "openclipart" / "png").mkdir(parents=True)
    return calls


def _demo(tmp_path, **kwargs):
    demo_module.demo(bundles=tmp_path / "bundles", collection="oc", openclipart_root=tmp_path / "openclipart",
                     limit=50, checkpoint=tmp_path / "ckpt", port=0, grpc_port=0, **kwargs)


def test_first_run_serves_after_the_first_build_and_trains_in_the_background(tmp_path, recorded):
    _demo(tmp_path)
    assert recorded["builds"] == [["image", "text"]] and recorded["trained"] == 0
    # The first version is the quick one: PCA maps, no precomputed hover words.
    (quick,) = recorded["options"]
    assert quick.projections == demo_module.QUICK_PROJECTIONS and quick.attribution_items == 0
    assert quick.runtime == "onnx"
    (child,) = recorded["children"]
    argv = child.argv
    assert argv[1:3] == ["demo", "--no-serve"]
    for flag, value in [("--limit", "50"), ("--runtime", "onnx"), ("--collection", "oc"),
                        ("--checkpoint", str(tmp_path / "ckpt"))]:
        assert argv[argv.index(flag) + 1] == value
    assert "--eval" in argv and "--no-retrain" in argv
    # The server follows CURRENT, so the joint version shows up without a restart; stopping the
    # server stops the background build.
    assert recorded["serve"]["watch_current"] == demo_module.BACKGROUND_WATCH_S
    assert recorded["serve"]["runtime"] == "onnx"
    assert child.terminated


def test_without_serving_everything_runs_in_the_foreground(tmp_path, recorded, monkeypatch):
    monkeypatch.setattr(demo_module, "_evaluate", lambda *a: None)
    _demo(tmp_path, serve_after=False)
    assert recorded["builds"] == [["image", "text"], ["image", "text", "joint"]]
    assert recorded["trained"] == 1 and recorded["children"] == [] and recorded["serve"] is None
    assert all("umap" in o.projections and o.attribution_items > 0 for o in recorded["options"])
