"""Exact top-k search in blocks of bounded memory.

A search of ``n_queries`` against ``n_gallery`` vectors never holds the whole
``n_queries x n_gallery`` similarity matrix: it runs in blocks of up to 512
queries (where BLAS reaches its speed) against as many gallery rows as fit a
working-memory budget (scikit-learn's ``working_memory`` setting, 1 GiB by
default, as in :func:`sklearn.metrics.pairwise_distances_chunked`); the
results of a gallery's chunks are merged. Two buffers (the similarities and a
mask) are allocated once and reused by every block.

Within a block the selection costs little more than reading the matrix once:
the ``k``-th largest of the maxima of ~1,000 groups of each row is a lower
bound of the row's ``k``-th largest value (at least ``k`` elements reach it),
so the comparison against it keeps a handful of candidates per row, which
are then ranked exactly. Rows where the bound keeps too many (a gallery of
near-equal vectors) get the exact ``k``-th value from a partition; rows where
ties still keep too many, or where NaN leaves too few, are ranked whole.
Ties are always broken by the gallery position (the lower first), so the
result does not depend on the block sizes.
"""

from __future__ import annotations

import numpy as np
from sklearn import get_config

__all__ = ["chunk_rows", "iter_top_k"]

#: Groups per row whose maxima bound the k-th largest value (at least 32 per result).
_GROUPS = 1024
#: The most query rows per block (BLAS runs at its fastest from a few hundred).
_BLOCK_ROWS = 512
#: The fewest gallery rows per chunk before blocks take fewer queries.
_MIN_CHUNK = 2048
#: The most gallery rows per chunk: wider blocks are no faster, and take more memory.
_MAX_CHUNK = 2**17


def chunk_rows(row_bytes: int, *, working_memory=None, max_rows: int | None = None) -> int:
    """Rows of ``row_bytes`` bytes each that fit the working-memory budget (at least 1).

    Parameters
    ----------
    row_bytes : int
        Bytes one row of the block needs, temporaries included.
    working_memory : float or None, default=None
        The budget in MiB; None: scikit-learn's ``working_memory`` setting
        (``sklearn.set_config(working_memory=...)``, 1024 by default).
    max_rows : int or None, default=None
        An upper bound on the rows.
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    rows = int(working_memory * 2**20) // max(1, int(row_bytes))
    if max_rows is not None:
        rows = min(rows, int(max_rows))
    return max(1, rows)


def _rank_rows(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` columns of each row by decreasing value, then increasing position."""
    cols = np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
    order = np.lexsort((cols, -sim), axis=1)[:, :k]
    return order.astype(np.int64, copy=False), np.take_along_axis(sim, order, axis=1)


