"""skmm.metrics.top_k: exact, ties by position, bounded memory (skmm/metrics/_blocks.py)."""

import tracemalloc

import numpy as np
import pytest
import sklearn
from sklearn.neighbors import NearestNeighbors

from skmm.metrics import mean_average_precision, paired_ranks, top_k
from skmm.metrics._blocks import iter_top_k


def naive_top_k(Q, G, k):
    """One query at a time: a stable sort of the negated similarities (ties by position)."""
    sim = Q @ G.T
    idx = np.stack([np.argsort(-row, kind="stable")[:k] for row in sim])
    return idx, np.take_along_axis(sim, idx, axis=1)


def unit(Z):
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


@pytest.mark.parametrize("n_gallery", [1, 7, 100, 5000])
@pytest.mark.parametrize("k", [1, 10, 200])
def test_equals_a_stable_sort(n_gallery, k):
    rng = np.random.default_rng(n_gallery + k)
    Q = unit(rng.normal(size=(50, 16)).astype(np.float32))
    G = unit(rng.normal(size=(n_gallery, 16)).astype(np.float32))
    idx, sim = top_k(Q, G, k)
    ref_idx, ref_sim = naive_top_k(Q, G, min(k, n_gallery))
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sim, ref_sim, rtol=1e-6, atol=1e-6)
    assert idx.dtype == np.int64 and sim.dtype == np.float32


@pytest.mark.parametrize("n_gallery, working_memory", [
    (3000, 0.01), (3000, 0.1), (3000, 1), (3000, None),
    (40_000, None), (40_000, 1),  # wide blocks: the bound from the maxima of groups
])
def test_ties_are_broken_by_position_whatever_the_blocks(n_gallery, working_memory):
    # few distinct vectors: every row has long runs of ties, across gallery chunks
    rng = np.random.default_rng(0)
    G = np.eye(4)[rng.integers(0, 4, n_gallery)]
    Q = np.eye(4)[rng.integers(0, 4, 40)] + 0.1 * rng.random((40, 4))
    idx, sim = top_k(Q, G, 25, working_memory=working_memory)
    ref_idx, ref_sim = naive_top_k(Q, G, 25)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sim, ref_sim)


def test_a_sorted_gallery_where_the_bound_of_the_groups_is_loose():
    # similarity falls with the position: the best rows share the first groups
    angles = np.linspace(0, np.pi, 40_000)
    G = np.c_[np.cos(angles), np.sin(angles)].astype(np.float32)
    Q = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    idx, sim = top_k(Q, G, 10)
    ref_idx, ref_sim = naive_top_k(Q, G, 10)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sim, ref_sim)


def test_a_constant_gallery_and_nan_rows():
    G = np.ones((40_000, 3))
    Q = np.ones((5, 3))
    Q[2] = np.nan
    idx, _ = top_k(Q, G, 5)
    np.testing.assert_array_equal(idx[[0, 1, 3, 4]], np.tile(np.arange(5), (4, 1)))
    assert idx.shape == (5, 5)
    G[10] = 2.0  # one better row, then the ties in order
    idx, _ = top_k(Q[:2], G, 3)
    np.testing.assert_array_equal(idx, [[10, 0, 1], [10, 0, 1]])


def test_gallery_chunks_merge_to_the_same_result():
    rng = np.random.default_rng(1)
    Q = rng.normal(size=(64, 8))
    G = rng.normal(size=(20_000, 8))
    full = top_k(Q, G, 10)
    # 0.05 MiB: too small for 16 rows of the whole gallery, so the gallery is chunked
    blocks = list(iter_top_k(Q, G, 10, working_memory=0.05))
    assert len(blocks) > 1
    chunked = top_k(Q, G, 10, working_memory=0.05)
    np.testing.assert_array_equal(chunked[0], full[0])
    # one-row blocks take another BLAS kernel: the same products up to rounding
    np.testing.assert_allclose(chunked[1], full[1], rtol=1e-12)


def test_same_results_as_nearest_neighbors_brute_cosine():
    rng = np.random.default_rng(2)
    Q = unit(rng.normal(size=(200, 32)).astype(np.float32))
    G = unit(rng.normal(size=(3000, 32)).astype(np.float32))
    idx, sim = top_k(Q, G, 10)
    dist, nn_idx = NearestNeighbors(n_neighbors=10, algorithm="brute",
                                    metric="cosine").fit(G).kneighbors(Q)
    np.testing.assert_array_equal(idx, nn_idx)
    np.testing.assert_allclose(sim, 1 - dist, atol=1e-5)


def test_memory_is_bounded_by_the_working_memory():
    rng = np.random.default_rng(3)
    Q = rng.normal(size=(600, 16)).astype(np.float32)
    G = rng.normal(size=(20_000, 16)).astype(np.float32)  # the full matrix: 48 MB
    tracemalloc.start()
    try:
        with sklearn.config_context(working_memory=8):
            top_k(Q, G, 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, peak
    tracemalloc.start()
    try:
        top_k(Q, G, 10, working_memory=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 2**20, peak


def test_no_query_rows_and_integer_input():
    idx, sim = top_k(np.empty((0, 3)), np.eye(3), 2)
    assert idx.shape == (0, 2) == sim.shape
    idx, sim = top_k([[1, 0, 0]], [[0, 1, 0], [2, 0, 0]], 1)
    assert idx.tolist() == [[1]] and sim.tolist() == [[2.0]]


@pytest.mark.parametrize("args, match", [
    ((np.ones((2, 3)), np.ones((4, 3)), 0), "k must be"),
    ((np.ones((2, 3)), np.ones((4, 2)), 1), "3 features but the gallery has 2"),
    ((np.ones(3), np.ones((4, 3)), 1), "queries must be 2-D"),
    ((np.ones((2, 3)), np.ones((0, 3)), 1), "no rows"),
])
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        top_k(*args)


def test_map_and_paired_ranks_are_bounded_and_unchanged():
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(3000, 16)).astype(np.float32)
    y = rng.integers(0, 20, 3000)
    ref = mean_average_precision(Z, y, Z, y, k=20, exclude_self=True)
    ranks = paired_ranks(Z, Z[::-1])
    tracemalloc.start()
    try:
        with sklearn.config_context(working_memory=4):
            value = mean_average_precision(Z, y, Z, y, k=20, exclude_self=True)
            small = paired_ranks(Z, Z[::-1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert value == ref
    np.testing.assert_array_equal(small, ranks)
    assert peak < 6 * 2**20, peak  # the 3,000 x 3,000 float64 matrix is 72 MB
