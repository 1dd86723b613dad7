"""Optional GPU placement: the same index object on CPU-only machines.

faiss-gpu is a drop-in replacement for faiss-cpu (`pip install vitrina[gpu]`),
so this is a runtime check, not an import-time one.
"""
from __future__ import annotations

import logging

import faiss

from vitrina.indexer.index._faiss_params import index_kind

__all__ = ["maybe_to_gpu", "gpu_count", "gpu_clustering_index"]

log = logging.getLogger(__name__)


def gpu_count() -> int:
    # CPU builds of faiss may lack the symbol entirely in old versions.
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


def maybe_to_gpu(index: faiss.Index) -> faiss.Index:
    """Copy a Flat or IVF index to all GPUs when any exist; otherwise return `index` itself.

    HNSW stays on CPU: FAISS has no GPU HNSW, and its graph search is latency
    bound anyway. A copy that FAISS refuses (e.g. an unsupported quantiser)
    falls back to the CPU index with a warning rather than failing a load.
    """
    if gpu_count() == 0 or index_kind(index) == "hnsw":
        return index
    try:
        return faiss.index_cpu_to_all_gpus(index)
    except (RuntimeError, AttributeError) as exc:
        log.warning("index stays on CPU: FAISS could not copy it to GPU (%s)", exc)
        return index


def gpu_clustering_index(dim: int, metric: int) -> faiss.Index | None:
    """A flat index spread over all GPUs for an IVF index's k-means, or None without GPUs.

    Assigning training points to centroids is nearly all of an IVF build's training time, and
    FAISS runs it on whatever index is set as the IVF's `clustering_index`. The IVF index itself
    stays on the CPU, so what the build writes is a CPU index and serves on any machine.
    """
    if gpu_count() == 0:
        return None
    try:
        return faiss.index_cpu_to_all_gpus(faiss.IndexFlat(dim, metric))
    except (RuntimeError, AttributeError) as exc:
        log.warning("IVF training stays on CPU: FAISS could not use the GPU (%s)", exc)
        return None
