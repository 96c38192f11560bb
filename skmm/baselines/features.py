"""The two feature blocks of the MMEDA baselines: an image matrix and a text matrix.

* :class:`ImageFeatures`: the image matrix (pixels, PCA of pixels,
  conv-autoencoder codes, vectors held in the column, or any transformer);
* the text matrix is :class:`skmm.inputs.TextFeatures` (mean word vectors,
  TF-IDF or numeric columns);
* ``_FeatureBlocks``: the mixin that builds, checks and fits both blocks for
  :class:`~skmm.baselines.EarlyFusion`, :class:`~skmm.baselines.CollectiveMF`
  and :class:`~skmm.baselines.AutoencoderMF`.
"""

from __future__ import annotations

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

from skmm._params import constraints, fill_doc
from skmm.baselines.autoencoders import ConvAutoencoder
from skmm.inputs import TextFeatures, as_size, check_columns, check_frame, load_images
from skmm.inputs.checks import FrameMixin, collect_problems, load_vectors, set_input_features

__all__ = ["ImageFeatures"]


_IMAGE_FEATURES = StrOptions({"pixels", "pca", "convae", "vector"})
_TEXT_FEATURES = StrOptions({"word2vec", "tfidf"})
_POSITIVE = Interval(Integral, 1, None, closed="left")

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
    "image_col", "text_col", "image_size", "n_image_components", "text_features", "tokenizer",
    "vector_size", "word_vectors", "word_vector_dims", "max_text_features", "random_state",
    image_features=[_IMAGE_FEATURES, HasMethods(["fit", "transform"])],
)

#: ``%(blocks)s`` in their docstrings.
_BLOCK_DOC = """\
image_col, text_col : str, default="image", "text"
    Columns of images and of texts; other columns are ignored.
image_features : {"pixels", "pca", "convae", "vector"} or transformer
    The image matrix; see :class:`~skmm.baselines.features.ImageFeatures`
    (standardised per column).
image_size : int or (int, int)
    Size of the images for pixels, PCA and the conv autoencoder.
n_image_components : int, default=50
    PCA components / conv-autoencoder code width.
text_features : {"word2vec", "tfidf", "vector"} or list of str, default="word2vec"
    The text matrix; see :class:`skmm.inputs.TextFeatures` (``"vector"``: a
    column of precomputed text vectors).
%(tokenizer)s
%(vector_size)s
%(word_vectors)s
%(word_vector_dims)s
max_text_features : int, default=1000
    Vocabulary cap of TF-IDF."""

#: Fill the docstrings of the block estimators (``%(blocks)s`` and the shared entries).
fill_block_doc = fill_doc(blocks=_BLOCK_DOC)


class _FeatureBlocks:
    """Mixin: the image block and the text block of a DataFrame.

    For estimators with the parameters of ``_BLOCK_CONSTRAINTS``
    (``image_col``, ``image_features``, ..., ``max_text_features``); the
    fitted blocks are ``image_features_`` and ``text_features_``.
    """

    def _builders(self, seed_image=None, seed_text=None):
        image = ImageFeatures(self.image_col, self.image_features, image_size=self.image_size,
                              n_image_components=self.n_image_components,
                              random_state=seed_image)
        text = TextFeatures(self.text_col, list(self.text_features)
                            if not isinstance(self.text_features, str) else self.text_features,
                            tokenizer=self.tokenizer, vector_size=self.vector_size,
                            word_vectors=self.word_vectors,
                            word_vector_dims=self.word_vector_dims,
                            max_text_features=self.max_text_features, random_state=seed_text)
        return image, text

    def _columns(self):
        """The image column and the columns the text block reads."""
        image, text = self._builders()
        return [self.image_col, *text.columns()]

    def _fit_blocks(self, X):
        """Check every cell, then fit both blocks; return (image, text) matrices."""
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)
        image, text = self._builders(int(seeds[0]), int(seeds[1]))
        collect_problems(lambda: text.check(X), lambda: image.check(X))
        return image, text, image.fit_transform(X), text.fit_transform(X)

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
