"""Matrix-factorization and early-fusion baselines of MMEDA, as sklearn transformers.

* :class:`CollectiveMF`: collective matrix factorization of an image matrix and
  a text matrix that share their rows, ``X_m ≈ U V_mᵀ``, by regularised
  alternating least squares (:func:`collective_als`).
* :class:`EarlyFusion`: the concatenation of image features and mean word
  vectors.

* :class:`AutoencoderMF`: autoencoder matrix factorization of the
  concatenated image and text features, with a column autoencoder (with
  conv-autoencoder image features: the paper's "ConvAE MF"), trained with
  skorch like the embedders.

The image matrix of each comes from
:class:`~skmm.baselines.features.ImageFeatures`, the text matrix from
:class:`skmm.inputs.TextFeatures`; ``skmm.baselines.features`` builds both.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from skmm._base import BaseEmbedder, holdout
from skmm._params import CONSTRAINTS, TRAINING, constraints
from skmm.baselines.features import (
    _BLOCK_CONSTRAINTS,
    _FeatureBlocks,
    _TwoBlocks,
    fill_block_doc,
)
from skmm.inputs.checks import set_input_features
from skmm.nn.mmeda import AutoencoderMF as AutoencoderMFModule

__all__ = ["AutoencoderMF", "CollectiveMF", "EarlyFusion", "collective_als"]


# ---------------------------------------------------------------------------
# Early fusion
# ---------------------------------------------------------------------------


@fill_block_doc
class EarlyFusion(_TwoBlocks):
    """Concatenated image features and mean word vectors (early fusion).

    Parameters
    ----------
    %(blocks)s
    random_state : int, RandomState instance or None, default=None
        Seeds Word2Vec, PCA and the conv autoencoder.

    Attributes
    ----------
    image_features_ : ImageFeatures
    text_features_ : skmm.inputs.TextFeatures
    text_encoder_ : skmm.encoders.TextMatrix or "passthrough"
        The fitted clone of ``text_encoder`` (``features_``: its ``"auto"``
        resolved).
    n_image_features_, n_text_features_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import EarlyFusion
    >>> from skmm.datasets import make_shapes
    >>> from skmm.encoders import TextMatrix
    >>> X = make_shapes(30, image_size=16, random_state=0)
    >>> EarlyFusion(n_image_components=5, text_encoder=TextMatrix("word2vec", vector_size=8),
    ...             random_state=0).fit_transform(X).shape
    (30, 13)
    """

    _parameter_constraints = dict(_BLOCK_CONSTRAINTS)

    def __init__(self, image_col="image", text_col="text", *, image_features="pca",
                 image_size=16, n_image_components=50, text_encoder=None, random_state=None):
        self.image_col = image_col
        self.text_col = text_col
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_encoder = text_encoder
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit both feature blocks on ``X``; return self."""
        self.fit_transform(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return ``[image features | text features]`` of ``X`` (float32)."""
        X = self._check_X(X)
        blocks = self._fit_blocks(X)
        mi, mt = blocks.pop("image"), blocks.pop("text")
        for name, value in blocks.items():
            setattr(self, name, value)
        self.n_image_features_, self.n_text_features_ = mi.shape[1], mt.shape[1]
        set_input_features(self, X, self._columns())
        return np.hstack([mi, mt])

    def transform(self, X):
        """``[image features | text features]`` of ``X``: float32 (n_samples, n_features)."""
        check_is_fitted(self, "text_features_")
        X = self._check_X(X, fitted=True)
        return np.hstack(self._blocks(X))

    def get_feature_names_out(self, input_features=None):
        """``image0 ... imageK, text0 ... textD``."""
        check_is_fitted(self, "text_features_")
        return np.asarray([f"image{i}" for i in range(self.n_image_features_)]
                          + [f"text{i}" for i in range(self.n_text_features_)], dtype=object)



# ---------------------------------------------------------------------------
# Collective matrix factorization
# ---------------------------------------------------------------------------


def _row_factors(matrices, loadings, alpha):
    """Ridge solve of U given the loadings (the U step of ALS, and transform)."""
    k = loadings[0].shape[1]
    gram = alpha * np.eye(k)
    rhs = 0.0
    for X, V in zip(matrices, loadings):
        p = X.shape[1]
        gram = gram + V.T @ V / p
        rhs = rhs + X @ V / p
    return np.linalg.solve(gram, rhs.T).T


def collective_als(matrices, n_components, *, alpha=0.1, max_iter=100, tol=1e-6,
                   random_state=None):
    """Collective matrix factorization ``X_m ≈ U V_mᵀ`` by alternating least squares.

    Minimises ``sum_m ||X_m - U V_mᵀ||² / (n p_m) + alpha (||U||² / n +
    sum_m ||V_m||² / p_m)``: each matrix counts by its mean squared error, so
    a wide matrix does not drown a narrow one.

    Parameters
    ----------
    matrices : list of ndarray of shape (n, p_m)
        Matrices sharing their rows.
    n_components : int
    alpha : float, default=0.1
        Ridge penalty of the factors.
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the objective improves by less than ``tol`` relatively.
    random_state : int, RandomState instance or None, default=None
        Seeds the small random perturbation of the SVD start.

    Returns
    -------
    U : ndarray of shape (n, n_components)
    loadings : list of ndarray of shape (p_m, n_components)
    objective : float
    n_iter : int
    """
    rng = check_random_state(random_state)
    matrices = [np.asarray(X, dtype=np.float64) for X in matrices]
    n = matrices[0].shape[0]
    stacked = np.hstack([X / np.sqrt(X.shape[1]) for X in matrices])
    left, s, _ = np.linalg.svd(stacked, full_matrices=False)
    k = n_components
    U = np.zeros((n, k))
    r = min(k, len(s))
    U[:, :r] = left[:, :r] * s[:r] / np.sqrt(max(s[0], 1e-12))
    U += 1e-3 * rng.standard_normal(U.shape)
    previous, objective, n_iter = np.inf, np.inf, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (returned)
        reg = alpha * n * np.eye(k)
        loadings = [np.linalg.solve(U.T @ U + reg, U.T @ X).T for X in matrices]
        U = _row_factors(matrices, loadings, alpha)
        objective = sum(((X - U @ V.T) ** 2).mean() for X, V in zip(matrices, loadings))
        objective += alpha * ((U ** 2).sum() / n + sum((V ** 2).sum() / V.shape[0]
                                                       for V in loadings))
        if np.isfinite(previous) and previous - objective <= tol * abs(previous):
            break
        previous = objective
    return U, loadings, float(objective), n_iter


@fill_block_doc
class CollectiveMF(_TwoBlocks):
    """Collective matrix factorization of an image matrix and a text matrix.

    The two matrices describe the same rows (entities): ``X_image ≈ U
    V_imageᵀ`` and ``X_text ≈ U V_textᵀ`` share the row factors ``U``,
    found by regularised alternating least squares
    (:func:`collective_als`). The embedding of a row is its ``U``;
    :meth:`transform` of new rows solves the ridge problem for ``U`` with the
    fitted loadings, so the transformer is inductive.

    Parameters
    ----------
    %(blocks)s
    n_components : int, default=50
        Width of ``U``.
    alpha : float, default=0.1
        Ridge penalty of the factors.
    max_iter : int, default=100
        ALS sweeps at most.
    tol : float, default=1e-6
        Relative improvement of the objective that stops ALS.
    random_state : int, RandomState instance or None, default=None
        Seeds Word2Vec, PCA / the conv autoencoder and the ALS start.

    Attributes
    ----------
    loadings_ : dict of str to ndarray
        ``"image"``: (n_image_features, n_components), ``"text"``:
        (n_text_features, n_components).
    image_features_ : ImageFeatures
    text_features_ : skmm.inputs.TextFeatures
    text_encoder_ : skmm.encoders.TextMatrix or "passthrough"
        The fitted clone of ``text_encoder``.
    objective_ : float
        Final value of the ALS objective.
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import CollectiveMF
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(30, image_size=16, random_state=0)
    >>> CollectiveMF(n_components=3, n_image_components=5, text_encoder="tfidf",
    ...              random_state=0).fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints = {
        **_BLOCK_CONSTRAINTS,
        "n_components": CONSTRAINTS["n_components"],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, image_col="image", text_col="text", *, n_components=50,
                 image_features="pca", image_size=16, n_image_components=50,
                 text_encoder=None, alpha=0.1, max_iter=100, tol=1e-6, random_state=None):
        self.image_col = image_col
        self.text_col = text_col
        self.n_components = n_components
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_encoder = text_encoder
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    @property
    def _n_features_out(self):
        return self.n_components

    def fit(self, X, y=None):
        """Factorize the image and text matrices of ``X``; return self."""
        self.fit_transform(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the row factors ``U`` of ``X`` (float32)."""
        X = self._check_X(X)
        blocks = self._fit_blocks(X)
        mi, mt = blocks.pop("image"), blocks.pop("text")
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)[2])
        U, (vi, vt), objective, n_iter = collective_als(
            [mi, mt], self.n_components, alpha=self.alpha, max_iter=self.max_iter,
            tol=self.tol, random_state=seed)
        for name, value in blocks.items():
            setattr(self, name, value)
        self.loadings_ = {"image": vi, "text": vt}
        self.objective_, self.n_iter_ = objective, n_iter
        set_input_features(self, X, self._columns())
        return U.astype(np.float32)

    def transform(self, X):
        """Row factors of ``X`` given the fitted loadings: float32 (n_samples, n_components)."""
        check_is_fitted(self, "loadings_")
        X = self._check_X(X, fitted=True)
        mi, mt = self._blocks(X)
        U = _row_factors([mi.astype(np.float64), mt.astype(np.float64)],
                         [self.loadings_["image"], self.loadings_["text"]], self.alpha)
        return U.astype(np.float32)



# ---------------------------------------------------------------------------
# Autoencoder matrix factorization
# ---------------------------------------------------------------------------


@fill_block_doc
class AutoencoderMF(_FeatureBlocks, BaseEmbedder):
    """Autoencoder matrix factorization over concatenated image and text features.

    The features of each row, ``X = [image features | text features]``, go
    through a row autoencoder whose code ``z`` is the embedding; a column
    autoencoder codes each column of X (a vector over the training rows) into
    ``v``; ``X'' = z vᵀ`` reconstructs X. Loss: MSE(rows) + MSE(columns) +
    MSE(X'', X) (:class:`skmm.nn.mmeda.AutoencoderMF`). With
    ``image_features="convae"`` (codes of a :class:`ConvAutoencoder`) this is
    the paper's "ConvAE MF"; with ``"vector"`` the image features are given
    in the image column. The column autoencoder exists for the training rows
    only: :meth:`transform` needs the row encoder alone.

    Parameters
    ----------
    %(blocks)s
    n_components : int, default=50
    hidden_size : int, default=128
        Hidden width of both autoencoders.
    column_batch_size : int or None, default=256
        Columns through the column autoencoder at once.
    %(max_epochs:30)s
    %(batch_size)s
    %(lr:1e-3)s
    %(validation_fraction)s
    %(device)s
    %(precision:"float32")s
    %(n_threads)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    image_features_ : skmm.baselines.features.ImageFeatures
    text_features_ : skmm.inputs.TextFeatures
    text_encoder_ : skmm.encoders.TextMatrix or "passthrough"
        The fitted clone of ``text_encoder``.
    components_ : ndarray of shape (n_features, n_components)
        Column codes ``v``.
    n_train_ : int
    history_ : skorch.history.History
        ``train_rows``, ``train_columns``, ``train_factorization`` per epoch.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import AutoencoderMF
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(30, image_size=16, random_state=0)
    >>> AutoencoderMF(image_features="pca", n_components=3, n_image_components=5,
    ...               max_epochs=1, random_state=0).fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints = {
        **_BLOCK_CONSTRAINTS,
        **constraints("n_components", "hidden_size", *TRAINING, "precision", "n_threads", "verbose",
                      column_batch_size=[Interval(Integral, 1, None, closed="left"), None]),
    }

    #: seeds: the two blocks, torch, shuffling, the validation split
    _seed_names = ("image", "text", "torch", "shuffle", "split")

    def __init__(self, image_col="image", text_col="text", *, image_features="convae",
                 image_size=32, n_image_components=50, text_encoder=None,
                 n_components=50, hidden_size=128,
                 column_batch_size=256, max_epochs=30, batch_size=64, lr=1e-3,
                 validation_fraction=None, device="auto", precision="float32",
                 n_threads=None, random_state=None,
                 verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_encoder = text_encoder
        self.n_components = n_components
        self.hidden_size = hidden_size
        self.column_batch_size = column_batch_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _prepare(self, X, *, fitting: bool, state: dict | None = None) -> dict:
        if fitting:
            fitted = self._fit_blocks(X, (state["seeds"]["image"], state["seeds"]["text"]))
            blocks = fitted.pop("image"), fitted.pop("text")
            state.update(fitted)
        else:
            blocks = self._blocks(X)
        return {"features": torch.from_numpy(np.hstack(blocks))}

    def _train_split(self, n: int, state: dict):
        """A fixed hold-out: the column autoencoder is sized with the training rows."""
        state["train_idx"] = None
        if not self.validation_fraction:
            return None
        state["train_idx"], split = holdout(n, self.validation_fraction, state["seeds"]["split"])
        return split

    def _build_module(self, data: dict, state: dict) -> AutoencoderMFModule:
        train_idx = state["train_idx"]
        features = data["features"] if train_idx is None else data["features"][train_idx]
        state["n_train_"] = int(features.shape[0])
        return AutoencoderMFModule(features.T, self.n_components, self.hidden_size,
                                   self.column_batch_size)

    def _after_training(self, net, state: dict) -> None:
        with torch.inference_mode():
            state["components_"] = net.module_.eval().factorization.codes().float().cpu().numpy()

    @staticmethod
    def _encode_batch(module, batch):
        return module.embed(batch["features"])

    def score(self, X, y=None):
        """Negative inductive loss on ``X``: row MSE + factorization MSE (higher is better).

        The column autoencoder's term does not depend on the rows of ``X``
        and is left out.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        score : float
        """
        return super().score(X, y)

    _transductive_terms = ("columns",)
