"""Metrics for embeddings: clustering sweeps and clustering agreement scores.

The functions here take plain arrays (the output of an embedder's
``transform``) and never touch torch, so they can be used on any embedding.

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
from sklearn.utils import check_array, check_consistent_length

__all__ = ["cluster_sweep", "clustering_scores", "cross_modal_map", "mean_average_precision",
           "retrieval_table", "top_k"]

#: Columns of the table :func:`cluster_sweep` returns, in order.
SWEEP_COLUMNS = (
    "k",
    "mean_distance_to_centroid",
    "mean_centroid_distance",
    "inertia",
    "silhouette",
    "populations",
)


def _check_embedding(Z, *, min_samples=1):
    """Validate an embedding matrix: 2-D, numeric, finite, float32/float64."""
    return check_array(
        Z,
        dtype=[np.float64, np.float32],
        ensure_2d=True,
        ensure_min_samples=min_samples,
        input_name="Z",
    )


def _check_int(value, name, *, low=None, high=None):
    """Return ``value`` as int, or raise a ValueError that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        # ValueError (not TypeError) so callers catch every bad-argument case alike
        raise ValueError(f"{name} must be an integer, got {value!r}")  # noqa: TRY004
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


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


# ---------------------------------------------------------------------------
# Retrieval metrics
# ---------------------------------------------------------------------------


def _check_labels(labels, n, name):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {labels.shape}")
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels for {n} embeddings")
    return labels


def _normalize_rows(Z):
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.maximum(norms, np.finfo(Z.dtype).tiny)


