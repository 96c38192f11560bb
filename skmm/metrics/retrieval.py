"""Retrieval metrics: mAP@K of a ranking by embedding similarity, and top-k search."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skmm.metrics._checks import _check_embedding, _check_int

__all__ = ["cross_modal_map", "mean_average_precision", "retrieval_table", "top_k"]


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
        At least 1; more than ``n_gallery`` gives the whole gallery, ranked.

    Returns
    -------
    indices : ndarray of shape (n_queries, k), int64
    similarities : ndarray of shape (n_queries, k)
    """
    k = min(_check_int(k, "k", low=1), len(gallery))
    sim = queries @ gallery.T
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(sim, top, axis=1)
    order = np.lexsort((top, -part), axis=1)
    indices = np.take_along_axis(top, order, axis=1).astype(np.int64)
    return indices, np.take_along_axis(sim, indices, axis=1)
