"""FAISS index choice, build and tuning, and filtered search over the built index.

    specs = get_optimal_index_specs(n, dim)          # ranked factory strings
    index, info = build_index(vectors)               # chosen, trained, tuned; info -> manifest
    scores, rows = index.search(queries, k=10, allowed=mask)
    index.save(path); VectorIndex.load(path, info, vectors=vectors)
"""
from vitrina.indexer.index.build import build_index
from vitrina.indexer.index.choice import estimate_index_bytes, get_optimal_index_specs, ivf_nlist
from vitrina.indexer.index.exact import exact_search
from vitrina.indexer.index.gpu import maybe_to_gpu
from vitrina.indexer.index.metrics import recall_at_k
from vitrina.indexer.index.vector_index import VectorIndex

__all__ = [
    "VectorIndex",
    "build_index",
    "estimate_index_bytes",
    "exact_search",
    "get_optimal_index_specs",
    "ivf_nlist",
    "maybe_to_gpu",
    "recall_at_k",
]
