"""Canonical correlation analysis of two towers' features: the classic paired-retrieval baseline.

:class:`TowerCCA` is what a statistician builds from paired images and
captions without labels: the frozen towers' features of each side,
standardised and whitened by PCA, then the canonical directions of the two
sides, whose paired projections are the common space. It has the retrieval surface of
:class:`~skmm.CommonSpaceEmbedder` (``embed``, ``retrieve``, ``transform``,
``score``), so the two are compared on the same rows (the comparison's
paired-retrieval section, ``benchmarks/paired_retrieval.py``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from skmm.inputs.checks import FrameMixin, check_columns, check_frame, set_input_features
from skmm.metrics import cross_modal_mrr
from skmm.search.index import GalleryIndex
from skmm.search.index import retrieve as search_retrieve

__all__ = ["TowerCCA"]


class TowerCCA(FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """CCA between an image column and a text column, on the frozen towers' features.

    Each side: the tower's features (:class:`skmm.encoders.ImageTower`,
    :class:`skmm.encoders.TextTower`: EfficientNet-Lite0 and the multilingual
    Universal Sentence Encoder, computed once per cell per process),
    standardised, PCA to ``pca_components`` with whitening; then the
    ``n_components`` canonical directions: the leading singular vectors of
    the two whitened sides' cross-covariance (CCA in closed form: the
    same directions as scikit-learn's
    :class:`~sklearn.cross_decomposition.CCA` on the whitened features,
    whose iterative solver takes minutes for 64 directions where one SVD
    takes milliseconds). Nothing is trained by gradient and nothing needs
    labels.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        The paired columns.
    n_components : int, default=64
        Dimensions of the common space (CCA directions).
    pca_components : int, default=128
        Dimensions of each side before CCA (CCA on the raw 2,768 and 512
        features of a few thousand rows finds spurious correlations).
    image_encoder : ImageTower or "efficientnet_lite0", default="efficientnet_lite0"
        The image tower (:class:`skmm.encoders.ImageTower`; its settings,
        e.g. ``image_encoder__image_size``, are nested parameters).
    text_encoder : TextTower or "use", default="use"
        The text tower (:class:`skmm.encoders.TextTower`).

    Attributes
    ----------
    image_encoder_, text_encoder_ : ImageTower, TextTower
        The towers, fitted on their columns.
    reducers_ : dict of str to sklearn.pipeline.Pipeline
        ``"image"`` and ``"text"``: StandardScaler + whitening PCA of each side.
    directions_ : dict of str to ndarray of shape (pca_components, n_components)
        The canonical directions of each side (in its whitened PCA space).
    correlations_ : ndarray of shape (n_components,)
        The canonical correlations on the training rows, decreasing.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import TowerCCA
    >>> from skmm.datasets import load_emoji
    >>> X = load_emoji(image_size=32).head(60)
    >>> cca = TowerCCA(n_components=4, pca_components=8).fit(X)
    >>> cca.embed(X, "image").shape
    (60, 4)
    """

    _parameter_constraints = {
        "image_col": [str],
        "text_col": [str],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "pca_components": [Interval(Integral, 1, None, closed="left")],
        "image_encoder": [str, HasMethods(["get_params"])],
        "text_encoder": [str, HasMethods(["get_params"])],
    }

    def __init__(self, image_col="image", text_col="text", *, n_components=64,
                 pca_components=128, image_encoder="efficientnet_lite0", text_encoder="use"):
        self.image_col = image_col
        self.text_col = text_col
        self.n_components = n_components
        self.pca_components = pca_components
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder

    def _columns(self):
        return [self.image_col, self.text_col]

    @property
    def _n_features_out(self):
        return self.n_components

    def get_feature_names_out(self, input_features=None):
        """Names of the output dimensions: ``towercca0``, ``towercca1``, ...

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "directions_")
        return super().get_feature_names_out(input_features)

    def _features(self, X, modality: str) -> np.ndarray:
        column = self.image_col if modality == "image" else self.text_col
        tower = self.image_encoder_ if modality == "image" else self.text_encoder_
        return tower.transform(X[[column]])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the towers' reductions and the CCA on the rows of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds ``image_col`` and ``text_col``, a value in every row.
        y : ignored

        Returns
        -------
        self : TowerCCA

        Raises
        ------
        ValueError
            Fewer rows than ``pca_components`` or ``n_components``
            (naming both), or the input errors of the towers.
        """
        from skmm.encoders import ImageTower, TextTower
        from skmm.encoders._resolve import resolve_encoder

        X = self._check_X(X)
        width = min(self.pca_components, 512)
        if len(X) <= max(width, self.n_components):
            raise ValueError(f"TowerCCA needs more rows ({len(X)}) than pca_components "
                             f"({self.pca_components}) and n_components ({self.n_components})")
        if self.n_components > width:
            raise ValueError(f"n_components={self.n_components} exceeds pca_components="
                             f"{self.pca_components}")
        towers = {}
        for parameter, modality, column, cls in (
                ("image_encoder", "image", self.image_col, ImageTower),
                ("text_encoder", "text", self.text_col, TextTower)):
            tower = resolve_encoder(getattr(self, parameter), modality, allowed=(cls,),
                                    estimator=self, parameter=parameter)
            if tower.column is not None and tower.column != column:
                raise ValueError(f"TowerCCA: {parameter}={cls.__name__}(column="
                                 f"{tower.column!r}) reads another column than {column!r}; "
                                 "leave the tower's column=None")
            towers[parameter] = tower.set_params(column=column).fit(X)
        self.image_encoder_, self.text_encoder_ = towers.values()
        sides = {m: self._features(X, m) for m in ("image", "text")}
        self.reducers_ = {m: make_pipeline(StandardScaler(),
                                           PCA(width, whiten=True, random_state=0)).fit(f)
                          for m, f in sides.items()}
        a, b = (self.reducers_[m].transform(f) for m, f in sides.items())
        # whitened sides: the canonical directions are the singular vectors of
        # the cross-covariance, the canonical correlations its singular values
        u, s, vt = np.linalg.svd(a.T @ b / (len(a) - 1))
        k = self.n_components
        self.directions_ = {"image": u[:, :k], "text": vt[:k].T}
        self.correlations_ = s[:k]
        set_input_features(self, X, self._columns())
        return self

    def embed(self, X, modality: str) -> np.ndarray:
        """The common-space embedding of one side of every row, L2-normalised.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds that modality's column (the other one is not read).
        modality : {"image", "text"}

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
        """
        check_is_fitted(self, "directions_")
        if modality not in ("image", "text"):
            raise ValueError(f"unknown modality {modality!r}; TowerCCA has 'image' and 'text'")
        X = check_frame(X)
        check_columns(X, [self.image_col if modality == "image" else self.text_col],
                      context=f"modality {modality!r}")
        if len(X) == 0:
            raise ValueError("X has no rows")
        reduced = self.reducers_[modality].transform(self._features(X, modality))
        z = (reduced @ self.directions_[modality]).astype(np.float32)
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def transform(self, X):
        """The mean of each row's two embeddings.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
        """
        check_is_fitted(self, "directions_")
        return (self.embed(X, "image") + self.embed(X, "text")) / 2

    def retrieve(self, query, query_modality: str, gallery, gallery_modality=None,
                 k: int = 10, *, return_labels: bool = False):
        """The ``k`` gallery rows closest to each query (as :meth:`CommonSpaceEmbedder.retrieve`).

        ``gallery`` is a frame, or a :class:`skmm.search.GalleryIndex` built
        once by :meth:`build_index` (then only the queries are embedded).

        Returns
        -------
        indices : ndarray of shape (n_queries, k), int64
        similarities : ndarray of shape (n_queries, k), float32
        labels : ndarray of shape (n_queries, k)
            Only with ``return_labels``: the gallery's row labels.
        """
        return search_retrieve(self, query, query_modality, gallery, gallery_modality, k,
                               return_labels=return_labels)

    def build_index(self, X, modality: str, **params):
        """Embed one side of a gallery once (as :meth:`CommonSpaceEmbedder.build_index`).

        Returns
        -------
        skmm.search.GalleryIndex
        """
        return GalleryIndex.from_embedder(self, X, modality, **params)

    def score(self, X, y=None):
        """The mean reciprocal rank of each row's own partner, both directions (higher is better).

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        float
        """
        return cross_modal_mrr({m: self.embed(X, m) for m in ("image", "text")})
