"""The two feature blocks of the MMEDA baselines: an image matrix and a text matrix.

* :class:`ImageFeatures`: the image matrix (pixels, PCA of pixels,
  conv-autoencoder codes, vectors held in the column, or any transformer);
* the text matrix is :class:`skmm.inputs.TextFeatures`, built as the
  ``text_encoder`` says (a :class:`~skmm.encoders.TextMatrix`: mean word
  vectors, TF-IDF or both; or ``"passthrough"``: precomputed vectors);
* ``_FeatureBlocks``: the mixin that builds, checks and fits both blocks for
  :class:`~skmm.baselines.EarlyFusion`, :class:`~skmm.baselines.CollectiveMF`
  and :class:`~skmm.baselines.AutoencoderMF`.
"""

from __future__ import annotations

import inspect
from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._params import CONSTRAINTS, constraints, fill_doc
from skmm.baselines.autoencoders import ConvAutoencoder
from skmm.inputs import as_size, check_columns, check_frame, load_images
from skmm.inputs.checks import FrameMixin, collect_problems, load_vectors, set_input_features
from skmm.inputs.text_features import text_matrix

__all__ = ["ImageFeatures"]


_IMAGE_FEATURES = StrOptions({"pixels", "pca", "convae", "vector"})
_POSITIVE = Interval(Integral, 1, None, closed="left")
#: The settings each kind of image features reads ("vector" and a transformer: neither).
_IMAGE_READS = {"pixels": ("image_size",), "pca": ("image_size", "n_image_components"),
                "convae": ("image_size", "n_image_components")}


def _image_reads(kind) -> tuple:
    return _IMAGE_READS.get(kind, ()) if isinstance(kind, str) else ()


def check_image_settings(estimator) -> None:
    """Raise if ``image_size`` or ``n_image_components`` of ``estimator`` (ImageFeatures or
    an estimator built on it) is set while its ``image_features`` does not read it."""
    kind = estimator.image_features
    defaults = {name: p.default for name, p in
                inspect.signature(type(estimator).__init__).parameters.items()}
    unread = [name for name in ("image_size", "n_image_components")
              if name not in _image_reads(kind)
              and (as_size(getattr(estimator, name)) != as_size(defaults[name])
                   if name == "image_size" else getattr(estimator, name) != defaults[name])]
    if unread:
        what = repr(kind) if isinstance(kind, str) else f"{type(kind).__name__}(...)"
        raise ValueError(
            f"{type(estimator).__name__}(image_features={what}) does not act on "
            f"{', '.join(unread)} (image_size sizes the pixels, PCA and the conv autoencoder, "
            "n_image_components the last two); leave "
            f"{'it' if len(unread) == 1 else 'them'} at the default")

# ---------------------------------------------------------------------------
# Image features
# ---------------------------------------------------------------------------


