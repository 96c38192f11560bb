"""A gallery index: one modality of a table embedded once, then searched many times."""

from __future__ import annotations

import json
import numbers
import os
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from skmm.metrics.retrieval import top_k

__all__ = ["AUTO_HNSW_ROWS", "GalleryIndex", "retrieve"]

#: ``method="auto"`` builds an HNSW graph from this many gallery rows, exact
#: search below. Measured by ``benchmarks/scale.py`` (``results/scale.md``: 2 shared
#: CPU cores, 256-d embeddings of low intrinsic dimension, 10,000 queries): at
#: 10^5 rows exact search costs about 1 ms a query and needs no build (the graph,
#: 11 s to build, is 4.7x faster at recall@10 0.993); at 10^6 rows it costs 6.8 ms,
#: against 0.63 ms for the graph at recall 0.947 (``ef_search=128``; 1.2 ms at
#: 0.988 with 256) after a build of 170 s. Between the two, a query's exact cost
#: reaches a few milliseconds and a few tens of thousands of queries repay the build.
AUTO_HNSW_ROWS = 500_000

_METHODS = ("exact", "hnsw", "auto")
_FORMAT = "skmm.search.GalleryIndex"
_FORMAT_VERSION = 1


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("method='hnsw' needs faiss-cpu: pip install 'skmm[ann]' "
                          "(or pip install faiss-cpu)") from exc
    return faiss


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _faiss_threads(n_threads):
    """faiss's OpenMP threads set to ``n_threads`` for the block (None: as they are)."""
    if n_threads is None:
        yield
        return
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(n_threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _unit_float32(Z, name: str) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_components), got shape {Z.shape}")
    if not np.isfinite(Z).all():
        rows = np.flatnonzero(~np.isfinite(Z).all(axis=1))
        raise ValueError(f"{name} has non-finite values in rows {rows[:5].tolist()}: "
                         "embed rows that hold the modality")
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return np.ascontiguousarray(Z / np.maximum(norms, np.finfo(np.float32).tiny))


def _json_name(name):
    """An index's name as JSON keeps it: str, int, float or None as it is, else its str."""
    return name if name is None or isinstance(name, (str, int, float)) else str(name)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


