"""The GPU path without a GPU: a fake faiss GPU API records what the build and save ask of it.

With GPUs, IVF k-means runs on a flat index spread over them while the IVF index stays on the
CPU; a GPU-resident index is copied back to the CPU before it is written; loading moves a Flat or
IVF index to the GPUs. The fakes return CPU indexes, so results must equal a CPU-only build."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from vitrina.indexer.index import VectorIndex, build_index
from vitrina.indexer.index.synthetic import ClusteredSphere


class FakeGpus:
    def __init__(self, monkeypatch, count: int = 2):
        self.to_gpu: list[faiss.Index] = []
        self.to_cpu: list[object] = []
        monkeypatch.setattr(faiss, "get_num_gpus", lambda: count)
        monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", self._cpu_to_all_gpus, raising=False)
        monkeypatch.setattr(faiss, "index_gpu_to_cpu", self._gpu_to_cpu, raising=False)

    def _cpu_to_all_gpus(self, index):
        self.to_gpu.append(index)
        return index

    def _gpu_to_cpu(self, index):
        self.to_cpu.append(index)
        return index.cpu_index


class GpuIndexStub:
    """Stands for a faiss.GpuIndex*: only its type name and the CPU index it copies back to matter."""

    def __init__(self, cpu_index: faiss.Index):
        self.cpu_index = cpu_index


@pytest.fixture(scope="module")
def vectors():
    return ClusteredSphere(32, n_clusters=20, seed=1).sample(4000, seed=2)


def test_ivf_centroids_train_on_the_gpus_and_the_result_equals_a_cpu_build(vectors, monkeypatch, tmp_path):
    cpu_index, cpu_info = build_index(vectors, spec="IVF32,Flat", target_recall=0.9)
    gpus = FakeGpus(monkeypatch)
    gpu_index, gpu_info = build_index(vectors, spec="IVF32,Flat", target_recall=0.9)
    [clustering] = gpus.to_gpu
    assert isinstance(clustering, faiss.IndexFlat) and clustering.d == 32
    assert clustering.metric_type == faiss.METRIC_INNER_PRODUCT
    assert faiss.try_extract_index_ivf(gpu_index.index).clustering_index is None  # not kept past training
    assert gpu_info.search_params == cpu_info.search_params and gpu_info.recall_at_10 == cpu_info.recall_at_10
    queries = vectors[:50]
    np.testing.assert_array_equal(gpu_index.search(queries, 10)[1], cpu_index.search(queries, 10)[1])
    gpu_index.save(tmp_path / "index.faiss")
    assert not gpus.to_cpu  # already a CPU index: nothing to copy back
    assert type(faiss.read_index(str(tmp_path / "index.faiss"))).__name__ == "IndexIVFFlat"


def test_hnsw_and_flat_builds_never_ask_for_a_gpu(vectors, monkeypatch):
    gpus = FakeGpus(monkeypatch)
    build_index(vectors[:500], spec="HNSW16", target_recall=0.9)
    build_index(vectors[:500], spec="Flat")
    assert gpus.to_gpu == []


def test_a_gpu_index_is_copied_back_to_cpu_before_it_is_written(vectors, monkeypatch, tmp_path):
    built, info = build_index(vectors[:500], spec="Flat")
    gpus = FakeGpus(monkeypatch)
    built.index = GpuIndexStub(built.index)
    built.save(tmp_path / "index.faiss")
    assert len(gpus.to_cpu) == 1
    loaded = VectorIndex.load(tmp_path / "index.faiss", info)  # and loading moves it to the GPUs
    assert len(gpus.to_gpu) == 1 and loaded.ntotal == 500


def test_without_gpus_nothing_moves(vectors, monkeypatch):
    gpus = FakeGpus(monkeypatch, count=0)
    build_index(vectors, spec="IVF32,Flat", target_recall=0.9)
    assert gpus.to_gpu == [] and gpus.to_cpu == []
