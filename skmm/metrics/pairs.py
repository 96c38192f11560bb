"""Paired retrieval: row i of one modality should find row i of the other.

Without labels the only truth is the pairing of the rows (a picture and its
caption). These metrics rank, for each query row, every gallery row by
cosine similarity and report where the query's own partner lands:
recall@K (the share of queries whose partner is among the first K), the
median rank and the mean reciprocal rank. Ties count against the query (a
partner tied with another row is ranked after it), so a constant embedding
scores as badly as it should.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from skmm.metrics._blocks import chunk_rows
from skmm.metrics._checks import _check_embedding, _check_int

__all__ = ["cross_modal_mrr", "mean_reciprocal_rank", "median_rank", "paired_ranks",
           "paired_retrieval_table", "recall_at_k"]


def _unit(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), np.finfo(np.float64).tiny)


def paired_ranks(queries, gallery, *, batch_size: int = 1024) -> np.ndarray:
    """The rank of each query's partner (the gallery row of the same position).

    Parameters
    ----------
    queries : array-like of shape (n_pairs, n_features)
        Row ``i`` is paired with row ``i`` of ``gallery``.
    gallery : array-like of shape (n_pairs, n_features)
    batch_size : int, default=1024
        The most queries ranked at once (memory: ``batch_size x n_pairs``
        float64 and booleans, and no more than scikit-learn's
        ``working_memory``, 1 GiB by default).

    Returns
    -------
    ranks : ndarray of shape (n_pairs,), int64
        1 is the best: 1 + the number of other gallery rows at least as
        similar (cosine) to the query as its partner.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import paired_ranks
    >>> paired_ranks(np.eye(3), np.eye(3)[[0, 2, 1]])  # rows 1 and 2 tie with every row
    array([1, 3, 3])
    """
    queries = _check_embedding(queries, name="queries")
    gallery = _check_embedding(gallery, name="gallery")
    if queries.shape != gallery.shape:
        raise ValueError(f"queries {queries.shape} and gallery {gallery.shape} must have the "
                         "same shape: row i of each is a pair")
    q, g = _unit(queries), _unit(gallery)
    ranks = np.empty(len(q), dtype=np.int64)
    # per query row: its float64 similarities, the comparison's booleans
    batch_size = chunk_rows(len(g) * 10, max_rows=_check_int(batch_size, "batch_size", low=1))
    for start in range(0, len(q), batch_size):
        stop = min(start + batch_size, len(q))
        sim = q[start:stop] @ g.T
        true = sim[np.arange(stop - start), np.arange(start, stop)]
        # the partner itself is counted once by ">=": the rank is that count
        ranks[start:stop] = (sim >= true[:, None]).view(np.uint8).sum(1, dtype=np.int64)
        del sim  # before the next block's is made
    return ranks


def recall_at_k(queries, gallery, k: int = 10) -> float:
    """The share of queries whose partner is among the ``k`` most similar gallery rows.

    Parameters
    ----------
    queries, gallery : array-like of shape (n_pairs, n_features)
        Row ``i`` of each is a pair.
    k : int, default=10

    Returns
    -------
    float
        In [0, 1]; chance is ``k / n_pairs``.
    """
    k = _check_int(k, "k", low=1)
    return float(np.mean(paired_ranks(queries, gallery) <= k))


def median_rank(queries, gallery) -> float:
    """The median rank of the queries' partners (1 is the best; chance about n/2)."""
    return float(np.median(paired_ranks(queries, gallery)))


def mean_reciprocal_rank(queries, gallery) -> float:
    """The mean of 1 / rank of the queries' partners, in (0, 1] (1 is the best)."""
    return float(np.mean(1.0 / paired_ranks(queries, gallery)))


def paired_retrieval_table(embeddings, ks: Iterable[int] = (1, 5, 10)) -> pd.DataFrame:
    """Paired retrieval between every ordered pair of modalities.

    Parameters
    ----------
    embeddings : mapping of str to array-like of shape (n_samples, n_features)
        Per modality, the embedding of every row (e.g.
        ``CommonSpaceEmbedder.embed(X, m)``); rows where a modality is
        missing are NaN. A pair of modalities is scored on the rows that
        carry both.
    ks : iterable of int, default=(1, 5, 10)
        The K of the recall@K columns.

    Returns
    -------
    table : pandas.DataFrame
        One row per ``(query, gallery)`` modality pair (a MultiIndex):
        ``R@K`` for each K, ``median rank``, ``MRR`` and ``pairs`` (the rows
        scored).

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import paired_retrieval_table
    >>> Z = np.eye(4)
    >>> paired_retrieval_table({"image": Z, "text": Z}, ks=(1,))["R@1"].tolist()
    [1.0, 1.0]
    """
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    arrays = {m: np.asarray(z, dtype=np.float64) for m, z in embeddings.items()}
    if len(arrays) < 2:
        raise ValueError(f"paired retrieval needs at least 2 modalities, got {list(arrays)}")
    lengths = {m: len(z) for m, z in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"every modality must have one embedding per row, got {lengths}")
    rows = []
    for q, zq in arrays.items():
        for g, zg in arrays.items():
            if q == g:
                continue
            both = ~np.isnan(zq).any(1) & ~np.isnan(zg).any(1)
            record = {"query": q, "gallery": g, "pairs": int(both.sum())}
            if both.sum() >= 2:
                r = paired_ranks(zq[both], zg[both])
                record.update({f"R@{k}": float(np.mean(r <= k)) for k in ks})
                record.update({"median rank": float(np.median(r)), "MRR": float(np.mean(1 / r))})
            rows.append(record)
    columns = [f"R@{k}" for k in ks] + ["median rank", "MRR", "pairs"]
    return pd.DataFrame(rows).set_index(["query", "gallery"]).reindex(columns=columns)


def cross_modal_mrr(embeddings) -> float:
    """The mean reciprocal rank of each row's own partner, averaged over ordered modality pairs.

    The label-free counterpart of :func:`skmm.metrics.cross_modal_map`: the
    ``MRR`` column of :func:`paired_retrieval_table`, averaged over the
    pairs of modalities that share at least 2 rows.

    Parameters
    ----------
    embeddings : mapping of str to array-like of shape (n_samples, n_features)
        At least 2 modalities; rows where a modality is missing are NaN.

    Returns
    -------
    float
        In (0, 1], higher is better.

    Raises
    ------
    ValueError
        Fewer than 2 modalities, or no pair of them shares 2 rows.
    """
    table = paired_retrieval_table(embeddings, ks=(1,))
    if table["MRR"].isna().all():
        raise ValueError("paired retrieval needs rows that carry at least 2 modalities; "
                         "fewer than 2 rows do")
    return float(table["MRR"].mean())
