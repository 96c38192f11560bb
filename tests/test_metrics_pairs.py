"""Paired retrieval metrics: recall@K, median rank, MRR, the table by modality pair."""

from __future__ import annotations

import numpy as np
import pytest

from skmm.metrics import (
    mean_reciprocal_rank,
    median_rank,
    paired_ranks,
    paired_retrieval_table,
    recall_at_k,
)


def _brute_force_ranks(q, g):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    ranks = []
    for i in range(len(q)):
        sims = g @ q[i]
        ranks.append(1 + sum(sims[j] >= sims[i] for j in range(len(g)) if j != i))
    return np.array(ranks)


def test_ranks_match_brute_force():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    np.testing.assert_array_equal(paired_ranks(q, g), _brute_force_ranks(q, g))
    np.testing.assert_array_equal(paired_ranks(q, g, batch_size=7), _brute_force_ranks(q, g))


def test_identical_pairs_rank_first_and_scale_does_not_matter():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(30, 5))
    assert paired_ranks(z, 3 * z).tolist() == [1] * 30
    assert recall_at_k(z, z, k=1) == 1.0
    assert median_rank(z, z) == 1.0
    assert mean_reciprocal_rank(z, z) == 1.0


def test_ties_count_against_the_query():
    """A constant embedding ranks every partner last: it cannot look good."""
    z = np.ones((10, 3))
    assert paired_ranks(z, z).tolist() == [10] * 10
    assert recall_at_k(z, z, k=5) == 0.0


def test_random_embeddings_score_about_chance():
    rng = np.random.default_rng(2)
    n = 2000
    q, g = rng.normal(size=(n, 8)), rng.normal(size=(n, 8))
    assert recall_at_k(q, g, k=100) == pytest.approx(100 / n, abs=0.02)
    assert median_rank(q, g) == pytest.approx(n / 2, rel=0.1)


def test_a_shuffled_gallery_is_found_where_it_is():
    z = np.eye(6)
    perm = [1, 0, 2, 3, 4, 5]
    # rows 0 and 1 hold each other's partner (their own ties at 0 with every other row)
    assert paired_ranks(z, z[perm]).tolist() == [6, 6, 1, 1, 1, 1]


def test_table_by_modality_pair_uses_rows_that_carry_both():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20, 4))
    b = a + 0.01 * rng.normal(size=(20, 4))
    c = a.copy()
    c[:5] = np.nan  # 5 rows miss modality c
    table = paired_retrieval_table({"a": a, "b": b, "c": c}, ks=(1, 5))
    assert list(table.columns) == ["R@1", "R@5", "median rank", "MRR", "pairs"]
    assert len(table) == 6  # ordered pairs
    assert table.loc[("a", "b"), "pairs"] == 20
    assert table.loc[("a", "c"), "pairs"] == 15
    assert table.loc[("c", "b"), "R@1"] == 1.0
    assert table.loc[("a", "b"), "median rank"] == 1.0


def test_table_of_a_pair_without_common_rows_is_nan():
    a = np.eye(4)
    b = np.full((4, 4), np.nan)
    b[0] = 1.0
    table = paired_retrieval_table({"a": a, "b": b})
    assert np.isnan(table.loc[("a", "b"), "R@1"])
    assert table.loc[("a", "b"), "pairs"] == 1


@pytest.mark.parametrize("call, message", [
    (lambda: paired_ranks(np.eye(3), np.eye(4)), "same shape"),
    (lambda: recall_at_k(np.eye(3), np.eye(3), k=0), "k must be"),
    (lambda: recall_at_k(np.eye(3), np.eye(3), k=1.5), "k must be"),
    (lambda: paired_retrieval_table({"a": np.eye(3)}), "at least 2 modalities"),
    (lambda: paired_retrieval_table({"a": np.eye(3), "b": np.eye(4)}), "one embedding per row"),
    (lambda: paired_retrieval_table({"a": np.eye(3), "b": np.eye(3)}, ks=(0,)), "ks must"),
    (lambda: paired_ranks(np.full((3, 2), np.nan), np.eye(3, 2)), "NaN"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
