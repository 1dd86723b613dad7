"""Fixtures shared by the projection tests (test_projection*.py): clustered vectors and the maps fitted on them."""
from __future__ import annotations

import numpy as np
import pytest

from tests.unit.indexer._projection_helpers import (
    CLUSTERS,
    PER_CLUSTER,
    GlobalState,
    Run,
    Space,
    clusters,
    fit_place_refit,
    item_ids,
)
from vitrina.indexer.maps import Projection, project


@pytest.fixture(scope="module")
def one_thread():
    """Run numba and OpenMP single-threaded here, and put the counts back afterwards.

    On a small, busy machine their spinning worker threads made t-SNE on 160 points take
    20 s instead of 0.3 s; one thread also makes results independent of the core count.
    """
    import numba
    from threadpoolctl import threadpool_limits

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(numba_threads)


@pytest.fixture(scope="module")
def space() -> Space:
    vectors, labels = clusters(np.random.default_rng(0), CLUSTERS, PER_CLUSTER)
    return Space(vectors, labels, item_ids(len(vectors)))


# UMAP JIT-compiles for tens of seconds on first use, so it runs only in the module-scoped
# `umap_run` fixture; everything else that can runs on PCA.
@pytest.fixture(scope="module")
def umap_run(space) -> Run:
    return fit_place_refit(space, "umap")


@pytest.fixture(scope="module")
def pca_run(space) -> Run:
    return fit_place_refit(space, "pca")


@pytest.fixture(scope="module")
def small() -> Space:
    # t-SNE and PaCMAP are slow and have no transform: a small set is enough to show they separate.
    vectors, labels = clusters(np.random.default_rng(1), 4, 40)
    return Space(vectors, labels, item_ids(len(vectors)))


@pytest.fixture(scope="module")
def small_maps(small_run) -> dict[str, Projection]:
    return small_run[0]


@pytest.fixture(scope="module")
def pacmap_global_state(small_run) -> GlobalState:
    return small_run[1]


@pytest.fixture(scope="module")
def small_run(small) -> tuple[dict[str, Projection], GlobalState]:
    # PaCMAP runs once (a second run costs seconds more), so it also records what it did to
    # process-wide state: seeded PaCMAP reseeds numpy's global RNG and pins FAISS to 1 thread.
    import faiss

    threads = faiss.omp_get_max_threads()
    np.random.seed(123)
    draw_before = float(np.random.rand())
    np.random.seed(123)
    pacmap_map = project(small.vectors, "pacmap")
    state = GlobalState(draw_before, float(np.random.rand()), threads, faiss.omp_get_max_threads())
    return {"tsne": project(small.vectors, "tsne", max_iter=500), "pacmap": pacmap_map}, state
