"""Clustering sweeps and clustering agreement scores.

* :func:`cluster_sweep` runs k-means for a range of ``k`` and reports the
  criteria used to choose the number of clusters: the within-cluster distance
  (look for the elbow), the separation of the centroids, the balance of the
  cluster populations, plus the silhouette and the inertia.
* :func:`clustering_scores` measures how well k-means clusters of an embedding
  agree with known labels (NMI and ARI).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    normalized_mutual_info_score,
    silhouette_score,
)
from sklearn.utils import check_consistent_length

from skmm.metrics._checks import _check_embedding, _check_int

__all__ = ["SWEEP_COLUMNS", "cluster_sweep", "clustering_scores"]

#: Columns of the table :func:`cluster_sweep` returns, in order.
SWEEP_COLUMNS = (
    "k",
    "mean_distance_to_centroid",
    "mean_centroid_distance",
    "inertia",
    "silhouette",
    "populations",
)


def _kmeans(Z, k, random_state, n_init):
    return KMeans(n_clusters=k, random_state=random_state, n_init=n_init).fit(Z)


def cluster_sweep(
    Z,
    k_range: Iterable[int] | int = range(2, 11),
    *,
    random_state=None,
    n_init="auto",
    silhouette_sample_size: int | None = 2000,
) -> pd.DataFrame:
    """Run k-means for each ``k`` and report the criteria used to choose ``k``.

    For each number of clusters the embedding is clustered with
    :class:`sklearn.cluster.KMeans`, and one row reports:

    * how tight the clusters are (``mean_distance_to_centroid``: look for the
      elbow of this curve),
    * how far apart the centroids are (``mean_centroid_distance``),
    * how balanced the clusters are (``populations``),
    * the k-means ``inertia`` and the ``silhouette`` score.

    These are the criteria the CRVAE paper uses to choose the number of
    clusters; :func:`skmm.plotting.plot_cluster_sweep` draws them.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        The embedding, e.g. the output of an embedder's ``transform``. Must be
        finite.
    k_range : iterable of int or int, default=range(2, 11)
        The numbers of clusters to try. Each must satisfy
        ``2 <= k <= n_samples - 1`` (the range on which the silhouette is
        defined). Duplicates are removed and the rows are sorted by ``k``.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means (passed to :class:`~sklearn.cluster.KMeans` for every
        ``k``, so an int gives the same clustering as
        ``KMeans(k, random_state=random_state)``) and the subsample used for
        the silhouette. Pass an int for reproducible results.
    n_init : 'auto' or int, default='auto'
        Number of k-means initialisations, see :class:`~sklearn.cluster.KMeans`.
    silhouette_sample_size : int or None, default=2000
        The silhouette costs O(n_samples²); when ``n_samples`` is larger than
        this, it is computed on a random subsample of this size (drawn with
        ``random_state``). ``None`` always uses every sample.

    Returns
    -------
    sweep : pandas.DataFrame
        One row per ``k`` (ascending) with columns

        ``k`` : int
            Number of clusters.
        ``mean_distance_to_centroid`` : float
            Mean Euclidean distance of the points to the centroid of their
            own cluster.
        ``mean_centroid_distance`` : float
            Mean pairwise Euclidean distance between the ``k`` centroids.
        ``inertia`` : float
            Sum of squared distances to the closest centroid
            (``KMeans.inertia_``).
        ``silhouette`` : float
            Mean silhouette coefficient (:func:`sklearn.metrics.silhouette_score`);
            NaN if k-means produced fewer than two distinct clusters
            (e.g. many duplicate points).
        ``populations`` : tuple of int
            Cluster sizes sorted in descending order; they sum to
            ``n_samples``.

    Raises
    ------
    ValueError
        If ``Z`` is not a 2-D finite numeric array, if ``k_range`` is empty,
        or if any ``k`` is not an integer in ``[2, n_samples - 1]``.

    See Also
    --------
    skmm.plotting.plot_cluster_sweep : Draw the sweep.
    clustering_scores : Agreement of k-means clusters with known labels.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skmm.metrics import cluster_sweep
    >>> Z, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    >>> sweep = cluster_sweep(Z, range(2, 6), random_state=0)
    >>> int(sweep.loc[sweep["silhouette"].idxmax(), "k"])
    3
    """
    Z = _check_embedding(Z, min_samples=3)
    n_samples = Z.shape[0]

    if isinstance(k_range, numbers.Integral) and not isinstance(k_range, bool):
        k_range = [k_range]
    try:
        ks = list(k_range)
    except TypeError:
        raise ValueError(
            f"k_range must be an iterable of integers, got {k_range!r}"
        ) from None
    if not ks:
        raise ValueError("k_range is empty; pass at least one number of clusters")
    ks = sorted(
        {_check_int(k, "each k in k_range", low=2, high=n_samples - 1) for k in ks}
    )

    if silhouette_sample_size is not None:
        silhouette_sample_size = _check_int(
            silhouette_sample_size, "silhouette_sample_size", low=2
        )
    sample_size = (
        silhouette_sample_size
        if silhouette_sample_size is not None and n_samples > silhouette_sample_size
        else None
    )

    Z64 = Z.astype(np.float64, copy=False)
    rows = []
    for k in ks:
        km = _kmeans(Z, k, random_state, n_init)
        labels = km.labels_
        centers = km.cluster_centers_.astype(np.float64, copy=False)

        within = np.linalg.norm(Z64 - centers[labels], axis=1).mean()
        between = pdist(centers).mean()
        counts = np.bincount(labels, minlength=k)

        n_found = np.count_nonzero(counts)
        if 2 <= n_found <= n_samples - 1:
            sil = silhouette_score(
                Z, labels, sample_size=sample_size, random_state=random_state
            )
        else:
            sil = np.nan

        rows.append(
            {
                "k": k,
                "mean_distance_to_centroid": float(within),
                "mean_centroid_distance": float(between),
                "inertia": float(km.inertia_),
                "silhouette": float(sil),
                "populations": tuple(int(c) for c in np.sort(counts)[::-1]),
            }
        )
    return pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))


def clustering_scores(
    Z,
    labels_true,
    n_clusters: int | None = None,
    *,
    random_state=None,
    n_init="auto",
) -> dict:
    """Cluster an embedding with k-means and compare the clusters with labels.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        The embedding. Must be finite.
    labels_true : array-like of shape (n_samples,)
        The reference labels (any hashable values: ints, strings, ...).
    n_clusters : int or None, default=None
        Number of k-means clusters, between 1 and ``n_samples``. ``None``
        uses the number of distinct values in ``labels_true``.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means; pass an int for reproducible results.
    n_init : 'auto' or int, default='auto'
        Number of k-means initialisations, see :class:`~sklearn.cluster.KMeans`.

    Returns
    -------
    scores : dict
        ``{"nmi": float, "ari": float, "n_clusters": int}``: the normalized
        mutual information (:func:`sklearn.metrics.normalized_mutual_info_score`)
        and the adjusted Rand index (:func:`sklearn.metrics.adjusted_rand_score`)
        between ``labels_true`` and the k-means clusters, and the number of
        clusters used. Both scores are 1 for a perfect match; ARI is about 0
        (NMI small) for an unrelated clustering.

    Raises
    ------
    ValueError
        If ``Z`` is not a 2-D finite numeric array, if ``labels_true`` is not
        1-D or its length differs from ``Z``'s, or if ``n_clusters`` is out of
        range.

    See Also
    --------
    cluster_sweep : Criteria for choosing the number of clusters.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skmm.metrics import clustering_scores
    >>> Z, y = make_blobs(n_samples=200, centers=3, random_state=0)
    >>> scores = clustering_scores(Z, y, random_state=0)
    >>> scores["n_clusters"], round(scores["ari"], 2)
    (3, 0.84)
    """
    Z = _check_embedding(Z)
    labels_true = np.asarray(labels_true)
    if labels_true.ndim != 1:
        raise ValueError(
            f"labels_true must be 1-D, got an array of shape {labels_true.shape}"
        )
    check_consistent_length(Z, labels_true)
    n_samples = Z.shape[0]
    if n_clusters is None:
        n_clusters = len(pd.unique(labels_true))
    n_clusters = _check_int(n_clusters, "n_clusters", low=1, high=n_samples)

    labels_pred = _kmeans(Z, n_clusters, random_state, n_init).labels_
    return {
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
        "n_clusters": n_clusters,
    }
