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


# ---- several captions per item -----------------------------------------------------
def _brute_force_item_ranks(q, g, qi, gi):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    ranks = []
    for i in range(len(q)):
        sims = g @ q[i]
        best = max(sims[j] for j in range(len(g)) if gi[j] == qi[i])
        ranks.append(1 + sum(sims[j] >= best for j in range(len(g)) if gi[j] != qi[i]))
    return np.array(ranks)


def test_a_hit_on_any_caption_of_the_item_counts():
    """Picture a's second caption comes first: rank 1; picture b's best caption comes
    after one of a's: rank 2 (with one partner each, the ranks would be 4 and 2)."""
    pictures = np.eye(2)
    captions = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    items = dict(query_items=["a", "b"], gallery_items=["a", "a", "b", "b"])
    assert paired_ranks(pictures, captions, **items).tolist() == [1, 2]
    assert recall_at_k(pictures, captions, k=1, **items) == 0.5
    assert median_rank(pictures, captions, **items) == 1.5
    assert mean_reciprocal_rank(pictures, captions, **items) == 0.75


def test_ties_between_relevant_rows_do_not_count_against_the_query():
    pictures = np.array([[1.0, 0.0]])
    captions = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # 2 of the item, 1 other
    assert paired_ranks(pictures, captions, query_items=[7],
                        gallery_items=[7, 7, 8]).tolist() == [2]


def test_item_ranks_match_brute_force_and_do_not_depend_on_the_blocks():
    rng = np.random.default_rng(4)
    q, g = rng.normal(size=(40, 5)), rng.normal(size=(90, 5))
    qi = np.arange(40)
    gi = np.concatenate([qi, qi, rng.integers(0, 40, size=10)])
    expected = _brute_force_item_ranks(q, g, qi, gi)
    np.testing.assert_array_equal(paired_ranks(q, g, query_items=qi, gallery_items=gi),
                                  expected)
    np.testing.assert_array_equal(
        paired_ranks(q, g, query_items=qi, gallery_items=gi, batch_size=7), expected)


def test_one_row_per_item_gives_the_default_ranks():
    rng = np.random.default_rng(5)
    q, g = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    ids = [f"item {i}" for i in range(30)]
    np.testing.assert_array_equal(paired_ranks(q, g, query_items=ids, gallery_items=ids),
                                  paired_ranks(q, g))


def test_table_with_items_per_modality_of_different_lengths():
    """Two pictures, four captions (two each): caption 3 is picture b's but lies on a."""
    pictures = np.eye(2)
    captions = np.array([[1.0, 0.0], [0.9, 0.1], [0.1, 0.9], [0.95, 0.05]])
    items = {"image": ["a", "b"], "text": ["a", "a", "b", "b"]}
    table = paired_retrieval_table({"image": pictures, "text": captions}, ks=(1,), items=items)
    assert table.loc[("image", "text"), "R@1"] == 1.0  # each picture has a caption first
    assert table.loc[("image", "text"), "pairs"] == 2
    # caption 3 (item b) is nearest picture a: the only miss of the 4 text queries
    assert table.loc[("text", "image"), "R@1"] == 0.75
    assert table.loc[("text", "image"), "pairs"] == 4


def test_table_with_items_counts_a_repeated_picture_once():
    """A long table (the picture repeated on each caption's row) ranks each picture once:
    the repeats of another picture do not push the partner down."""
    pictures = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    captions = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.2, 1.0]])
    items = ["a", "a", "b", "b"]
    table = paired_retrieval_table({"image": pictures, "text": captions}, items=items)
    assert table.loc[("image", "text"), "pairs"] == 2
    assert table.loc[("text", "image"), "pairs"] == 4
    assert table.loc[("text", "image"), "R@1"] == 1.0
    assert table.loc[("image", "text"), "median rank"] == 1.0


def test_table_with_items_scores_the_items_both_modalities_carry():
    a = np.eye(3)
    b = np.array([[1.0, 0, 0], [0, 1.0, 0], [np.nan, np.nan, np.nan]])
    table = paired_retrieval_table({"a": a, "b": b}, ks=(1,), items=[0, 1, 2])
    assert table.loc[("a", "b"), "pairs"] == 2
    assert table.loc[("a", "b"), "R@1"] == 1.0
    default = paired_retrieval_table({"a": a, "b": b}, ks=(1,))
    assert table.equals(default)


def test_map_with_item_ids_as_labels_counts_every_caption():
    """mean_average_precision takes item ids as labels: both captions are relevant."""
    from skmm.metrics import mean_average_precision

    pictures = np.eye(2)
    captions = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.2], [0.1, 0.9]])
    # picture a: its captions rank 1st and 2nd (AP 1); picture b: 1st and 2nd (AP 1)
    assert mean_average_precision(pictures, ["a", "b"], captions, ["a", "b", "a", "b"],
                                  k=4) == 1.0
    # with b's second caption on a's side: a ranks a, b', a (AP (1 + 2/3) / 2)
    captions[3] = [0.9, 0.0]
    value, ap = mean_average_precision(pictures, ["a", "b"], captions, ["a", "b", "a", "b"],
                                       k=3, return_per_query=True)
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)


@pytest.mark.parametrize("call, message", [
    (lambda: paired_ranks(np.eye(2), np.eye(2), query_items=[0, 1]), "go together"),
    (lambda: paired_ranks(np.eye(2), np.eye(2), query_items=[0, 1], gallery_items=[0]),
     "one item id per row"),
    (lambda: paired_ranks(np.eye(2), np.eye(2), query_items=[0, 5], gallery_items=[0, 1]),
     r"no relevant gallery row.*query rows \[1\].*items \[5\]"),
    (lambda: paired_ranks(np.eye(2), np.eye(2), query_items=[0, None],
                          gallery_items=[0, 1]), "missing values"),
    (lambda: paired_ranks(np.eye(2), np.eye(3)), "query_items and gallery_items"),
    (lambda: paired_retrieval_table({"a": np.eye(2), "b": np.eye(2)}, items={"a": [0, 1]}),
     "no entry for modalities"),
    (lambda: paired_retrieval_table({"a": np.eye(2), "b": np.eye(3)},
                                    items={"a": [0, 1], "b": [0, 1]}), "one id per row"),
])
def test_bad_item_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