def mean_average_precision(
    query_emb,
    query_labels,
    gallery_emb,
    gallery_labels,
    k: int = 50,
    *,
    metric: str = "cosine",
    exclude_self: bool = False,
    batch_size: int = 1024,
    return_per_query: bool = False,
):
    """Mean average precision at K of a retrieval by embedding similarity.

    Each query ranks the gallery by similarity; a gallery item is relevant
    when its label equals the query's. The average precision of a query over
    its top ``k`` results is

    ``AP@K = (1 / R_K) * sum_{i <= K} P(i) * rel(i)``,

    where ``P(i)`` is the precision of the top ``i`` results, ``rel(i)`` is 1
    for a relevant result, and ``R_K`` is the number of relevant items among
    the top ``K`` (the normalisation of the common-vector-space thesis; AP is
    0 when none is retrieved). mAP@K is the mean over queries.

    Vectorised: the queries are processed in blocks of ``batch_size``, each
    one matrix product plus a partial sort, so a 10,000 x 10,000 evaluation
    takes about a second.

    Parameters
    ----------
    query_emb : array-like of shape (n_queries, n_features)
    query_labels : array-like of shape (n_queries,)
    gallery_emb : array-like of shape (n_gallery, n_features)
    gallery_labels : array-like of shape (n_gallery,)
    k : int, default=50
        Results considered per query; capped by the gallery size.
    metric : {"cosine", "euclidean", "dot"}, default="cosine"
        Similarity used to rank (Euclidean ranks by increasing distance).
    exclude_self : bool, default=False
        The query set is the gallery (same items in the same order): leave
        each query's own item out of its ranking.
    batch_size : int, default=1024
        Queries per block (memory: ``batch_size x n_gallery`` floats).
    return_per_query : bool, default=False
        Also return the AP of each query.

    Returns
    -------
    map : float
        In [0, 1].
    ap : ndarray of shape (n_queries,)
        Only with ``return_per_query``.

    Raises
    ------
    ValueError
        Shapes that do not match, non-finite embeddings, a bad ``k`` or
        ``metric``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import mean_average_precision
    >>> q = np.array([[1.0, 0.0]])
    >>> g = np.array([[1.0, 0.1], [0.0, 1.0], [0.9, 0.2]])
    >>> mean_average_precision(q, [0], g, [0, 1, 0], k=3)  # ranks: rel, rel, not
    1.0
    >>> mean_average_precision(q, [0], g, [1, 0, 0], k=3)  # not, rel, rel
    0.5833333333333333
    """
    Q = _check_embedding(query_emb).astype(np.float32, copy=False)
    G = _check_embedding(gallery_emb).astype(np.float32, copy=False)
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"query_emb has {Q.shape[1]} features but gallery_emb has {G.shape[1]}"
        )
    ql = _check_labels(query_labels, len(Q), "query_labels")
    gl = _check_labels(gallery_labels, len(G), "gallery_labels")
    if metric not in ("cosine", "euclidean", "dot"):
        raise ValueError(f"metric must be 'cosine', 'euclidean' or 'dot', got {metric!r}")
    if exclude_self and len(Q) != len(G):
        raise ValueError("exclude_self needs the queries to be the gallery (same length)")
    n_gallery = len(G) - int(bool(exclude_self))
    if n_gallery < 1:
        raise ValueError("the gallery is empty")
    k = min(_check_int(k, "k", low=1), n_gallery)
    batch_size = _check_int(batch_size, "batch_size", low=1)
    # labels as integer codes over the union, so comparisons are vectorised
    _, codes = np.unique(np.concatenate([ql.astype(object), gl.astype(object)]),
                         return_inverse=True)
    qc, gc = codes[: len(ql)], codes[len(ql):]
    if metric == "cosine":
        Q, G = _normalize_rows(Q), _normalize_rows(G)
    g_sq = (G * G).sum(1) if metric == "euclidean" else None
    ranks = np.arange(1, k + 1, dtype=np.float64)
    ap = np.empty(len(Q), dtype=np.float64)
    for start in range(0, len(Q), batch_size):
        stop = min(start + batch_size, len(Q))
        score = Q[start:stop] @ G.T  # higher is better
        if metric == "euclidean":
            score = 2 * score - g_sq[None, :]
        if exclude_self:
            rows = np.arange(stop - start)
            score[rows, rows + start] = -np.inf
        if k < score.shape[1]:
            top = np.argpartition(-score, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(score.shape[1]), score.shape).copy()
        top_score = np.take_along_axis(score, top, axis=1)
        # best first; ties broken by gallery position, so results are deterministic
        order = np.lexsort((top, -top_score), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        rel = (gc[top] == qc[start:stop, None]).astype(np.float64)
        hits = np.cumsum(rel, axis=1)
        ap[start:stop] = (hits / ranks * rel).sum(1) / np.maximum(hits[:, -1], 1)
    result = float(ap.mean())
    return (result, ap) if return_per_query else result


def retrieval_table(embeddings, labels, k: int = 50, *, diagonal: bool = True,
                    metric: str = "cosine") -> pd.DataFrame:
    """mAP@K of every query modality against every gallery modality.

    Parameters
    ----------
    embeddings : mapping of str to array-like of shape (n_m, n_features)
        One embedding matrix per modality, e.g. from
        ``CommonSpaceEmbedder.embed(X, m)``.
    labels : mapping of str to array-like, or array-like
        The labels of each modality's rows, or one array shared by all
        modalities (the same rows in every modality).
    k : int, default=50
    diagonal : bool, default=True
        Fill the diagonal with intra-modal retrieval (each query left out of
        its own ranking); NaN otherwise.
    metric : {"cosine", "euclidean", "dot"}, default="cosine"

    Returns
    -------
    table : pandas.DataFrame
        Rows: query modality; columns: gallery modality; values: mAP@K.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import retrieval_table
    >>> Z = np.eye(4)
    >>> retrieval_table({"a": Z, "b": Z}, [0, 1, 0, 1], k=2).loc["a", "b"]
    np.float64(1.0)
    """
    if not embeddings:
        raise ValueError("embeddings is empty")
    names = list(embeddings)
    if isinstance(labels, dict):
        missing = [m for m in names if m not in labels]
        if missing:
            raise ValueError(f"labels has no entry for modalities {missing}")
        label_of = {m: labels[m] for m in names}
    else:
        label_of = dict.fromkeys(names, labels)
    table = pd.DataFrame(np.nan, index=pd.Index(names, name="query"),
                         columns=pd.Index(names, name="gallery"))
    for q in names:
        for g in names:
            if q == g and not diagonal:
                continue
            table.loc[q, g] = mean_average_precision(
                embeddings[q], label_of[q], embeddings[g], label_of[g], k=k,
                metric=metric, exclude_self=q == g)
    return table


def cross_modal_map(embeddings, labels, k: int = 50) -> float:
    """The mean mAP@K of cross-modal retrieval over ordered modality pairs.

    Every modality queries every other one; with a single modality,
    intra-modal retrieval without the query itself.

    Parameters
    ----------
    embeddings : mapping of str to ndarray of shape (n_samples, n_features)
        Per modality, the embedding of every row; rows where the modality is
        missing are NaN and are left out of its queries and gallery.
    labels : array-like of shape (n_samples,)
        The class of each row.
    k : int, default=50

    Returns
    -------
    float
        In [0, 1], higher is better.
    """
    labels = np.asarray(labels)
    present, label_of = {}, {}
    for m, z in embeddings.items():
        rows = ~np.isnan(np.asarray(z)[:, 0])
        if rows.any():
            present[m], label_of[m] = np.asarray(z)[rows], labels[rows]
    values = retrieval_table(present, label_of, k=k,
                             diagonal=len(present) == 1).to_numpy(dtype=float)
    if len(present) > 1:
        values = values[~np.eye(len(values), dtype=bool)]
    return float(np.nanmean(values))


def top_k(queries, gallery, k: int):
    """The ``k`` gallery rows most similar (dot product) to each query, best first.

    Ties are broken by the gallery position, so the result is deterministic.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    gallery : ndarray of shape (n_gallery, n_features)
    k : int
        At most ``n_gallery``.

    Returns
    -------
    indices : ndarray of shape (n_queries, k), int64
    similarities : ndarray of shape (n_queries, k)
    """
    sim = queries @ gallery.T
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(sim, top, axis=1)
    order = np.lexsort((top, -part), axis=1)
    indices = np.take_along_axis(top, order, axis=1).astype(np.int64)
    return indices, np.take_along_axis(sim, indices, axis=1)
