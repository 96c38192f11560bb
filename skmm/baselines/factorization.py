"""Matrix-factorization baselines of MMEDA, as sklearn transformers over DataFrames.

* :class:`CollectiveMF`: collective matrix factorization of an image matrix and
  a text matrix that share their rows, ``X_m ≈ U V_mᵀ``, by regularised
  alternating least squares.
* :class:`ConvAutoencoder`: a convolutional autoencoder over an image column;
  its codes are image features (also usable inside the other baselines).
* :class:`AutoencoderMF`: autoencoder matrix factorization of the concatenated
  image and text features, with a column autoencoder (with conv-autoencoder
  image features: the paper's "ConvAE MF").
* :class:`EarlyFusion`: the concatenation of image features and mean word
  vectors.

The image matrix of each comes from :class:`ImageFeatures` (pixels, PCA of
pixels, conv-autoencoder codes, vectors held in the column, or any
transformer), the text matrix from :class:`skmm.inputs.TextFeatures`
(mean word vectors, TF-IDF or numeric columns).
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import BaseEmbedder, collect_problems
from skmm.exceptions import InvalidRowsError
from skmm.inputs import TextFeatures, as_size, check_columns, check_frame, load_images
from skmm.inputs.frame import _set_input_features, make_report
from skmm.nn.mmeda import AutoencoderMF as AutoencoderMFModule
from skmm.nn.mmeda import ImageAutoencoder
from skmm.training import FixedSplit, RandomSplit, TensorDict

__all__ = ["AutoencoderMF", "CollectiveMF", "ConvAutoencoder", "EarlyFusion", "ImageFeatures",
           "collective_als"]

_IMAGE_FEATURES = StrOptions({"pixels", "pca", "convae", "vectors"})
_TEXT_FEATURES = StrOptions({"word2vec", "tfidf"})
_POSITIVE = Interval(Integral, 1, None, closed="left")


# ---------------------------------------------------------------------------
# Conv autoencoder
# ---------------------------------------------------------------------------


class ConvAutoencoder(BaseEmbedder):
    """A convolutional autoencoder over an image column; ``transform`` gives its codes.

    Three conv blocks (:class:`skmm.nn.encoders.ConvEncoder`), a linear code,
    and a mirrored deconvolution decoder, trained on the pixel MSE with
    skorch (:class:`skmm.training.MultimodalNet`). The AE0 of MMEDA on its
    own: an image feature extractor for the baselines.

    Parameters
    ----------
    image_col : str, default="image"
        Column of images (paths, bytes, PIL images or arrays).
    image_size : int or (int, int), default=32
    n_components : int, default=32
        Width of the code.
    conv_channels : int, default=16
    max_epochs : int, default=20
    batch_size : int, default=64
    lr : float, default=1e-3
    validation_fraction : float or None, default=None
        Hold out this fraction of rows to record ``valid_image``.
    device : str, default="auto"
    precision : {"float32", "bf16"}, default="float32"
    random_state : int, RandomState instance or None, default=None
        Seeds weights and shuffling (bit-identical on the CPU).
    verbose : int, default=0

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    image_size_ : (int, int)
    history_ : skorch.history.History
        ``train_loss`` and ``train_image`` per epoch.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import ConvAutoencoder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(32, image_size=16, random_state=0)
    >>> ConvAutoencoder(image_size=16, n_components=4, max_epochs=1,
    ...                 random_state=0).fit_transform(X).shape
    (32, 4)
    """

    _parameter_constraints = {
        "image_col": [str],
        "image_size": [Interval(Integral, 8, None, closed="left"), tuple, list],
        "n_components": [_POSITIVE],
        "conv_channels": [_POSITIVE],
        "max_epochs": [_POSITIVE],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "bf16"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, image_col="image", *, image_size=32, n_components=32, conv_channels=16,
                 max_epochs=20, batch_size=64, lr=1e-3, validation_fraction=None, device="auto",
                 precision="float32", random_state=None, verbose=0):
        self.image_col = image_col
        self.image_size = image_size
        self.n_components = n_components
        self.conv_channels = conv_channels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def _columns(self):
        return [self.image_col]

    def _prepare(self, X, *, fitting: bool) -> dict:
        size = as_size(self.image_size) if fitting else self.image_size_
        images = load_images(X[self.image_col], column=self.image_col, mode="RGB", size=size,
                             verbose=self.verbose)
        return {"image": torch.from_numpy(images)}

    def _fit(self, X) -> dict:
        self._validate_params()
        X = self._check_X(X)
        if len(X) < 2:
            raise ValueError(f"ConvAutoencoder needs at least 2 rows to fit, got {len(X)}")
        size = as_size(self.image_size)
        _, torch_seed, shuffle_seed = self._seeds()
        data = self._prepare(X, fitting=True)
        with self._torch_seed(torch_seed):
            module = ImageAutoencoder((3, *size), self.conv_channels, self.n_components)
        net = self._fit_net(module, data, shuffle_seed, torch_seed)
        self.image_size_ = size
        self.net_ = net
        self._set_input_features(X)
        return data

    @staticmethod
    def _encode_batch(module, batch):
        return module.encode(batch["image"])


# ---------------------------------------------------------------------------
# Image features
# ---------------------------------------------------------------------------


class ImageFeatures(TransformerMixin, BaseEstimator):
    """An image column as a standardised feature matrix.

    Parameters
    ----------
    image_col : str, default="image"
    image_features : {"pixels", "pca", "convae", "vectors"} or transformer, default="pca"
        ``"pixels"``: the RGB pixels at ``image_size`` scaled to [0, 1];
        ``"pca"``: their first ``n_image_components`` principal components;
        ``"convae"``: the codes (``n_image_components`` wide) of a
        :class:`ConvAutoencoder` at ``image_size`` with default training
        settings; ``"vectors"``: every cell of ``image_col`` already holds
        a 1-D numeric feature vector (all of one length); or any transformer
        whose ``fit``/``transform`` take the DataFrame (e.g. a configured
        :class:`ConvAutoencoder`), cloned before fitting. The features are
        then standardised per column on the fit rows, except pixels: centred
        per column and divided by one global standard deviation (a pixel
        that is almost always white would otherwise get huge z-scores on
        new rows).
    image_size : int or (int, int), default=16
        Size the images are resized to (pixels, PCA, conv AE).
    n_image_components : int, default=50
        Components of ``"pca"``, code width of ``"convae"``.
    random_state : int, RandomState instance or None, default=None
        Seeds PCA and the conv autoencoder.

    Attributes
    ----------
    extractor_ : object or None
        The fitted PCA or transformer.
    scaler_ : StandardScaler
    n_features_out_ : int
    """

    _parameter_constraints = {
        "image_col": [str],
        "image_features": [_IMAGE_FEATURES, HasMethods(["fit", "transform"])],
        "image_size": [Interval(Integral, 8, None, closed="left"), tuple, list],
        "n_image_components": [_POSITIVE],
        "random_state": ["random_state"],
    }

    def __init__(self, image_col="image", image_features="pca", *, image_size=16,
                 n_image_components=50, random_state=None):
        self.image_col = image_col
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.random_state = random_state

    def _pixels(self, X) -> np.ndarray:
        images = load_images(X[self.image_col], column=self.image_col, mode="RGB",
                             size=as_size(self.image_size))
        return images.reshape(len(images), -1).astype(np.float64) / 255.0

    def _vectors(self, X, length=None) -> np.ndarray:
        rows, problems = [], []
        for row, cell in zip(X.index.tolist(), X[self.image_col].tolist()):
            try:
                v = np.asarray(cell, dtype=np.float32)
            except (TypeError, ValueError):
                v = None
            if v is None or v.ndim != 1 or not np.isfinite(v).all():
                problems.append((row, self.image_col, "not a 1-D vector of finite numbers"))
            elif length is not None and len(v) != length:
                problems.append((row, self.image_col,
                                 f"vector of length {len(v)}, expected {length}"))
            else:
                length = len(v)
                rows.append(v)
        if problems:
            raise InvalidRowsError(make_report(problems))
        return np.stack(rows)

    def check(self, X) -> None:
        """Raise :class:`~skmm.exceptions.InvalidRowsError` for unusable image cells."""
        if self.image_features == "vectors":
            self._vectors(X)
        elif isinstance(self.image_features, str):
            self._pixels(X)

    def fit(self, X, y=None):
        """Fit the feature extractor and the scaling on ``X``; return self."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return the standardised image features of ``X`` (float32)."""
        self._validate_params()
        X = check_frame(X)
        check_columns(X, [self.image_col])
        kind = self.image_features
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        extractor = None
        if kind == "vectors":
            raw = self._vectors(X)
        elif kind == "pixels":
            raw = self._pixels(X)
        elif kind == "pca":
            pixels = self._pixels(X)
            k = min(self.n_image_components, *pixels.shape)
            extractor = PCA(k, random_state=seed)
            raw = extractor.fit_transform(pixels)
        else:
            if kind == "convae":
                extractor = ConvAutoencoder(self.image_col, image_size=self.image_size,
                                            n_components=self.n_image_components,
                                            random_state=seed)
            else:
                extractor = clone(kind)
            raw = extractor.fit_transform(X)
        self.extractor_ = extractor
        if kind == "pixels":  # centred, one global scale: near-constant pixels stay small
            scaler = StandardScaler(with_std=False).fit(raw)
            scaler.scale_ = np.full(raw.shape[1], max(float(np.std(raw - scaler.mean_)), 1e-12))
        else:
            scaler = StandardScaler().fit(raw)
        self.scaler_ = scaler
        self.length_ = raw.shape[1]
        out = self._scale(raw)
        self.n_features_out_ = out.shape[1]
        return out

    def _scale(self, raw) -> np.ndarray:
        scaler = self.scaler_
        out = np.asarray(raw, dtype=np.float64) - scaler.mean_
        if scaler.scale_ is not None:
            out = out / scaler.scale_
        return out.astype(np.float32)

    def transform(self, X) -> np.ndarray:
        """Standardised image features of ``X``: float32 (n_samples, n_features_out_)."""
        check_is_fitted(self, "scaler_")
        X = check_frame(X)
        check_columns(X, [self.image_col], context="it was used in fit")
        kind = self.image_features
        if kind == "vectors":
            raw = self._vectors(X, self.length_)
        elif kind == "pixels":
            raw = self._pixels(X)
        elif kind == "pca":
            raw = self.extractor_.transform(self._pixels(X))
        else:
            raw = self.extractor_.transform(X)
        return self._scale(raw)


