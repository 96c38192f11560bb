"""Paired retrieval: row i of one modality should find row i of the other.

Without labels the only truth is the pairing of the rows (a picture and its
caption). These metrics rank, for each query row, every gallery row by
cosine similarity and report where the query's own partner lands:
recall@K (the share of queries whose partner is among the first K), the
median rank and the mean reciprocal rank. Ties count against the query (a
partner tied with another row is ranked after it), so a constant embedding
scores as badly as it should.

**Several captions per item.** A picture may have several captions (COCO and
Flickr have five; the emoji an English and a Chinese name). Give every row
the id of its item (``query_items=``, ``gallery_items=``; a mapping
``items=`` in :func:`paired_retrieval_table`): a query's relevant rows are
then the gallery rows of its item, a hit is any of them, and its rank is
that of the best-ranked one. Queries and gallery may then differ in length.
Without ids, row ``i`` is its own item (the default, one partner per query).
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


def _item_codes(query_items, gallery_items, n_queries: int, n_gallery: int):
    """Integer codes of the query and gallery items over their union (None: no ids)."""
    if query_items is None and gallery_items is None:
        return None
    if query_items is None or gallery_items is None:
        raise ValueError("query_items and gallery_items go together: give the item of every "
                         "query row and of every gallery row (or neither: row i of each is "
                         "a pair)")
    arrays = []
    for name, items, n in (("query_items", query_items, n_queries),
                           ("gallery_items", gallery_items, n_gallery)):
        items = np.asarray(items, dtype=object) if not isinstance(items, np.ndarray) else items
        if items.ndim != 1 or len(items) != n:
            raise ValueError(f"{name} must hold one item id per row ({n} rows), got shape "
                             f"{items.shape}")
        arrays.append(pd.Series(items, dtype=object))
    codes, _ = pd.factorize(pd.concat(arrays, ignore_index=True))
    if (codes < 0).any():
        raise ValueError("query_items and gallery_items must not hold missing values (None "
                         "or NaN)")
    qc, gc = codes[:n_queries], codes[n_queries:]
    lonely = ~np.isin(qc, gc)
    if lonely.any():
        rows = np.flatnonzero(lonely)
        raise ValueError(f"{len(rows)} queries have no relevant gallery row (no gallery row of "
                         f"their item): query rows {rows[:5].tolist()}, items "
                         f"{[arrays[0][i] for i in rows[:5]]}")
    return qc, gc


def paired_ranks(queries, gallery, *, query_items=None, gallery_items=None,
                 batch_size: int = 1024) -> np.ndarray:
    """The rank of each query's partner: the gallery row of the same position, or of its item.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
        Without item ids row ``i`` is paired with row ``i`` of ``gallery``.
    gallery : array-like of shape (n_gallery, n_features)
        Of the shape of ``queries`` without item ids.
    query_items, gallery_items : array-like of shape (n_queries,) and (n_gallery,), default=None
        The item (any hashable id) of each query and gallery row, given
        together: a query's relevant rows are the gallery rows of its item
        (several captions of one picture), and every query needs at least
        one. None: row ``i`` of each is one item.
    batch_size : int, default=1024
        The most queries ranked at once (memory: ``batch_size x n_gallery``
        float64 and booleans, and no more than scikit-learn's
        ``working_memory``, 1 GiB by default).

    Returns
    -------
    ranks : ndarray of shape (n_queries,), int64
        1 is the best: 1 + the number of irrelevant gallery rows at least
        as similar (cosine) to the query as its best-ranked relevant row
        (without ids: as its partner).

    Raises
    ------
    ValueError
        Shapes that do not match, only one of the item arrays, an item
        array of the wrong length, a query without a relevant gallery row.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.metrics import paired_ranks
    >>> paired_ranks(np.eye(3), np.eye(3)[[0, 2, 1]])  # rows 1 and 2 tie with every row
    array([1, 3, 3])

    Two pictures with two captions each: picture 0's second caption comes
    first, picture 1's captions come after one of picture 0's:

    >>> captions = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> paired_ranks(np.eye(2), captions, query_items=["a", "b"],
    ...              gallery_items=["a", "a", "b", "b"])
    array([1, 2])
    """
    queries = _check_embedding(queries, name="queries")
    gallery = _check_embedding(gallery, name="gallery")
    codes = _item_codes(query_items, gallery_items, len(queries), len(gallery))
    if codes is None and queries.shape != gallery.shape:
        raise ValueError(f"queries {queries.shape} and gallery {gallery.shape} must have the "
                         "same shape: row i of each is a pair (or give query_items and "
                         "gallery_items)")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} features but the gallery has "
                         f"{gallery.shape[1]}")
    q, g = _unit(queries), _unit(gallery)
    ranks = np.empty(len(q), dtype=np.int64)
    # per query row: its float64 similarities, the comparisons' booleans (with ids: the
    # relevance mask and the masked copy too)
    row_bytes = len(g) * (10 if codes is None else 19)
    batch_size = chunk_rows(row_bytes, max_rows=_check_int(batch_size, "batch_size", low=1))
    for start in range(0, len(q), batch_size):
        stop = min(start + batch_size, len(q))
        sim = q[start:stop] @ g.T
        if codes is None:
            true = sim[np.arange(stop - start), np.arange(start, stop)]
            # the partner itself is counted once by ">=": the rank is that count
            ranks[start:stop] = (sim >= true[:, None]).view(np.uint8).sum(1, dtype=np.int64)
        else:
            relevant = codes[1][None, :] == codes[0][start:stop, None]
            best = np.where(relevant, sim, -np.inf).max(1)
            ahead = (sim >= best[:, None]) & ~relevant
            ranks[start:stop] = 1 + ahead.view(np.uint8).sum(1, dtype=np.int64)
            del relevant, ahead
        del sim  # before the next block's is made
    return ranks


def recall_at_k(queries, gallery, k: int = 10, *, query_items=None,
                gallery_items=None) -> float:
    """The share of queries with a relevant gallery row among the ``k`` most similar.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
    gallery : array-like of shape (n_gallery, n_features)
        Without item ids, row ``i`` of each is a pair.
    k : int, default=10
    query_items, gallery_items : array-like, default=None
        The item of each query and gallery row: a hit is any gallery row of
        the query's item (:func:`paired_ranks`).

    Returns
    -------
    float
        In [0, 1]; chance is about ``k x`` the share of relevant rows in
        the gallery (``k / n_pairs`` with one partner each).
    """
    k = _check_int(k, "k", low=1)
    return float(np.mean(paired_ranks(queries, gallery, query_items=query_items,
                                      gallery_items=gallery_items) <= k))


def median_rank(queries, gallery, *, query_items=None, gallery_items=None) -> float:
    """The median rank of the queries' partners (1 is the best; chance about n/2).

    ``query_items`` and ``gallery_items``: the item of each row, a query's
    rank that of its best-ranked relevant row (:func:`paired_ranks`).
    """
    return float(np.median(paired_ranks(queries, gallery, query_items=query_items,
                                        gallery_items=gallery_items)))


def mean_reciprocal_rank(queries, gallery, *, query_items=None, gallery_items=None) -> float:
    """The mean of 1 / rank of the queries' partners, in (0, 1] (1 is the best).

    ``query_items`` and ``gallery_items``: the item of each row, a query's
    rank that of its best-ranked relevant row (:func:`paired_ranks`).
    """
    return float(np.mean(1.0 / paired_ranks(queries, gallery, query_items=query_items,
                                            gallery_items=gallery_items)))


def _present(z: np.ndarray, items) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``z`` without NaN and their items, a repeated (item, embedding) once."""
    rows = ~np.isnan(z).any(1)
    z, items = z[rows], items[rows]
    if len(z):
        frame = pd.DataFrame(z)
        frame["__item__"] = pd.Series(items, dtype=object).to_numpy()
        keep = ~frame.duplicated().to_numpy()
        z, items = z[keep], items[keep]
    return z, items


