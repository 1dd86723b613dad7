"""get_optimal_index_specs: a pure ranking, checked over a grid of sizes and budgets."""
from __future__ import annotations

import re

import faiss
import pytest

from vitrina.indexer.index.choice import (
    COMPRESSED_MIN_N,
    FLAT_MAX_N,
    FLAT_MAX_WORK,
    HNSW_MAX_N,
    estimate_index_bytes,
    get_optimal_index_specs,
    ivf_nlist,
    pq_subquantizers,
)

N_GRID = [1, 10, 100, 1_000, 9_999, 19_999, 20_000, 50_000, 200_000, 999_999, 1_000_000,
          5_000_000, 9_999_999, 10_000_000, 100_000_000, 2_000_000_000]
DIMS = [8, 64, 100, 384, 768, 1024]


def family(spec: str) -> str:
    """Spec with numbers and the coarse quantizer stripped: 'IVF1024_HNSW32,Flat' -> 'IVF,Flat'."""
    return re.sub(r"\d+", "", re.sub(r"_HNSW\d+", "", spec))


# Preference order of the top choice as n grows, without a memory budget.
TIER = {"Flat": 0, "HNSW": 1, "IVF,Flat": 2, "IVF,SQ": 3}


@pytest.mark.parametrize("dim", DIMS)
def test_top_choice_moves_monotonically_towards_scalable_indexes(dim):
    tiers = [TIER[family(get_optimal_index_specs(n, dim)[0])] for n in N_GRID]
    assert tiers == sorted(tiers)
    assert tiers[0] == 0 and tiers[-1] == 3