class _TwoBlocks(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared plumbing: the image and text feature blocks of a DataFrame."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

    def _builders(self, seed_image=None, seed_text=None):
        image = ImageFeatures(self.image_col, self.image_features, image_size=self.image_size,
                              n_image_components=self.n_image_components,
                              random_state=seed_image)
        text = TextFeatures(self.text_col, list(self.text_features)
                            if not isinstance(self.text_features, str) else self.text_features,
                            tokenizer=self.tokenizer, vector_size=self.vector_size,
                            word_vectors=self.word_vectors,
                            max_text_features=self.max_text_features, random_state=seed_text)
        return image, text

    def _columns(self):
        image, text = self._builders()
        return [self.image_col, *text.columns()]

    def _check_X(self, X, *, fitted=False):
        X = check_frame(X)
        check_columns(X, self._columns(), context="it was used in fit" if fitted else "")
        if len(X) == 0:
            raise ValueError("X has no rows")
        return X

    def _fit_blocks(self, X):
        """Check every cell, then fit both blocks; return (image, text) matrices."""
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)
        image, text = self._builders(int(seeds[0]), int(seeds[1]))
        collect_problems(lambda: text.check(X), lambda: image.check(X))
        return image, text, image.fit_transform(X), text.fit_transform(X)

    def _blocks(self, X):
        out = {}

        def image():
            out["image"] = self.image_features_.transform(X)

        def text():
            out["text"] = self.text_features_.transform(X)

        collect_problems(text, image)
        return out["image"], out["text"]


