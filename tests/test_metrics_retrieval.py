"""skmm.metrics.mean_average_precision and retrieval_table."""

import numpy as np
import pandas as pd
import pytest

from skmm.metrics import mean_average_precision, retrieval_table


def naive_map(Q, ql, G, gl, k, exclude_self=False):
    """Reference implementation: one query at a time, stable sort."""
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Gn = G / np.linalg.norm(G, axis=1, keepdims=True)
    aps = []
    for i, q in enumerate(Qn):
        sim = Gn @ q
        idx = [j for j in np.argsort(-sim, kind="stable") if not (exclude_self and j == i)][:k]
        hits, total = 0, 0.0
        for rank, j in enumerate(idx, start=1):
            if gl[j] == ql[i]:
                hits += 1
                total += hits / rank
        aps.append(total / hits if hits else 0.0)
    return float(np.mean(aps))


# one query along x; gallery items at known angles: ranks are g0, g2, g1, g3
Q1 = np.array([[1.0, 0.0]])
G1 = np.array([[1.0, 0.1], [0.0, 1.0], [0.9, 0.2], [-1.0, 0.0]])


@pytest.mark.parametrize("gallery_labels, k, expected", [
    ([0, 1, 0, 1], 4, 1.0),                          # rel, rel at ranks 1, 2
    ([1, 0, 0, 1], 4, (1 / 2 + 2 / 3) / 2),          # ranks: no, yes(2), yes(3), no
    ([1, 1, 1, 0], 4, 1 / 4),                        # only the last one, at rank 4
    ([1, 1, 1, 0], 3, 0.0),                          # nothing relevant in the top 3
    ([1, 0, 1, 0], 2, 0.0),                          # top 2 = g0 (1), g2 (1)
    ([1, 0, 0, 0], 2, 1 / 2),                        # g2 at rank 2 only: P(2) = 1/2
    ([0, 0, 0, 0], 2, 1.0),                          # normalised by relevant retrieved
])
def test_hand_computed_cases(gallery_labels, k, expected):
    assert mean_average_precision(Q1, [0], G1, gallery_labels, k=k) == pytest.approx(expected)


def test_mean_over_queries_and_per_query_values():
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    G = np.array([[1.0, 0.1], [0.1, 1.0], [0.7, 0.7]])
    # query 0 ("a") ranks g0 (b), g2 (b), g1 (a): AP 1/3;
    # query 1 ("b") ranks g1 (a), g2 (b), g0 (b): AP (1/2 + 2/3) / 2
    value, ap = mean_average_precision(Q, ["a", "b"], G, ["b", "a", "b"], k=3,
                                       return_per_query=True)
    np.testing.assert_allclose(ap, [1 / 3, 7 / 12])
    assert value == pytest.approx(11 / 24)


def test_exclude_self_and_k_capped_by_gallery():
    Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = [0, 1, 0]
    # with itself, every query finds itself first
    assert mean_average_precision(Z, labels, Z, labels, k=1) == 1.0
    # without: query 0 -> [1 (no), 2 (yes)], 1 -> [0 (no), 2 (no)], 2 -> [1 (no), 0 (yes)]
    expected = np.mean([1 / 2, 0.0, 1 / 2])
    got = mean_average_precision(Z, labels, Z, labels, k=50, exclude_self=True)
    assert got == pytest.approx(expected)


def test_euclidean_and_dot_metrics_rank_differently_from_cosine():
    Q = np.array([[1.0, 0.0]])
    G = np.array([[10.0, 1.0], [1.0, 0.0]])  # same direction as q: g1; closer in L2: g1
    assert mean_average_precision(Q, [0], G, [1, 0], k=1, metric="cosine") == 1.0
    assert mean_average_precision(Q, [0], G, [1, 0], k=1, metric="euclidean") == 1.0
    assert mean_average_precision(Q, [0], G, [1, 0], k=1, metric="dot") == 0.0


def test_matches_naive_implementation_on_random_data():
    rng = np.random.default_rng(0)
    Q, G = rng.normal(size=(300, 16)), rng.normal(size=(400, 16))
    ql, gl = rng.integers(0, 7, 300), rng.integers(0, 7, 400)
    for k in (1, 10, 50):
        assert mean_average_precision(Q, ql, G, gl, k=k, batch_size=64) == pytest.approx(
            naive_map(Q, ql, G, gl, k), abs=1e-6)
    Z, zl = Q[:200], ql[:200]
    assert mean_average_precision(Z, zl, Z, zl, k=20, exclude_self=True) == pytest.approx(
        naive_map(Z, zl, Z, zl, 20, exclude_self=True), abs=1e-6)


