"""Retrieval metrics: mAP@K of a ranking by embedding similarity, and top-k search."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skmm.metrics._blocks import iter_top_k
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

    The labels may be item ids (a picture's id, the same id on each of its
    captions): a query's relevant rows are then the rows of its item, the
    mAP of retrieval with several captions per item (the paired metrics
    take them as ``query_items`` / ``gallery_items``, :mod:`skmm.metrics.pairs`).

    Vectorised and bounded: the queries are processed in blocks of at most
    ``batch_size``, fewer where a block's similarities would pass
    scikit-learn's ``working_memory`` (``sklearn.set_config``, 1 GiB by
    default), each one matrix product plus a selection of the top ``k``
    (ties broken by gallery position), so a 10,000 x 10,000 evaluation takes
    about a second and memory does not grow with the number of queries.

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
        The most queries per block (memory: at most ``batch_size x
        n_gallery`` floats, and no more than ``working_memory``).
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
    # euclidean ranks by 2 q.g - |g|^2 (the query's own norm does not change its ranking)
    scale, bias = (2, -(G * G).sum(1)) if metric == "euclidean" else (None, None)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    ap = np.empty(len(Q), dtype=np.float64)
    for start, stop, top, _ in iter_top_k(Q, G, k, scale=scale, bias=bias,
                                          exclude_self=exclude_self, max_rows=batch_size):
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


def top_k(queries, gallery, k: int, *, working_memory=None):
    """The ``k`` gallery rows most similar (dot product) to each query, best first.

    Ties are broken by the gallery position, so the result is deterministic.
    Exact and bounded in memory: the queries are taken in blocks whose
    similarities fit ``working_memory`` (a gallery too wide for a few query
    rows is split in chunks too), so memory does not grow with the number
    of queries; 10,000 queries against 1,000,000 gallery vectors of 256
    float32 need well under 1 GiB beyond the data, at least as fast as
    scikit-learn's brute-force ``NearestNeighbors`` (figures in the user
    guide's "Scaling" page). For repeated searches of one gallery, and
    approximate search past a million rows, see
    :class:`skmm.search.GalleryIndex`.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
    gallery : array-like of shape (n_gallery, n_features)
        Unit-length rows make the dot product the cosine similarity.
    k : int
        At least 1; more than ``n_gallery`` gives the whole gallery, ranked.
    working_memory : float or None, default=None
        The most MiB a block of similarities (with its temporaries) may
        take; None: scikit-learn's ``working_memory`` setting
        (``sklearn.set_config(working_memory=...)``, 1024 by default).

    Returns
    -------
    indices : ndarray of shape (n_queries, k), int64
    similarities : ndarray of shape (n_queries, k)
        Of the dtype of the product (float32 for float32 inputs).

    Raises
    ------
    ValueError
        ``k`` below 1, arrays that are not 2-D, or a different number of
        features in ``queries`` and ``gallery``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import top_k
    >>> gallery = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> indices, similarities = top_k(np.array([[1.0, 0.1]]), gallery, 2)
    >>> indices  # a tie: the first position first
    array([[0, 2]])
    """
    k = _check_int(k, "k", low=1)
    queries, gallery = np.asarray(queries), np.asarray(gallery)
    for name, a in (("queries", queries), ("gallery", gallery)):
        if a.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_rows, n_features), got shape {a.shape}")
    if len(gallery) == 0:
        raise ValueError("the gallery has no rows")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} features but the gallery has "
                         f"{gallery.shape[1]}")
    if queries.dtype.kind != "f" or gallery.dtype.kind != "f":
        queries, gallery = (a if a.dtype.kind == "f" else a.astype(np.float64)
                            for a in (queries, gallery))
    k = min(k, len(gallery))
    indices = np.empty((len(queries), k), dtype=np.int64)
    similarities = np.empty((len(queries), k),
                            dtype=np.result_type(queries.dtype, gallery.dtype))
    for start, stop, idx, sim in iter_top_k(queries, gallery, k,
                                            working_memory=working_memory):
        indices[start:stop], similarities[start:stop] = idx, sim
    return indices, similarities