_BLOCK_CONSTRAINTS = {
    "image_col": [str],
    "text_col": [str],
    "image_features": [_IMAGE_FEATURES, HasMethods(["fit", "transform"])],
    "image_size": [Interval(Integral, 8, None, closed="left"), tuple, list],
    "n_image_components": [_POSITIVE],
    "text_features": [_TEXT_FEATURES, list, tuple],
    "tokenizer": [StrOptions({"english", "jieba"}), callable],
    "vector_size": [_POSITIVE],
    "word_vectors": [str, os.PathLike, HasMethods(["get_vector"])],
    "max_text_features": [_POSITIVE],
    "random_state": ["random_state"],
}

_BLOCK_DOC = """image_col, text_col : str, default="image", "text"
        Columns of images and of texts; other columns are ignored.
    image_features : {"pixels", "pca", "convae", "vectors"} or transformer
        The image matrix; see :class:`ImageFeatures` (standardised per column).
    image_size : int or (int, int)
        Size of the images for pixels, PCA and the conv autoencoder.
    n_image_components : int, default=50
        PCA components / conv-autoencoder code width.
    text_features : {"word2vec", "tfidf"} or list of str, default="word2vec"
        The text matrix; see :class:`skmm.inputs.TextFeatures`.
    tokenizer : {"english", "jieba"} or callable, default="english"
    vector_size : int, default=50
        Word2Vec dimensions.
    word_vectors : "word2vec", path or gensim KeyedVectors, default="word2vec"
    max_text_features : int, default=1000
        Vocabulary cap of TF-IDF."""


