"""The one tunable knob per index family, and FAISS SearchParameters built from it.

Tuning (build.py) and serving (vector_index.py) both go through here, so the
parameters measured at build time are exactly the ones applied at query time.
"""
from __future__ import annotations

import faiss

# search_params keys that change search behaviour; others in IndexInfo.search_params are notes.
TUNABLE = {"hnsw": "efSearch", "ivf": "nprobe"}
# Indexes that store lossy codes (SQ, PQ) fetch `rerank` x k candidates and re-score them exactly
# from the stored vectors. 10 x k fetches 100 for k = 10: a true top-10 member that PQ ranks
# below 100th is rare, and 100 rows of 384 floats are 150 kB to read from the memory-mapped
# store, a few pages each.
RERANK = "rerank"
RERANK_FACTOR = 10
EF_SEARCH_START = 16
EF_SEARCH_MAX = 4096


def inner_index(index: faiss.Index) -> faiss.Index:
    # OPQ/PCA prefixes wrap the real index in an IndexPreTransform; build_index
    # wraps HNSW in an IndexIDMap to keep ids = row numbers.
    while isinstance(index, (faiss.IndexPreTransform, faiss.IndexIDMap, faiss.IndexIDMap2)):
        index = faiss.downcast_index(index.index)
    return index


def apply_to_index(index: faiss.Index, params: dict) -> None:
    """Also store the knob on the index itself, for any code path that passes no SearchParameters."""
    inner, kind = inner_index(index), index_kind(index)
    if kind == "hnsw" and "efSearch" in params:
        inner.hnsw.efSearch = int(params["efSearch"])
    elif kind == "ivf" and "nprobe" in params:
        inner.nprobe = int(params["nprobe"])


def stores_exact_vectors(index: faiss.Index) -> bool:
    """Whether the index scores with the vectors themselves (Flat, IVF,Flat, HNSW,Flat), not codes."""
    inner = inner_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        return isinstance(faiss.downcast_index(inner.storage), faiss.IndexFlat)
    name = type(inner).__name__  # GPU classes are not subclasses of the CPU ones
    return isinstance(inner, (faiss.IndexFlat, faiss.IndexIVFFlat)) or (name.startswith("Gpu") and "Flat" in name)


def index_kind(index: faiss.Index) -> str:
    """'hnsw', 'ivf' or 'flat' (anything exhaustive: Flat, SQ8, PQ)."""
    inner = inner_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    # GPU IVF classes are not IndexIVF subclasses but expose nprobe.
    if isinstance(inner, faiss.IndexIVF) or hasattr(inner, "nprobe"):
        return "ivf"
    return "flat"


def tuning_grid(index: faiss.Index) -> tuple[str, list[int]] | None:
    """(parameter name, increasing values to try) or None when search is exhaustive."""
    kind = index_kind(index)
    if kind == "hnsw":
        # efSearch beyond ntotal cannot find more; stop at the first value that covers it.
        values, ef = [], EF_SEARCH_START
        while ef <= EF_SEARCH_MAX:
            values.append(ef)
            if ef >= index.ntotal:
                break
            ef *= 2
        return "efSearch", values
    if kind == "ivf":
        nlist = inner_index(index).nlist
        values, p = [], 1
        while p < nlist:
            values.append(p)
            p *= 2
        return "nprobe", values + [nlist]
    return None


def search_parameters(
    index: faiss.Index, params: dict, sel: faiss.IDSelector | None = None, allowed_fraction: float = 1.0
) -> faiss.SearchParameters | None:
    """SearchParameters carrying the tuned knob and an optional selector.

    A params object always replaces the index's own settings (SearchParametersIVF
    defaults to nprobe=1), so the tuned value is set explicitly every time.
    With a selector that admits `allowed_fraction` of the rows, the knob is
    divided by that fraction (capped), so the search gathers about as many
    admissible candidates as the unfiltered search it was tuned on. For IVF
    that costs little (excluded rows are skipped before any distance); an HNSW
    walk pays for every node it visits, which is why small subsets are scored
    exactly instead (vector_index.SUBSET_EXACT_*).
    """
    kind = index_kind(index)
    scale = 1.0 / max(allowed_fraction, 1e-6)
    if kind == "hnsw":
        p = faiss.SearchParametersHNSW()
        ef = int(params.get("efSearch", inner_index(index).hnsw.efSearch))
        p.efSearch = int(min(max(ef, EF_SEARCH_MAX), max(ef, round(ef * scale))))
    elif kind == "ivf":
        p = faiss.SearchParametersIVF()
        nprobe = int(params.get("nprobe", inner_index(index).nprobe))
        nlist = getattr(inner_index(index), "nlist", nprobe)  # GPU IVF wrappers may not expose it
        p.nprobe = int(min(nlist, max(nprobe, round(nprobe * scale))))
    elif sel is not None:
        p = faiss.SearchParameters()
    else:
        return None
    if sel is not None:
        p.sel = sel
    if isinstance(index, faiss.IndexPreTransform):
        outer = faiss.SearchParametersPreTransform()
        outer.index_params = p
        outer._keep = p  # the SWIG pointer does not keep the Python object alive
        return outer
    return p