def _groups(width: int, k: int) -> int:
    """Groups whose maxima bound a row's k-th largest value; 0: find that value exactly."""
    # at least 32 groups per result (the bound is then close), at least 16 values per
    # group (reduceat is slow on smaller ones)
    groups = max(32 * k, min(_GROUPS, width // 16))
    return groups if width >= 16 * groups else 0


def _row_bytes(width: int, k: int, itemsize: int) -> int:
    """Bytes one query row of a block ``width`` gallery rows wide needs, temporaries included."""
    if k >= width:  # ranked whole: the similarities, the sort's keys and its order
        return width * (2 * itemsize + 17)
    groups = _groups(width, k)
    # the similarities and the mask; the group maxima and their partition (or the
    # partition of the whole row, for narrow blocks)
    return width * (itemsize + 1) + (2 * groups * itemsize if groups else width * itemsize)


def _lower_bound(sim: np.ndarray, k: int) -> np.ndarray:
    """Per row, a value that at least ``k`` of its elements reach (NaN where NaN interferes)."""
    width = sim.shape[1]
    groups = _groups(width, k)
    if not groups:  # narrow rows: the exact k-th largest value
        return np.partition(sim, width - k, axis=1)[:, width - k]
    size = width // groups
    maxima = np.maximum.reduceat(sim, np.arange(0, groups * size, size), axis=1)
    return np.partition(maxima, groups - k, axis=1)[:, groups - k]


def _select(sim: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` of each row of ``sim`` (best first, ties by position): columns, values.

    ``mask`` is a boolean buffer of the shape of ``sim``, overwritten.
    """
    b, width = sim.shape
    if k >= width:
        return _rank_rows(sim, width)
    cap = max(8 * k, 256)  # candidates per row ranked together
    threshold = _lower_bound(sim, k)
    np.greater_equal(sim, threshold[:, None], out=mask)
    if np.count_nonzero(mask) > b * cap:  # loose bounds: the exact k-th value there
        counts = mask.view(np.uint8).sum(axis=1, dtype=np.int64)
        for i in np.flatnonzero(counts > cap):  # one row at a time: one row's copy
            threshold[i] = np.partition(sim[i], width - k)[width - k]
            np.greater_equal(sim[i], threshold[i], out=mask[i])
            counts[i] = np.count_nonzero(mask[i])
        # ranked whole: rows whose ties pass the cap, or where NaN leaves fewer than k
        apart = np.flatnonzero((counts < k) | (counts > cap))
    else:
        counts = np.bincount(np.flatnonzero(mask) // width, minlength=b)
        apart = np.flatnonzero(counts < k)
    mask[apart] = False
    counts[apart] = 0
    flat = np.flatnonzero(mask)
    rows = flat // width
    cols = flat - rows * width
    values = sim.reshape(-1)[flat]
    order = np.lexsort((cols, -values, rows))
    cols, values = cols[order], values[order]
    indices = np.zeros((b, k), dtype=np.int64)
    best = np.zeros((b, k), dtype=sim.dtype)
    good = np.flatnonzero(counts)
    starts = (np.cumsum(counts) - counts)[good]
    take = starts[:, None] + np.arange(k)
    indices[good], best[good] = cols[take], values[take]
    for i in apart:
        indices[i], best[i] = (a[0] for a in _rank_rows(sim[i: i + 1], k))
    return indices, best


def _merge(a, b, k):
    """The best ``k`` of two (indices, values) results, ties by position."""
    indices = np.concatenate([a[0], b[0]], axis=1)
    values = np.concatenate([a[1], b[1]], axis=1)
    order = np.lexsort((indices, -values), axis=1)[:, :k]
    return np.take_along_axis(indices, order, axis=1), np.take_along_axis(values, order, axis=1)


def iter_top_k(queries: np.ndarray, gallery: np.ndarray, k: int, *, scale=None, bias=None,
               exclude_self: bool = False, max_rows: int | None = None, working_memory=None):
    """The top ``k`` gallery rows of each block of queries, in bounded memory.

    The score of query ``i`` and gallery row ``j`` is
    ``scale * queries[i] @ gallery[j] + bias[j]``, higher is better.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    gallery : ndarray of shape (n_gallery, n_features)
    k : int
        At least 1; capped by the gallery size.
    scale : float or None
    bias : ndarray of shape (n_gallery,) or None
    exclude_self : bool, default=False
        The queries are the gallery: query ``i`` never finds gallery row ``i``
        (its score is -inf).
    max_rows : int or None
        At most this many queries per block.
    working_memory : float or None
        The budget in MiB (see :func:`chunk_rows`).

    Yields
    ------
    start, stop : int
        The block's queries are ``queries[start:stop]``.
    indices : ndarray of shape (stop - start, k), int64
        Gallery positions, best first; ties by position.
    scores : ndarray of shape (stop - start, k)
    """
    n = len(gallery)
    k = min(k, n)
    dtype = np.result_type(queries.dtype, gallery.dtype)
    budget = chunk_rows(1, working_memory=working_memory)  # bytes
    item = dtype.itemsize
    # blocks of up to _BLOCK_ROWS queries (BLAS is at its fastest there) against as
    # much of the gallery as fits; a narrower budget takes fewer queries, not less
    # than _MIN_CHUNK of the gallery at once
    rows = max(1, min(len(queries), _BLOCK_ROWS if max_rows is None else max_rows,
                      _BLOCK_ROWS))

    def widest(rows):  # the widest chunk whose block fits (bytes grow with the width)
        low, high = 1, n
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if rows * _row_bytes(mid, k, item) <= budget else (low,
                                                                                     mid - 1)
        return low

    chunk = min(widest(rows), _MAX_CHUNK)
    if chunk < min(n, _MIN_CHUNK):
        chunk = min(n, _MIN_CHUNK)
        rows = max(1, min(rows, budget // _row_bytes(chunk, k, item)))
        chunk = max(chunk, widest(rows))
    sim_buffer = np.empty(rows * chunk, dtype=dtype)
    mask_buffer = np.empty(rows * chunk, dtype=bool)
    for start in range(0, len(queries), rows):
        stop = min(start + rows, len(queries))
        best = None
        for g0 in range(0, n, chunk):
            g1 = min(g0 + chunk, n)
            shape = (stop - start, g1 - g0)
            sim = sim_buffer[: shape[0] * shape[1]].reshape(shape)
            np.matmul(queries[start:stop], gallery[g0:g1].T, out=sim)
            if scale is not None:
                sim *= scale
            if bias is not None:
                sim += bias[g0:g1]
            if exclude_self:
                own = np.arange(max(start, g0), min(stop, g1))
                sim[own - start, own - g0] = -np.inf
            mask = mask_buffer[: shape[0] * shape[1]].reshape(shape)
            found = _select(sim, min(k, g1 - g0), mask)
            found = (found[0] + g0, found[1])
            best = found if best is None else _merge(best, found, k)
        yield start, stop, best[0], best[1]