# ---------------------------------------------------------------------------
# Early fusion
# ---------------------------------------------------------------------------


class EarlyFusion(_TwoBlocks):
    """Concatenated image features and mean word vectors (early fusion).

    Parameters
    ----------
    {blocks}
    random_state : int, RandomState instance or None, default=None
        Seeds Word2Vec, PCA and the conv autoencoder.

    Attributes
    ----------
    image_features_ : ImageFeatures
    text_features_ : skmm.inputs.TextFeatures
    n_image_features_, n_text_features_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import EarlyFusion
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(30, image_size=16, random_state=0)
    >>> EarlyFusion(n_image_components=5, vector_size=8, random_state=0).fit_transform(X).shape
    (30, 13)
    """

    _parameter_constraints = dict(_BLOCK_CONSTRAINTS)

    def __init__(self, image_col="image", text_col="text", *, image_features="pca",
                 image_size=16, n_image_components=50, text_features="word2vec",
                 tokenizer="english", vector_size=50, word_vectors="word2vec",
                 max_text_features=1000, random_state=None):
        self.image_col = image_col
        self.text_col = text_col
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_features = text_features
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.max_text_features = max_text_features
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit both feature blocks on ``X``; return self."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return ``[image features | text features]`` of ``X`` (float32)."""
        self._validate_params()
        X = self._check_X(X)
        image, text, mi, mt = self._fit_blocks(X)
        self.image_features_, self.text_features_ = image, text
        self.n_image_features_, self.n_text_features_ = mi.shape[1], mt.shape[1]
        _set_input_features(self, X)
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


EarlyFusion.__doc__ = EarlyFusion.__doc__.replace("{blocks}", _BLOCK_DOC)


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
    {blocks}
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
    >>> CollectiveMF(n_components=3, n_image_components=5, vector_size=8,
    ...              random_state=0).fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints = {
        **_BLOCK_CONSTRAINTS,
        "n_components": [_POSITIVE],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [_POSITIVE],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, image_col="image", text_col="text", *, n_components=50,
                 image_features="pca", image_size=16, n_image_components=50,
                 text_features="word2vec", tokenizer="english", vector_size=50,
                 word_vectors="word2vec", max_text_features=1000, alpha=0.1, max_iter=100,
                 tol=1e-6, random_state=None):
        self.image_col = image_col
        self.text_col = text_col
        self.n_components = n_components
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_features = text_features
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.max_text_features = max_text_features
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

    def fit_transform(self, X, y=None):
        """Fit, then return the row factors ``U`` of ``X`` (float32)."""
        self._validate_params()
        X = self._check_X(X)
        image, text, mi, mt = self._fit_blocks(X)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)[2])
        U, (vi, vt), objective, n_iter = collective_als(
            [mi, mt], self.n_components, alpha=self.alpha, max_iter=self.max_iter,
            tol=self.tol, random_state=seed)
        self.image_features_, self.text_features_ = image, text
        self.loadings_ = {"image": vi, "text": vt}
        self.objective_, self.n_iter_ = objective, n_iter
        _set_input_features(self, X)
        return U.astype(np.float32)

    def transform(self, X):
        """Row factors of ``X`` given the fitted loadings: float32 (n_samples, n_components)."""
        check_is_fitted(self, "loadings_")
        X = self._check_X(X, fitted=True)
        mi, mt = self._blocks(X)
        U = _row_factors([mi.astype(np.float64), mt.astype(np.float64)],
                         [self.loadings_["image"], self.loadings_["text"]], self.alpha)
        return U.astype(np.float32)


CollectiveMF.__doc__ = CollectiveMF.__doc__.replace("{blocks}", _BLOCK_DOC)


# ---------------------------------------------------------------------------
# Autoencoder matrix factorization
# ---------------------------------------------------------------------------


