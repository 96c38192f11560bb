import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from skmm.metrics import cluster_sweep, clustering_scores

N = 240


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(
        n_samples=N,
        n_features=6,
        centers=4,
        cluster_std=0.5,
        center_box=(-20, 20),
        random_state=0,
    )
    return Z, y


@pytest.fixture(scope="module")
def sweep(blobs):
    Z, _ = blobs
    return cluster_sweep(Z, range(2, 9), random_state=0, n_init=4)


def test_cluster_sweep_columns_and_rows(sweep):
    assert list(sweep.columns) == [
        "k",
        "mean_distance_to_centroid",
        "mean_centroid_distance",
        "inertia",
        "silhouette",
        "populations",
    ]
    assert sweep["k"].tolist() == list(range(2, 9))
    for k, pops in zip(sweep["k"], sweep["populations"]):
        assert isinstance(pops, tuple)
        assert len(pops) == k
        assert sum(pops) == N
        assert list(pops) == sorted(pops, reverse=True)


def test_cluster_sweep_finds_four_blobs(sweep):
    assert sweep.loc[sweep["silhouette"].idxmax(), "k"] == 4
    assert sweep.loc[sweep["k"] == 4, "populations"].item() == (60, 60, 60, 60)


def test_cluster_sweep_within_distance_decreases(sweep):
    assert np.all(np.diff(sweep["mean_distance_to_centroid"]) < 0)
    assert np.all(np.diff(sweep["inertia"]) < 0)


def test_cluster_sweep_matches_kmeans(blobs, sweep):
    Z, _ = blobs
    for k in (3, 4, 6):
        km = KMeans(n_clusters=k, random_state=0, n_init=4).fit(Z)
        row = sweep.loc[sweep["k"] == k].iloc[0]
        assert row["inertia"] == pytest.approx(km.inertia_)
        centers = km.cluster_centers_
        within = np.linalg.norm(Z - centers[km.labels_], axis=1).mean()
        assert row["mean_distance_to_centroid"] == pytest.approx(within)
        diffs = centers[:, None] - centers[None]
        pairwise = np.linalg.norm(diffs, axis=-1)[np.triu_indices(k, 1)]
        assert row["mean_centroid_distance"] == pytest.approx(pairwise.mean())


def test_cluster_sweep_reproducible_and_sorted(blobs):
    Z, _ = blobs
    a = cluster_sweep(Z, [5, 2, 3, 3], random_state=1)
    b = cluster_sweep(Z, [2, 3, 5], random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert cluster_sweep(Z, 3, random_state=1)["k"].tolist() == [3]


def test_cluster_sweep_silhouette_subsample(blobs):
    Z, _ = blobs
    full = cluster_sweep(Z, [4], random_state=0, silhouette_sample_size=None)
    sub = cluster_sweep(Z, [4], random_state=0, silhouette_sample_size=50)
    assert full["inertia"].item() == sub["inertia"].item()
    assert 0.5 < sub["silhouette"].item() <= 1.0
    assert sub["silhouette"].item() != full["silhouette"].item()


def test_cluster_sweep_float32_input(blobs):
    Z, _ = blobs
    out = cluster_sweep(Z.astype(np.float32), [4], random_state=0)
    assert out["populations"].item() == (60, 60, 60, 60)


@pytest.mark.parametrize(
    "k_range, match",
    [
        ([1, 2], r"\[2, 9\]"),
        ([2, 10], r"\[2, 9\]"),
        ([2.5], "integer"),
        ([], "empty"),
        ("abc", "integer"),
        (None, "iterable"),
    ],
)
def test_cluster_sweep_bad_k(k_range, match):
    Z = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        cluster_sweep(Z, k_range)


def test_cluster_sweep_bad_input():
    Z = np.random.default_rng(0).normal(size=(20, 3))
    Z[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cluster_sweep(Z, [2])
    Z[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        cluster_sweep(Z, [2])
    with pytest.raises(ValueError, match="2D"):
        cluster_sweep(np.arange(20.0), [2])
    with pytest.raises(ValueError, match="silhouette_sample_size"):
        cluster_sweep(
            np.ones((20, 2)) + np.arange(20)[:, None], [2], silhouette_sample_size=1
        )


def test_cluster_sweep_duplicate_points_gives_nan_silhouette():
    Z = np.zeros((10, 2))
    with pytest.warns(Warning):  # KMeans warns about fewer distinct clusters
        out = cluster_sweep(Z, [2], random_state=0)
    assert np.isnan(out["silhouette"].item())
    assert sum(out["populations"].item()) == 10


def test_clustering_scores_perfect(blobs):
    Z, y = blobs
    scores = clustering_scores(Z, y, random_state=0)
    assert scores["n_clusters"] == 4
    assert scores["nmi"] == pytest.approx(1.0)
    assert scores["ari"] == pytest.approx(1.0)
    assert isinstance(scores["nmi"], float) and isinstance(scores["ari"], float)


def test_clustering_scores_string_labels(blobs):
    Z, y = blobs
    names = np.array(["a", "b", "c", "d"])[y]
    assert clustering_scores(Z, list(names), random_state=0)["ari"] == pytest.approx(
        1.0
    )


def test_clustering_scores_random_labels(blobs):
    Z, _ = blobs
    y_random = np.random.default_rng(0).integers(0, 4, size=N)
    scores = clustering_scores(Z, y_random, random_state=0)
    assert abs(scores["ari"]) < 0.05
    assert scores["nmi"] < 0.05


def test_clustering_scores_n_clusters(blobs):
    Z, y = blobs
    scores = clustering_scores(Z, y, n_clusters=8, random_state=0)
    assert scores["n_clusters"] == 8
    assert 0.5 < scores["nmi"] < 1.0


def test_clustering_scores_errors(blobs):
    Z, y = blobs
    with pytest.raises(ValueError, match="inconsistent"):
        clustering_scores(Z, y[:-1])
    with pytest.raises(ValueError, match="1-D"):
        clustering_scores(Z, y[:, None])
    with pytest.raises(ValueError, match="n_clusters"):
        clustering_scores(Z, y, n_clusters=0)
    with pytest.raises(ValueError, match="n_clusters"):
        clustering_scores(Z, y, n_clusters=N + 1)
    Z_bad = Z.copy()
    Z_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clustering_scores(Z_bad, y)