def test_thresholds_are_where_the_docstring_says():
    assert get_optimal_index_specs(FLAT_MAX_N - 1, 384)[0] == "Flat"
    assert get_optimal_index_specs(FLAT_MAX_N, 384)[0] == "HNSW32"
    assert get_optimal_index_specs(FLAT_MAX_N, 64)[0] == "HNSW32"
    assert get_optimal_index_specs(FLAT_MAX_WORK // 768, 768)[0] == "HNSW32"
    # What exact search costs is n x dim: the demo's 8,103 images at 1280-d get a graph.
    assert get_optimal_index_specs(8_103, 1280)[0] == "HNSW32" and get_optimal_index_specs(8_103, 384)[0] == "Flat"
    assert get_optimal_index_specs(HNSW_MAX_N - 1, 384)[0] == "HNSW32"
    # Past a million vectors the lists are found through an HNSW graph over the centroids.
    assert get_optimal_index_specs(HNSW_MAX_N - 1, 384)[1] == f"IVF{ivf_nlist(HNSW_MAX_N - 1)},Flat"
    assert get_optimal_index_specs(HNSW_MAX_N, 384)[0] == f"IVF{ivf_nlist(HNSW_MAX_N)}_HNSW32,Flat"
    assert get_optimal_index_specs(COMPRESSED_MIN_N, 384)[0] == f"IVF{ivf_nlist(COMPRESSED_MIN_N)}_HNSW32,SQ8"


@pytest.mark.parametrize("dim, rotated", [(64, False), (255, False), (256, True), (1280, True)])
def test_product_codes_are_rotated_by_opq_only_at_high_dimension(dim, rotated):
    (pq,) = [s for s in get_optimal_index_specs(2_000_000, dim) if "PQ" in s]
    assert pq.startswith("OPQ") is rotated and pq.endswith("np")  # no polysemous training
    faiss.index_factory(dim, pq, faiss.METRIC_INNER_PRODUCT)  # FAISS accepts it
    assert estimate_index_bytes(pq, 2_000_000, dim) < 2_000_000 * dim  # under a byte a dimension


@pytest.mark.parametrize("n", N_GRID)
def test_every_unbudgeted_list_offers_exact_flat_fallback(n):
    assert "Flat" in get_optimal_index_specs(n, 128)


def test_nlist_is_power_of_two_near_4_sqrt_n_and_monotone():
    previous = 0
    for n in N_GRID:
        nlist = ivf_nlist(n)
        assert nlist & (nlist - 1) == 0, nlist
        assert nlist >= previous
        assert nlist == 1 or nlist * 39 <= n  # enough k-means training points per list
        if n >= 100_000:
            assert 4 * n**0.5 / 2 <= nlist <= 4 * n**0.5 * 2
        previous = nlist


@pytest.mark.parametrize("dim", DIMS)
def test_pq_code_size_divides_dim(dim):
    m = pq_subquantizers(dim)
    assert dim % m == 0 and m <= dim


@pytest.mark.parametrize("n", [30_000, 2_000_000, 20_000_000])
def test_specs_are_valid_factory_strings(n):
    # Constructing (not training) an index is instant and validates the string.
    for spec in get_optimal_index_specs(n, 64):
        index = faiss.index_factory(64, spec, faiss.METRIC_INNER_PRODUCT)
        assert index.d == 64


@pytest.mark.parametrize("dim", [64, 384])
@pytest.mark.parametrize("n", N_GRID[3:])
@pytest.mark.parametrize("bytes_per_vector", [80, 200, 500, 1_600, 2_500, 10_000])
def test_memory_budget_is_respected(n, dim, bytes_per_vector):
    budget = n * bytes_per_vector
    unbudgeted = get_optimal_index_specs(n, dim)
    try:
        specs = get_optimal_index_specs(n, dim, memory_budget_bytes=budget)
    except ValueError as exc:
        assert "memory_budget_bytes" in str(exc)
        assert all(estimate_index_bytes(s, n, dim) > budget for s in unbudgeted)
        return
    assert specs and all(estimate_index_bytes(s, n, dim) <= budget for s in specs)
    # The budget only removes entries; it never reorders the ranking.
    assert specs == [s for s in unbudgeted if s in specs]
    assert set(unbudgeted) - set(specs) == {s for s in unbudgeted if estimate_index_bytes(s, n, dim) > budget}


@pytest.mark.parametrize("budget", [10**8, 10**9, 10**10])
def test_fixed_budget_drops_families_for_good_as_n_grows(budget):
    dropped: set[str] = set()
    for n in [20_000, 50_000, 100_000, 300_000, 999_999]:
        try:
            families = {family(s) for s in get_optimal_index_specs(n, 384, memory_budget_bytes=budget)}
        except ValueError:
            families = set()
        assert not (families & dropped), (n, families & dropped)
        all_families = {family(s) for s in get_optimal_index_specs(n, 384)}
        dropped |= all_families - families


def test_budget_too_small_names_the_parameter():
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        get_optimal_index_specs(1_000_000, 384, memory_budget_bytes=1_000)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", None])
def test_invalid_n_is_named(bad):
    with pytest.raises(ValueError, match=r"^n must"):
        get_optimal_index_specs(bad, 64)


@pytest.mark.parametrize("bad", [0, -3, 2.0, False, "64"])
def test_invalid_dim_is_named(bad):
    with pytest.raises(ValueError, match=r"^dim must"):
        get_optimal_index_specs(1000, bad)


@pytest.mark.parametrize("bad", [0, -5, 1e9])
def test_invalid_budget_is_named(bad):
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        get_optimal_index_specs(1000, 64, memory_budget_bytes=bad)


def test_estimates():
    assert estimate_index_bytes("Flat", 1000, 100) == 400_000
    assert estimate_index_bytes("HNSW32", 1000, 100) > estimate_index_bytes("Flat", 1000, 100)
    assert estimate_index_bytes("IVF64,SQ8", 1000, 100) < estimate_index_bytes("IVF64,Flat", 1000, 100)
    with pytest.raises(ValueError, match="spec"):
        estimate_index_bytes("LSH", 1000, 100)


def test_is_pure():
    assert get_optimal_index_specs(123_456, 384, 10**9) == get_optimal_index_specs(123_456, 384, 10**9)