def test_string_labels_and_perfect_clusters():
    centers = np.eye(3) * 10
    rng = np.random.default_rng(1)
    labels = np.repeat(["cat", "dog", "emu"], 20)
    Z = centers[np.repeat(np.arange(3), 20)] + rng.normal(scale=0.1, size=(60, 3))
    assert mean_average_precision(Z, labels, Z, labels, k=19, exclude_self=True) == 1.0


@pytest.mark.slow
def test_ten_thousand_squared_is_fast():
    import time

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(10_000, 64)).astype(np.float32)
    y = rng.integers(0, 100, 10_000)
    start = time.perf_counter()
    value = mean_average_precision(Z, y, Z, y, k=50)
    assert time.perf_counter() - start < 30
    assert 0 < value <= 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "k must be"),
    (dict(metric="manhattan"), "metric"),
    (dict(exclude_self=True), "exclude_self"),
])
def test_bad_arguments(kwargs, match):
    Q, G = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match=match):
        mean_average_precision(Q, [0, 1], G, [0, 1, 0, 1], **kwargs)


def test_shape_mismatches():
    with pytest.raises(ValueError, match="features"):
        mean_average_precision(np.ones((2, 3)), [0, 1], np.ones((2, 4)), [0, 1])
    with pytest.raises(ValueError, match="query_labels"):
        mean_average_precision(np.ones((2, 3)), [0], np.ones((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="gallery_labels"):
        mean_average_precision(np.ones((2, 3)), [0, 1], np.ones((2, 3)), [[0, 1]])
    with pytest.raises(ValueError):
        mean_average_precision(np.full((2, 3), np.nan), [0, 1], np.ones((2, 3)), [0, 1])


def test_retrieval_table_grid():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    a = np.eye(3)[y] + rng.normal(scale=0.05, size=(30, 3))
    b = np.eye(3)[y] + rng.normal(scale=0.05, size=(30, 3))
    noise = rng.normal(size=(30, 3))
    table = retrieval_table({"a": a, "b": b, "noise": noise}, y, k=10)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["a", "b", "noise"] == list(table.columns)
    assert table.index.name == "query" and table.columns.name == "gallery"
    assert table.loc["a", "b"] == 1.0 and table.loc["b", "a"] == 1.0
    assert table.loc["a", "a"] == 1.0  # diagonal: without the query itself
    assert table.loc["noise", "a"] < 0.9
    assert table.loc["a", "b"] == mean_average_precision(a, y, b, y, k=10)
    no_diag = retrieval_table({"a": a, "b": b}, {"a": y, "b": y}, k=10, diagonal=False)
    assert np.isnan(no_diag.loc["a", "a"]) and no_diag.loc["a", "b"] == 1.0


def test_retrieval_table_with_per_modality_rows():
    y_a = np.array([0, 0, 1, 1])
    a = np.eye(2)[y_a]
    y_b = np.array([1, 0])
    b = np.eye(2)[y_b]
    table = retrieval_table({"a": a, "b": b}, {"a": y_a, "b": y_b}, k=2)
    assert table.loc["a", "b"] == 1.0 and table.loc["b", "a"] == 1.0
    with pytest.raises(ValueError, match="no entry"):
        retrieval_table({"a": a, "b": b}, {"a": y_a}, k=2)
    with pytest.raises(ValueError, match="empty"):
        retrieval_table({}, y_a)


def test_top_k_ranks_by_similarity_and_breaks_ties_by_position():
    from skmm.metrics import top_k

    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = np.array([[0.5, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    idx, sim = top_k(q, g, 3)
    np.testing.assert_array_equal(idx[0], [1, 2, 0])  # the tie 1 = 2 goes to position 1 first
    np.testing.assert_array_equal(idx[1], [3, 0, 1])
    np.testing.assert_allclose(sim[0], [1.0, 1.0, 0.5])


def test_cross_modal_map_leaves_out_missing_rows_and_the_diagonal():
    from skmm.metrics import cross_modal_map

    Z = np.eye(4)
    labels = np.array([0, 1, 0, 1])
    assert cross_modal_map({"a": Z, "b": Z}, labels, k=2) == pytest.approx(1.0)
    shuffled = Z[[1, 0, 3, 2]]  # b's row i sits with the other class
    assert cross_modal_map({"a": Z, "b": shuffled}, labels, k=1) == pytest.approx(0.0)
    missing = Z.copy()
    missing[0] = np.nan  # modality b absent in row 0
    value = cross_modal_map({"a": Z, "b": missing}, labels, k=2)
    assert 0 < value <= 1