class GalleryIndex:
    """The embeddings of one modality of a table and its row labels, searched many times.

    Build it once from a fitted space (:meth:`from_embedder`, or the
    space's ``build_index``), or from embeddings you already have
    (:meth:`fit`); save it (:meth:`save`, a ``.npz`` file loaded without
    pickle), load it (:meth:`load`) and pass it to ``retrieve`` in place of
    the gallery frame: only the queries are embedded then. :meth:`search`
    searches it with query embeddings directly.

    The embeddings are kept as unit-length float32 rows, so the similarity
    is the cosine. Exact search is :func:`skmm.metrics.top_k` (bounded
    memory, ties broken by gallery position). Approximate search builds a
    faiss HNSW graph (``IndexHNSWFlat``, inner product; ``pip install
    'skmm[ann]'``): a search then costs about the logarithm of the gallery
    size instead of the gallery size, at a recall below 1 that
    ``ef_search`` trades against time. The graph holds a second copy of the
    embeddings.

    Parameters
    ----------
    method : {"exact", "hnsw", "auto"}, default="exact"
        ``"auto"``: ``"hnsw"`` from ``auto_rows`` gallery rows when faiss is
        installed (else exact, with a warning), ``"exact"`` below. The
        method used is ``method_``.
    auto_rows : int, default=AUTO_HNSW_ROWS
        The gallery size from which ``"auto"`` builds a graph (measured:
        :data:`skmm.search.AUTO_HNSW_ROWS`).
    hnsw_m : int, default=32
        Neighbours per node of the graph (faiss's ``M``): more is a better
        recall for more memory (``8 * hnsw_m`` bytes per row) and a slower
        build.
    ef_construction : int, default=40
        The candidate list of the build: more is a better graph, built
        more slowly.
    ef_search : int, default=128
        The candidate list of a search (at least ``k``): more is a better
        recall, searched more slowly. Can be changed after the build.
    n_threads : int or None, default=None
        faiss's threads while it builds and searches (None: faiss's
        default, the machine's cores). Exact search runs on numpy's BLAS
        threads.
    working_memory : float or None, default=None
        MiB for a block of exact search (see :func:`skmm.metrics.top_k`).

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_rows, n_components), float32
        Unit-length rows.
    labels_ : pandas.Index
        The gallery's row labels (its index), in the order of the rows.
    modality_ : str or None
        The modality embedded, when known.
    source_ : str or None
        The class of the embedder that built it, when known.
    n_components_ : int
    method_ : {"exact", "hnsw"}
    hnsw_ : faiss.IndexHNSWFlat or None
        The graph, with ``method_ == "hnsw"``.

    See Also
    --------
    skmm.metrics.top_k : exact search of arrays.
    skmm.CommonSpaceEmbedder.retrieve : search across modalities.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm.search import GalleryIndex
    >>> Z = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> index = GalleryIndex().fit(Z, pd.Index(["sun", "sea", "sky"]))
    >>> indices, similarities, labels = index.search([[0.0, 2.0]], k=2, return_labels=True)
    >>> labels.tolist()
    [['sea', 'sky']]
    """

    def __init__(self, method="exact", *, auto_rows=AUTO_HNSW_ROWS, hnsw_m=32,
                 ef_construction=40, ef_search=128, n_threads=None, working_memory=None):
        self.method = method
        self.auto_rows = auto_rows
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.n_threads = n_threads
        self.working_memory = working_memory

    _PARAMS = ("method", "auto_rows", "hnsw_m", "ef_construction", "ef_search", "n_threads",
               "working_memory")

    def get_params(self) -> dict:
        """The constructor's parameters, by name."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def __repr__(self) -> str:
        defaults = GalleryIndex()
        changed = [f"{n}={getattr(self, n)!r}" for n in self._PARAMS
                   if getattr(self, n) != getattr(defaults, n)]
        fitted = (f", {len(self)} rows x {self.n_components_}, {self.method_}"
                  if hasattr(self, "embeddings_") else "")
        return f"GalleryIndex({', '.join(changed)}){fitted}"

    def _check_params(self):
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        for name in ("auto_rows", "hnsw_m", "ef_construction", "ef_search"):
            _check_positive_int(getattr(self, name), name)
        if self.n_threads is not None:
            _check_positive_int(self.n_threads, "n_threads")

    def _resolve_method(self, n_rows: int) -> str:
        if self.method != "auto":
            return self.method
        if n_rows < self.auto_rows:
            return "exact"
        if not _faiss_available():
            warnings.warn(f"method='auto' would build an HNSW graph for {n_rows:,} rows "
                          f"(from auto_rows={self.auto_rows:,}), but faiss is not "
                          "installed: searching exactly. pip install 'skmm[ann]' for "
                          "approximate search", UserWarning, stacklevel=3)
            return "exact"
        return "hnsw"

    def fit(self, embeddings, labels=None, *, modality=None, source=None):
        """Index ``embeddings`` (normalised to unit length) under their row labels.

        Parameters
        ----------
        embeddings : array-like of shape (n_rows, n_components)
            Finite values; each row is scaled to unit length.
        labels : array-like of shape (n_rows,) or None, default=None
            The rows' labels (a frame's index); None: 0 .. n_rows - 1.
        modality : str or None, default=None
            The modality the embeddings are of, checked by ``retrieve``.
        source : str or None, default=None
            What made the embeddings (the embedder's class name).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            No rows, non-finite values, labels of another length, or an
            invalid parameter.
        """
        self._check_params()
        Z = _unit_float32(embeddings, "embeddings")
        if len(Z) == 0:
            raise ValueError("embeddings has no rows: an index needs a gallery")
        labels = pd.RangeIndex(len(Z)) if labels is None else pd.Index(labels)
        if len(labels) != len(Z):
            raise ValueError(f"labels has {len(labels)} entries for {len(Z)} embeddings")
        method = self._resolve_method(len(Z))
        graph = self._build_hnsw(Z) if method == "hnsw" else None
        self.embeddings_, self.labels_ = Z, labels
        self.modality_, self.source_ = modality, source
        self.n_components_ = Z.shape[1]
        self.method_, self.hnsw_ = method, graph
        return self

    def _build_hnsw(self, Z: np.ndarray):
        faiss = _faiss()
        graph = faiss.IndexHNSWFlat(Z.shape[1], int(self.hnsw_m), faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = int(self.ef_construction)
        with _faiss_threads(self.n_threads):
            graph.add(Z)
        return graph

    @classmethod
    def from_embedder(cls, embedder, X, modality: str, **params):
        """Embed ``modality`` of every row of ``X`` with a fitted ``embedder`` and index it.

        Parameters
        ----------
        embedder : fitted estimator with ``embed(X, modality)``
            A :class:`~skmm.CommonSpaceEmbedder` or
            :class:`~skmm.baselines.TowerCCA`.
        X : pandas.DataFrame
            The gallery: every row holds ``modality``. Its index gives the
            labels of the results.
        modality : str
            A modality of the embedder.
        **params
            Parameters of :class:`GalleryIndex` (``method``, ``ef_search``
            ...).

        Returns
        -------
        GalleryIndex
            Fitted.
        """
        index = cls(**params)
        index._check_params()  # before the embedding's cost
        Z = embedder.embed(X, modality)
        return index.fit(Z, X.index, modality=modality, source=type(embedder).__name__)

    def _check_fitted(self):
        if not hasattr(self, "embeddings_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this GalleryIndex is not fitted: call fit or "
                                 "GalleryIndex.from_embedder first")

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.embeddings_)

    def search(self, queries, k: int = 10, *, return_labels: bool = False):
        """The ``k`` indexed rows most similar (cosine) to each query, best first.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_components)
            Query embeddings of the space that built the index (``n_components``
            is its ``n_components_``); each row is scaled to unit length.
        k : int, default=10
            At least 1; capped by the gallery size.
        return_labels : bool, default=False
            Also return the results' row labels.

        Returns
        -------
        indices : ndarray of shape (n_queries, k), int64
            Positions in the gallery, best first (ties by position).
        similarities : ndarray of shape (n_queries, k), float32
        labels : ndarray of shape (n_queries, k)
            The gallery's row labels at ``indices``; only with
            ``return_labels``.

        Raises
        ------
        ValueError
            ``k`` below 1, or queries whose width is not ``n_components_``
            (embeddings of another space).
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        Q = _unit_float32(queries, "queries")
        if Q.shape[1] != self.n_components_:
            raise ValueError(f"the queries have {Q.shape[1]} components but the index holds "
                             f"{self.n_components_}-d embeddings: query it with the space "
                             f"that built it{f' ({self.source_})' if self.source_ else ''}")
        k = min(int(k), len(self))
        if self.method_ == "hnsw" and len(Q):
            indices, similarities = self._search_hnsw(Q, k)
        else:
            indices, similarities = top_k(Q, self.embeddings_, k,
                                          working_memory=self.working_memory)
        if return_labels:
            return indices, similarities, self.labels_.to_numpy()[indices]
        return indices, similarities

    def _search_hnsw(self, Q: np.ndarray, k: int):
        params = _faiss().SearchParametersHNSW()  # per call: the graph is not modified
        params.efSearch = max(int(self.ef_search), k)
        with _faiss_threads(self.n_threads):
            similarities, indices = self.hnsw_.search(Q, k, params=params)
        missing = indices < 0  # fewer than k found: filled with the exact search's rows
        if missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            indices[rows], similarities[rows] = top_k(Q[rows], self.embeddings_, k)
        # best first, ties by gallery position (as exact search)
        order = np.lexsort((indices, -similarities), axis=1)
        return (np.take_along_axis(indices, order, axis=1).astype(np.int64, copy=False),
                np.take_along_axis(similarities, order, axis=1))

    # ---- persistence -----------------------------------------------------------------

    def save(self, path) -> None:
        """Write the index to ``path``, a ``.npz`` file that :meth:`load` reads back.

        The file holds the parameters, the labels and either the embeddings
        (exact) or the faiss graph with its embeddings (HNSW); nothing is
        pickled, so loading a file runs no code from it.

        Parameters
        ----------
        path : str or path-like
            Written as given (no suffix is added).

        Raises
        ------
        ValueError
            Labels that cannot be stored without pickle (objects of mixed
            types, tuples): pickle the index with joblib instead.
        """
        self._check_fitted()
        labels = self.labels_.to_numpy()
        if labels.dtype == object:
            if not all(isinstance(v, str) for v in labels):
                kinds = sorted({type(v).__name__ for v in labels})
                raise ValueError(f"labels of types {kinds} cannot be saved without pickle; "
                                 "save the index with joblib.dump (it pickles), or give "
                                 "the gallery string or numeric row labels")
            labels = labels.astype(str)
        meta = {"format": _FORMAT, "version": _FORMAT_VERSION, "params": self.get_params(),
                "modality": self.modality_, "source": self.source_, "method": self.method_,
                "labels_name": _json_name(self.labels_.name), "labels_range": isinstance(
                    self.labels_, pd.RangeIndex)}
        arrays = {"meta": np.array(json.dumps(meta)), "labels": labels}
        if self.method_ == "hnsw":
            arrays["hnsw"] = _faiss().serialize_index(self.hnsw_)
        else:
            arrays["embeddings"] = self.embeddings_
        with open(os.fspath(path), "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> GalleryIndex:
        """Read an index written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        GalleryIndex
            Fitted, as saved.

        Raises
        ------
        ValueError
            A file that is not a saved :class:`GalleryIndex`.
        """
        with np.load(os.fspath(path), allow_pickle=False) as data:
            try:
                meta = json.loads(str(data["meta"]))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{os.fspath(path)!r} is not a saved GalleryIndex") from exc
            if meta.get("format") != _FORMAT or meta.get("version") != _FORMAT_VERSION:
                raise ValueError(f"{os.fspath(path)!r} is not a saved GalleryIndex of "
                                 f"version {_FORMAT_VERSION}")
            labels = data["labels"]
            graph = embeddings = None
            if meta["method"] == "hnsw":
                faiss = _faiss()
                graph = faiss.deserialize_index(data["hnsw"])
                embeddings = graph.reconstruct_n(0, graph.ntotal)
            else:
                embeddings = data["embeddings"]
        index = cls(**meta["params"])
        labels = (pd.RangeIndex(len(labels), name=meta["labels_name"]) if meta["labels_range"]
                  else pd.Index(labels.astype(object) if labels.dtype.kind == "U" else labels,
                                name=meta["labels_name"]))
        index.embeddings_, index.labels_ = np.ascontiguousarray(embeddings), labels
        index.modality_, index.source_ = meta["modality"], meta["source"]
        index.n_components_ = index.embeddings_.shape[1]
        index.method_, index.hnsw_ = meta["method"], graph
        return index

    def __getstate__(self):
        state = self.__dict__.copy()
        if state.get("hnsw_") is not None:  # faiss objects pickle as their serialization
            state["hnsw_"] = _faiss().serialize_index(state["hnsw_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("hnsw_"), np.ndarray):
            state["hnsw_"] = _faiss().deserialize_index(state["hnsw_"])
        self.__dict__.update(state)


def retrieve(embedder, query, query_modality: str, gallery, gallery_modality=None,
             k: int = 10, *, return_labels: bool = False):
    """Embed the queries and search a gallery frame (embedded too) or a :class:`GalleryIndex`.

    What ``retrieve`` of :class:`~skmm.CommonSpaceEmbedder` and
    :class:`~skmm.baselines.TowerCCA` runs.

    Parameters
    ----------
    embedder : fitted estimator with ``embed(X, modality)``
    query : pandas.DataFrame
    query_modality : str
    gallery : pandas.DataFrame or GalleryIndex
        A frame is embedded (``gallery_modality``) and searched exactly; an
        index is searched as it was built, and only the queries are
        embedded.
    gallery_modality : str or None, default=None
        Required with a frame; with an index, None or the index's modality.
    k : int, default=10
    return_labels : bool, default=False
        Also return the row labels of the results (the gallery's index).

    Returns
    -------
    indices, similarities[, labels]
        As :meth:`GalleryIndex.search`.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if isinstance(gallery, GalleryIndex):
        gallery._check_fitted()
        if (gallery_modality is not None and gallery.modality_ is not None
                and gallery_modality != gallery.modality_):
            raise ValueError(f"gallery_modality={gallery_modality!r}, but the index holds "
                             f"embeddings of {gallery.modality_!r}")
        return gallery.search(embedder.embed(query, query_modality), k,
                              return_labels=return_labels)
    if gallery_modality is None:
        raise ValueError("gallery_modality is needed when the gallery is a frame (it can be "
                         "left out only for a GalleryIndex, which knows its modality)")
    queries = embedder.embed(query, query_modality)
    indices, similarities = top_k(queries, embedder.embed(gallery, gallery_modality), k)
    if return_labels:
        return indices, similarities, gallery.index.to_numpy()[indices]
    return indices, similarities
