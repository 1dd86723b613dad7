"""The Ray engine's driver side against a stand-in `ray` module that runs the actor class in
this process: what it asks Ray for, and that a build through it commits the same version."""
from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from tqdm.auto import tqdm

from tests.conftest import build_tiny_bundle
from tests.fakes import FakeFactory, FakeImageEncoder
from vitrina.indexer.bundle.chunks import ChunkStore
from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.embed import EmbedSettings
from vitrina.indexer.engines.ray_data import RayEngine


class StandInDataset:
    def __init__(self, ray: "StandInRay", rows: list[dict]):
        self.ray, self.rows = ray, rows

    def map_batches(self, fn, *, fn_constructor_args, batch_size, batch_format, compute, num_cpus, num_gpus):
        self.ray.pools.append({"size": compute.size, "num_cpus": num_cpus, "num_gpus": num_gpus,
                               "batch_size": batch_size, "recipe": fn_constructor_args[0]})
        worker = fn(*fn_constructor_args)
        out = []
        for row in self.rows[self.ray.drop:]:
            counts = worker({"chunk": np.array([row["chunk"]]), "items": np.array([row["items"]])})
            out.append({key: value[0] for key, value in counts.items()})
        return StandInDataset(self.ray, out)

    def iter_rows(self):
        return iter(self.rows)


class StandInRay(types.ModuleType):
    def __init__(self, gpus: int = 0, drop: int = 0):
        super().__init__("ray")
        self.__spec__ = importlib.machinery.ModuleSpec("ray", None)
        self.gpus, self.drop = gpus, drop
        self.inits: list[dict] = []
        self.pools: list[dict] = []
        self.shutdowns = 0
        self._up = False
        context = types.SimpleNamespace(enable_progress_bars=True)
        self.data = types.SimpleNamespace(
            from_items=lambda rows, override_num_blocks: StandInDataset(self, rows),
            ActorPoolStrategy=lambda size: types.SimpleNamespace(size=size),
            DataContext=types.SimpleNamespace(get_current=lambda: context),
        )

    def is_initialized(self):
        return self._up

    def init(self, **kwargs):
        self.inits.append(kwargs)
        self._up = True

    def shutdown(self):
        self.shutdowns += 1
        self._up = False

    def cluster_resources(self):
        return {"CPU": 4.0, **({"GPU": float(self.gpus)} if self.gpus else {})}


@pytest.fixture
def stand_in(monkeypatch):
    def install(**kwargs) -> StandInRay:
        ray = StandInRay(**kwargs)
        monkeypatch.setitem(sys.modules, "ray", ray)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        return ray

    return install


def test_a_ray_build_commits_what_a_local_build_does(tmp_path, tiny_catalogue, stand_in):
    ray = stand_in()
    # Only the vectors matter here: no maps, neighbours or attributions.
    quick = dict(projections=(), clusterings=(), neighbours_k=0, attribution_steps=0)
    local = build_tiny_bundle(tmp_path / "local", tiny_catalogue, **quick)
    remote = build_tiny_bundle(tmp_path / "ray", tiny_catalogue, engine="ray", ray_actors=2, **quick)
    for space in ("image", "text"):
        assert pq.read_table(remote.paths.embeddings(space)).equals(pq.read_table(local.paths.embeddings(space)))
        assert remote.report["spaces"][space]["engine"] == "ray"
        ours, theirs = remote.manifest.spaces[space], local.manifest.spaces[space]
        assert (ours.encoders, ours.rows, ours.index.factory) == (theirs.encoders, theirs.rows, theirs.index.factory)
    assert remote.paths.root.name.endswith(local.paths.root.name[-6:])  # same build key
    threads = torch.get_num_threads()
    # A cluster of its own, with room for Ray Data's tasks beside the two actors; shut down after.
    assert ray.inits == [{"num_cpus": 2 * threads + 2, "include_dashboard": False,
                          "object_store_memory": 256 * 2**20, "logging_level": 30}]
    assert ray.shutdowns == 1
    assert [(p["size"], p["num_cpus"], p["num_gpus"], p["batch_size"]) for p in ray.pools] == [(2, threads, 0, 1)] * 2
    assert all(p["recipe"].threads == threads for p in ray.pools)


def _pending(tiny_catalogue) -> dict[int, list[Item]]:
    images = sorted((tiny_catalogue.parent / "images").iterdir())[:4]
    items = [Item(id=f"i{n}", image_ref=str(path)) for n, path in enumerate(images)]
    return {0: items[:2], 1: items[2:]}


def test_gpus_in_the_cluster_give_each_actor_one(tmp_path, tiny_catalogue, stand_in, monkeypatch):
    ray = stand_in(gpus=2)
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    encoder = FakeImageEncoder()
    engine = RayEngine(FakeFactory(), actors=2)
    with tqdm(disable=True) as bar:
        results = engine(_pending(tiny_catalogue), encoder, ChunkStore(tmp_path, encoder.dim, encoder.fingerprint),
                         EmbedSettings(workers=0), bar)
    engine.close()
    assert sorted(results) == [0, 1] and all(len(r.ids) == 2 for r in results.values())
    assert ray.inits == [{"address": None, "include_dashboard": False, "logging_level": 30}]  # joins $RAY_ADDRESS
    assert (ray.pools[0]["num_gpus"], ray.pools[0]["recipe"].threads) == (1, None)


def test_a_chunk_without_a_part_file_fails_the_build_naming_shared_storage(tmp_path, tiny_catalogue, stand_in):
    stand_in(drop=1)  # as if a worker wrote its part file where the driver cannot see it
    encoder = FakeImageEncoder()
    engine = RayEngine(FakeFactory())
    with tqdm(disable=True) as bar, pytest.raises(RuntimeError, match=r"chunks \[0\].*shared storage"):
        engine(_pending(tiny_catalogue), encoder, ChunkStore(tmp_path, encoder.dim, encoder.fingerprint),
               EmbedSettings(), bar)
    engine.close()