class AutoencoderMF(BaseEmbedder):
    """Autoencoder matrix factorization over concatenated image and text features.

    The features of each row, ``X = [image features | text features]``, go
    through a row autoencoder whose code ``z`` is the embedding; a column
    autoencoder codes each column of X (a vector over the training rows) into
    ``v``; ``X'' = z vᵀ`` reconstructs X. Loss: MSE(rows) + MSE(columns) +
    MSE(X'', X) (:class:`skmm.nn.mmeda.AutoencoderMF`). With
    ``image_features="convae"`` (codes of a :class:`ConvAutoencoder`) this is
    the paper's "ConvAE MF"; with ``"vectors"`` the image features are given
    in the image column. The column autoencoder exists for the training rows
    only: :meth:`transform` needs the row encoder alone.

    Parameters
    ----------
    {blocks}
    n_components : int, default=50
    hidden_size : int, default=128
        Hidden width of both autoencoders.
    column_batch_size : int or None, default=256
        Columns through the column autoencoder at once.
    max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
    validation_fraction : float or None, default=None
    device : str, default="auto"
    precision : {"float32", "bf16"}, default="float32"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    image_features_ : ImageFeatures
    text_features_ : skmm.inputs.TextFeatures
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
    ...               vector_size=8, max_epochs=1, random_state=0).fit_transform(X).shape
    (30, 3)
    """

    _parameter_constraints = {
        **_BLOCK_CONSTRAINTS,
        "n_components": [_POSITIVE],
        "hidden_size": [_POSITIVE],
        "column_batch_size": [_POSITIVE, None],
        "max_epochs": [_POSITIVE],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "bf16"})],
        "verbose": ["verbose"],
    }

    def __init__(self, image_col="image", text_col="text", *, image_features="convae",
                 image_size=32, n_image_components=50, text_features="word2vec",
                 tokenizer="english", vector_size=50, word_vectors="word2vec",
                 max_text_features=1000, n_components=50, hidden_size=128,
                 column_batch_size=256, max_epochs=30, batch_size=64, lr=1e-3,
                 validation_fraction=None, device="auto", precision="float32",
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_features = image_features
        self.image_size = image_size
        self.n_image_components = n_image_components
        self.text_features = text_features
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.max_text_features = max_text_features
        self.n_components = n_components
        self.hidden_size = hidden_size
        self.column_batch_size = column_batch_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    _builders = _TwoBlocks._builders
    _columns = _TwoBlocks._columns

    def _prepare(self, X, *, fitting: bool, builders=None) -> dict:
        if fitting:
            image, text = builders
            collect_problems(lambda: text.check(X), lambda: image.check(X))
            blocks = image.fit_transform(X), text.fit_transform(X)
        else:
            blocks = _TwoBlocks._blocks(self, X)
        return {"features": torch.from_numpy(np.hstack(blocks))}

    def _fit(self, X) -> dict:
        self._validate_params()
        X = self._check_X(X)
        if len(X) < 2:
            raise ValueError(f"AutoencoderMF needs at least 2 rows to fit, got {len(X)}")
        rng = check_random_state(self.random_state)
        seeds = [int(s) for s in rng.randint(0, 2**31 - 1, size=5)]
        builders = self._builders(seeds[0], seeds[1])
        data = self._prepare(X, fitting=True, builders=builders)
        train_idx = valid_idx = None
        if self.validation_fraction:
            split = RandomSplit(self.validation_fraction, seed=seeds[4])
            train_idx, valid_idx = (i.sort().values for i in split.indices(len(X), min_train=2))
        features = data["features"] if train_idx is None else data["features"][train_idx]
        with self._torch_seed(seeds[2]):
            module = AutoencoderMFModule(features.T, self.n_components, self.hidden_size,
                                         self.column_batch_size)
        split = None if train_idx is None else FixedSplit(train_idx, valid_idx)
        net = self._fit_net(module, data, seeds[3], seeds[2], train_split=split)
        with torch.inference_mode():
            components = net.module_.eval().factorization.codes().float().cpu().numpy()
        self.image_features_, self.text_features_ = builders
        self.components_ = components
        self.n_train_ = int(features.shape[0])
        self.net_ = net
        self._set_input_features(X)
        return data

    @staticmethod
    def _encode_batch(module, batch):
        return module.embed(batch["features"])

    def score(self, X, y=None):
        """Negative inductive loss on ``X``: row MSE + factorization MSE (higher is better).

        The column autoencoder's term does not depend on the rows of ``X``
        and is left out.
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        terms = self.net_.evaluate_terms(TensorDict(self._prepare(X, fitting=False)))
        return -(terms["loss"] - terms["columns"])


AutoencoderMF.__doc__ = AutoencoderMF.__doc__.replace("{blocks}", _BLOCK_DOC)