def paired_retrieval_table(embeddings, ks: Iterable[int] = (1, 5, 10), *,
                           items=None) -> pd.DataFrame:
    """Paired retrieval between every ordered pair of modalities.

    Parameters
    ----------
    embeddings : mapping of str to array-like of shape (n_samples, n_features)
        Per modality, the embedding of every row (e.g.
        ``CommonSpaceEmbedder.embed(X, m)``); rows where a modality is
        missing are NaN. Without ``items`` a pair of modalities is scored on
        the rows that carry both.
    ks : iterable of int, default=(1, 5, 10)
        The K of the recall@K columns.
    items : mapping of str to array-like, array-like or None, default=None
        The item id of each row, per modality (then the modalities may
        have different numbers of rows: a picture once, each of its
        captions once), or one array for all. A query's hits are the
        gallery rows of its item, its rank that of the best-ranked one
        (:func:`paired_ranks`). A pair of modalities is scored on the items
        that both carry; rows of one modality with the same item and the
        same embedding count once (a long table that repeats a picture on
        each caption's row ranks each picture once). None: each row is its
        own item.

    Returns
    -------
    table : pandas.DataFrame
        One row per ``(query, gallery)`` modality pair (a MultiIndex):
        ``R@K`` for each K, ``median rank``, ``MRR`` and ``pairs`` (the
        queries scored).

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
    if items is None:
        if len(set(lengths.values())) > 1:
            raise ValueError(f"every modality must have one embedding per row, got {lengths} "
                             "(with several rows per item, give items=)")
        item_of = dict.fromkeys(arrays, np.arange(next(iter(lengths.values()))))
    else:
        if isinstance(items, dict):
            missing = [m for m in arrays if m not in items]
            if missing:
                raise ValueError(f"items has no entry for modalities {missing}")
            item_of = {m: np.asarray(items[m], dtype=object) for m in arrays}
        else:
            item_of = dict.fromkeys(arrays, np.asarray(items, dtype=object))
        for m, ids in item_of.items():
            if ids.ndim != 1 or len(ids) != lengths[m]:
                raise ValueError(f"items of modality {m!r} must hold one id per row "
                                 f"({lengths[m]} rows), got shape {ids.shape}")
    present = {m: _present(arrays[m], item_of[m]) if items is not None
               else (arrays[m], item_of[m]) for m in arrays}
    rows = []
    for q in arrays:
        for g in arrays:
            if q == g:
                continue
            (zq, iq), (zg, ig) = present[q], present[g]
            if items is None:  # the rows that carry both
                both = ~np.isnan(zq).any(1) & ~np.isnan(zg).any(1)
                zq, iq, zg, ig = zq[both], iq[both], zg[both], ig[both]
            else:  # the items that both carry
                shared = set(iq.tolist()) & set(ig.tolist())
                kq = np.fromiter((i in shared for i in iq), bool, len(iq))
                kg = np.fromiter((i in shared for i in ig), bool, len(ig))
                zq, iq, zg, ig = zq[kq], iq[kq], zg[kg], ig[kg]
            record = {"query": q, "gallery": g, "pairs": len(zq)}
            if len(zq) >= 2 and len(zg) >= 2:
                r = (paired_ranks(zq, zg) if items is None
                     else paired_ranks(zq, zg, query_items=iq, gallery_items=ig))
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
