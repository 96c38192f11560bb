"""Embedding and retrieval of a fitted common space: per modality, across modalities.

:class:`RetrievalMixin` holds what :class:`~skmm.CommonSpaceEmbedder` does with
a fitted space: embed each modality of the rows (alone, or attending to the
row's other modalities), retrieve across modalities, and score retrieval
(class mAP with labels, each row's own partner without).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from skmm._base import check_labels
from skmm.inputs import check_columns, check_frame
from skmm.metrics import cross_modal_map, cross_modal_mrr
from skmm.search.index import GalleryIndex
from skmm.search.index import retrieve as search_retrieve
from skmm.training import torch_threads

__all__ = ["RetrievalMixin"]


class RetrievalMixin:
    """Embedding, retrieval and scoring of :class:`~skmm.CommonSpaceEmbedder` (not for
    direct use)."""

    def _embed_all(self, data: dict, names, *, alone: bool = False) -> dict:
        """Per modality: (n, n_components) float32 embeddings, NaN where missing.

        With ``alone`` each modality is embedded on its own (partner stand-ins),
        as a retrieval query or gallery is; otherwise the modalities of a row
        attend to each other.
        """
        check_is_fitted(self, "net_")
        if alone and len(names) > 1:
            out = {}
            for m in names:
                out.update(self._embed_all(data, [m]))
            return out
        net = self.net_
        module = net.module_.eval()
        n = len(next(iter(data.values())))
        out = {m: np.full((n, self.n_components), np.nan, dtype=np.float32) for m in names}
        batch_keys = [k for k in data if k.split("__")[0] in names]
        loader = self._batches({k: data[k] for k in batch_keys}, max(self.batch_size, 256))
        start = 0
        with torch_threads(self.n_threads), self._unseen_words(data), torch.inference_mode():
            for batch, _ in loader:
                size = len(next(iter(batch.values())))
                result = module(**net.to_device(batch))
                for m, (index, z) in result.items():
                    out[m][start + index.cpu().numpy()] = z.float().cpu().numpy()
                start += size
        return out

    def _mean_embedding(self, data: dict) -> np.ndarray:
        per = self._embed_all(data, list(self.modalities_))
        stacked = np.stack(list(per.values()))
        present = ~np.isnan(stacked[..., 0])
        total = np.where(present[..., None], stacked, 0).sum(0)
        return (total / present.sum(0)[:, None]).astype(np.float32)

    def embed(self, X, modality: str) -> np.ndarray:
        """Embed one modality of every row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds that modality's column, with a value in every row.
        modality : str
            A trained modality.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
            L2-normalised embeddings.
        """
        check_is_fitted(self, "net_")
        if modality not in self.modalities_:
            raise ValueError(f"unknown modality {modality!r}; trained: {list(self.modalities_)}")
        X = check_frame(X)
        if len(X) == 0:
            raise ValueError("X has no rows")
        check_columns(X, [self.modalities_[modality]["column"]],
                      context=f"modality {modality!r}")
        data = self._prepare_fitted(X, [modality], require_all=True)
        return self._embed_all(data, [modality])[modality]

    def retrieve(self, query, query_modality: str, gallery, gallery_modality=None,
                 k: int = 10, *, return_labels: bool = False):
        """Find the ``k`` gallery items closest to each query, across modalities.

        Parameters
        ----------
        query : pandas.DataFrame
            Rows holding ``query_modality``.
        query_modality : str
            A trained modality.
        gallery : pandas.DataFrame or skmm.search.GalleryIndex
            Rows holding ``gallery_modality``, embedded on every call; or an
            index built once by :meth:`build_index` (possibly saved and
            loaded), of which only the queries are embedded.
        gallery_modality : str or None, default=None
            A trained modality (equal to ``query_modality`` for intra-modal
            retrieval); needed with a frame, taken from an index.
        k : int, default=10
            Results per query (at most the gallery size).
        return_labels : bool, default=False
            Also return the gallery's row labels of the results.

        Returns
        -------
        indices : ndarray of shape (n_queries, k), int64
            Positions in ``gallery``, best first (ties by position).
        similarities : ndarray of shape (n_queries, k), float32
            Cosine similarities.
        labels : ndarray of shape (n_queries, k)
            The gallery's row labels (its index) at ``indices``; only with
            ``return_labels``.

        See Also
        --------
        build_index : embed a gallery once, for many searches.
        """
        return search_retrieve(self, query, query_modality, gallery, gallery_modality, k,
                        return_labels=return_labels)

    def build_index(self, X, modality: str, **params):
        """Embed one modality of a gallery once, for many :meth:`retrieve` calls.

        Parameters
        ----------
        X : pandas.DataFrame
            The gallery: every row holds ``modality``; its index labels the
            results.
        modality : str
            A trained modality.
        **params
            Parameters of :class:`skmm.search.GalleryIndex`: ``method``
            (``"exact"`` by default; ``"hnsw"`` or ``"auto"`` for approximate
            search with faiss), ``ef_search`` ...

        Returns
        -------
        skmm.search.GalleryIndex
            Fitted; ``save`` it, ``GalleryIndex.load`` it, pass it to
            :meth:`retrieve` as ``gallery``.

        Examples
        --------
        >>> from skmm import CommonSpaceEmbedder
        >>> from skmm.datasets import make_shapes
        >>> X = make_shapes(24, image_size=16, random_state=0)
        >>> space = CommonSpaceEmbedder(n_components=8, max_epochs=1, random_state=0)
        >>> space = space.fit(X, X["label"])
        >>> index = space.build_index(X, "image")
        >>> indices, similarities, labels = space.retrieve(X[:2], "text", index, k=3,
        ...                                                return_labels=True)
        >>> labels.shape
        (2, 3)
        """
        return GalleryIndex.from_embedder(self, X, modality, **params)

    def score(self, X, y=None):
        """Cross-modal retrieval on ``X``: of its classes with ``y``, of its own pairs without.

        Each modality is embedded on its own, as a retrieval query or
        gallery is. With ``y``: the mean mAP@``map_k`` over ordered modality
        pairs, every modality of ``X`` querying every other one (rows
        missing a modality are left out of its queries and gallery; with a
        single trained modality, intra-modal retrieval without the query
        itself). Without ``y``: the mean reciprocal rank of each row's own
        partner (:func:`skmm.metrics.paired_retrieval_table`'s ``MRR``),
        averaged over ordered modality pairs, each on the rows that carry
        both; it needs no labels, so GridSearchCV can tune a space learned
        from pairs, and it falls as ``X`` grows (more rows to confuse).

        Parameters
        ----------
        X : pandas.DataFrame
        y : array-like of shape (n_samples,) or None
            Class labels; an item is relevant to a query of the same class.

        Returns
        -------
        float
            In [0, 1], higher is better (for GridSearchCV).
        """
        return super().score(X, y)

    def _score(self, X, data: dict, y) -> float:
        per = self._embed_all(data, list(self.modalities_), alone=True)
        if y is not None:
            y = check_labels(X, y, estimator=self, min_classes=1)
            return cross_modal_map(per, y, k=self.map_k)
        if len(per) < 2:
            raise ValueError("score without y ranks each row's own partner across modalities; "
                             f"the embedder has one modality {list(per)}: pass y")
        return cross_modal_mrr(per)