class ImageFeatures(FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An image column as a standardised feature matrix.

    Parameters
    ----------
    image_col : str, default="image"
    image_features : {"pixels", "pca", "convae", "vector"} or transformer, default="pca"
        ``"pixels"``: the RGB pixels at ``image_size`` scaled to [0, 1];
        ``"pca"``: their first ``n_image_components`` principal components;
        ``"convae"``: the codes (``n_image_components`` wide) of a
        :class:`~skmm.baselines.ConvAutoencoder` at ``image_size`` with default training
        settings; ``"vector"``: every cell of ``image_col`` already holds
        a 1-D numeric feature vector (all of one length); or any transformer
        whose ``fit``/``transform`` take the DataFrame (e.g. a configured
        :class:`~skmm.baselines.ConvAutoencoder`), cloned before fitting. The features are
        then standardised per column on the fit rows, except pixels: centred
        per column and divided by one global standard deviation (a pixel
        that is almost always white would otherwise get huge z-scores on
        new rows).
    image_size : int or (int, int), default=16
        Size the images are resized to (pixels, PCA, conv AE; another value
        with ``"vector"`` or a transformer raises ValueError).
    n_image_components : int, default=50
        Components of ``"pca"``, code width of ``"convae"`` (another value
        with the others raises ValueError).
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
        return load_vectors(X[self.image_col], column=self.image_col, length=length)

    def _columns(self):
        return [self.image_col]

    def check(self, X) -> None:
        """Raise :class:`~skmm.exceptions.InvalidRowsError` for unusable image cells."""
        if self.image_features == "vector":
            self._vectors(X)
        elif isinstance(self.image_features, str):
            self._pixels(X)

    def fit(self, X, y=None):
        """Fit the feature extractor and the scaling on ``X``; return self."""
        self.fit_transform(X)
        return self

    @property
    def _n_features_out(self):
        return self.n_features_out_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the standardised image features of ``X`` (float32)."""
        check_image_settings(self)
        X = check_frame(X)
        check_columns(X, [self.image_col])
        kind = self.image_features
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        extractor = None
        if kind == "vector":
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
        set_input_features(self, X, self._columns())
        return out

    def _scale(self, raw) -> np.ndarray:
        scaler = self.scaler_
        out = np.asarray(raw, dtype=np.float64) - scaler.mean_
        if scaler.scale_ is not None:
            out = out / scaler.scale_
        return out.astype(np.float32)

    def transform(self, X) -> np.ndarray:
        """Standardised image features of ``X``: float32 ``(n_samples, n_features_out_)``."""
        check_is_fitted(self, "scaler_")
        X = check_frame(X)
        check_columns(X, [self.image_col], context="it was used in fit")
        kind = self.image_features
        if kind == "vector":
            raw = self._vectors(X, self.length_)
        elif kind == "pixels":
            raw = self._pixels(X)
        elif kind == "pca":
            raw = self.extractor_.transform(self._pixels(X))
        else:
            raw = self.extractor_.transform(X)
        return self._scale(raw)


#: The parameters of the two feature blocks, shared by the estimators built on them.
_BLOCK_CONSTRAINTS = constraints(
    "image_col", "text_col", "image_size", "n_image_components", "random_state",
    image_features=[_IMAGE_FEATURES, HasMethods(["fit", "transform"])],
    text_encoder=[*CONSTRAINTS["text_encoder"], None],
)

#: ``%(blocks)s`` in their docstrings.
_BLOCK_DOC = """\
image_col, text_col : str, default="image", "text"
    Columns of images and of texts; other columns are ignored.
image_features : {"pixels", "pca", "convae", "vector"} or transformer
    The image matrix; see :class:`~skmm.baselines.features.ImageFeatures`
    (standardised per column).
image_size : int or (int, int)
    Size of the images for pixels, PCA and the conv autoencoder (another
    value with ``"vector"`` or a transformer raises ValueError).
n_image_components : int, default=50
    PCA components / conv-autoencoder code width (another value with
    ``"pixels"``, ``"vector"`` or a transformer raises ValueError).
text_encoder : TextMatrix, "tfidf", "passthrough" or None, default=None
    How the text matrix is built (:mod:`skmm.encoders`; its settings are
    nested parameters, ``text_encoder__vector_size``). None:
    ``TextMatrix("word2vec")``, the mean of Word2Vec vectors trained in fit
    (the paper's), standardised. A :class:`~skmm.encoders.TextMatrix`
    (``"tfidf"`` is ``TextMatrix()``): TF-IDF, mean word vectors or both,
    with its tokenizer, word vectors and vocabulary cap (see
    :class:`skmm.inputs.TextFeatures`). ``"passthrough"``: ``text_col``
    holds one precomputed vector per row (1-D arrays or lists of one
    length), standardised per dimension."""

#: Fill the docstrings of the block estimators (``%(blocks)s`` and the shared entries).
fill_block_doc = fill_doc(blocks=_BLOCK_DOC)


#: ``text_encoder=None``: the paper's text matrix, the mean of Word2Vec vectors.
DEFAULT_TEXT_FEATURES = "word2vec"


class _FeatureBlocks:
    """Mixin: the image block and the text block of a DataFrame.

    For estimators with the parameters of ``_BLOCK_CONSTRAINTS``
    (``image_col``, ``image_features``, ..., ``text_encoder``); the fitted
    blocks are ``image_features_`` and ``text_features_``, the fitted text
    encoder (a clone, its ``"auto"`` resolved) ``text_encoder_``.
    """

    def _text_encoder(self):
        """A new :class:`~skmm.encoders.TextMatrix` (or ``"passthrough"``) of
        ``text_encoder``, validated, its ``"auto"`` resolved."""
        from skmm.encoders import TextMatrix
        from skmm.encoders._resolve import resolve_encoder

        value = (TextMatrix(DEFAULT_TEXT_FEATURES) if self.text_encoder is None
                 else self.text_encoder)
        encoder = resolve_encoder(value, "text", allowed=(TextMatrix, str), estimator=self,
                                  parameter="text_encoder")
        if not isinstance(encoder, str):
            encoder._validate_params()
            encoder.resolve_auto()
        return encoder

    def _builders(self, encoder, seed_image=None, seed_text=None):
        check_image_settings(self)
        settings = {name: getattr(self, name) for name in _image_reads(self.image_features)}
        image = ImageFeatures(self.image_col, self.image_features, random_state=seed_image,
                              **settings)
        return image, text_matrix(encoder, self.text_col, random_state=seed_text)

    def _columns(self):
        """The image column and the text column."""
        return [self.image_col, self.text_col]

    def _fit_blocks(self, X, seeds=None):
        """Check every cell, then fit both blocks: ``text_encoder_``, ``image_features_``
        and ``text_features_`` into ``state`` (returned), with the (image, text)
        matrices under ``"image"`` and ``"text"``. ``seeds``: those of the two
        blocks (by default drawn from ``random_state``)."""
        encoder = self._text_encoder()
        if seeds is None:
            seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)[:2]
        image, text = self._builders(encoder, int(seeds[0]), int(seeds[1]))
        collect_problems(lambda: text.check(X), lambda: image.check(X))
        return {"text_encoder_": encoder, "image_features_": image, "text_features_": text,
                "image": image.fit_transform(X), "text": text.fit_transform(X)}

    def _blocks(self, X):
        """The fitted blocks' (image, text) matrices of ``X``; every cell checked first."""
        out = {}

        def image():
            out["image"] = self.image_features_.transform(X)

        def text():
            out["text"] = self.text_features_.transform(X)

        collect_problems(text, image)
        return out["image"], out["text"]


class _TwoBlocks(_FeatureBlocks, FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                 BaseEstimator):
    """Base of the numpy transformers over the two blocks (EarlyFusion, CollectiveMF)."""

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns; raises NotFittedError before fit."""
        check_is_fitted(self)
        return super().get_feature_names_out(input_features)

    def _check_X(self, X, *, fitted=False):
        X = check_frame(X)
        check_columns(X, self._columns(), context="it was used in fit" if fitted else "")
        if len(X) == 0:
            raise ValueError("X has no rows")
        return X
