"""TextFeatures: the text matrix of MMEDA and of the factorization baselines.

:func:`text_matrix` builds it from the text encoder those estimators are
given (a :class:`~skmm.encoders.TextMatrix` or ``"passthrough"``).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skmm._params import constraints, fill_doc
from skmm.inputs.checks import (
    FrameMixin,
    check_columns,
    check_frame,
    load_vectors,
    make_report,
    raise_problems,
    set_input_features,
)
from skmm.inputs.text import MeanWordVectors
from skmm.inputs.tokenizers import check_text, get_tokenizer, resolve_tokenizer

__all__ = ["TextFeatures", "text_matrix"]


@fill_doc
class TextFeatures(FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """The text matrix X1 of MMEDA and of the factorization baselines.

    Parameters
    ----------
    text_col : str, default="text"
        Column of texts (not with a list of columns in ``text_features``).
    text_features : {"word2vec", "tfidf", "tfidf+word2vec", "vector"} or list of str, \
default="word2vec"
        ``"word2vec"``: the mean of the word vectors of each text
        (:class:`skmm.inputs.MeanWordVectors`, the paper's averaged Word2Vec,
        or the vectors ``word_vectors`` names), then standardised per column
        (zero mean, unit variance on the fit rows). ``"tfidf"``: TF-IDF over
        the tokens (at most ``max_text_features`` words, rows L2-normalised),
        multiplied by ``sqrt(n_words)`` so that an entry's mean square is 1
        per row like a standardised feature, while zeros stay zeros.
        ``"tfidf+word2vec"``: both side by side, TF-IDF columns first: which
        words a text holds, and what pretrained vectors know of them. The
        standardised vectors are multiplied by ``vector_weight_ =
        sqrt(n_words / vector_size)``, so that both blocks weigh the same in
        a row (a mean square norm of ``n_words`` each) whatever their widths:
        unweighted, 1,000 TF-IDF columns drowned 256 wordllama dimensions
        (MMEDA on the emoji groups: 0.62 at weight 1, 0.645 at about 2, 0.59
        at 0.5, LinearSVC, 3 folds).
        ``"vector"``: ``text_col`` holds one precomputed vector per row (a
        sentence embedding, SkipThoughts features as in the common-space
        thesis: 1-D arrays or lists of one length), standardised per
        column. A list: numeric columns of ``X``, standardised per column.
        A setting the matrix does not read raises ValueError: the word
        vectors' (``word_vectors``, ``word_vector_dims``, ``vector_size``)
        without ``"word2vec"``, ``max_text_features`` without ``"tfidf"``,
        ``tokenizer`` without either.
    %(tokenizer)s
    %(vector_size)s
    %(word_vectors)s
    %(word_vector_dims)s
    max_text_features : int, default=1000
        Vocabulary cap of the TF-IDF features.
    random_state : int, RandomState instance or None, default=None
        Seeds Word2Vec.

    Attributes
    ----------
    n_features_out_ : int
        Width of the text matrix.
    words_ : MeanWordVectors or None
    tfidf_ : sklearn.feature_extraction.text.TfidfVectorizer or None
    scaler_ : StandardScaler or None
    vector_weight_ : float
        The factor of the standardised columns: ``sqrt(n_words /
        vector_size)`` with ``"tfidf+word2vec"``, else 1.

    Examples
    --------
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(20, image_size=16, random_state=0)
    >>> TextFeatures(text_features="tfidf").fit_transform(X).shape[0]
    20
    """

    _parameter_constraints = constraints(
        "text_col", "text_features", "tokenizer", "vector_size", "word_vectors",
        "word_vector_dims", "max_text_features", "random_state")

    def __init__(self, text_col="text", text_features="word2vec", *, tokenizer="english",
                 vector_size=50, word_vectors="word2vec", word_vector_dims=None,
                 max_text_features=1000, random_state=None):
        self.text_col = text_col
        self.text_features = text_features
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.max_text_features = max_text_features
        self.random_state = random_state

    @property
    def _numeric(self) -> bool:
        return not isinstance(self.text_features, str)

    @property
    def _kinds(self) -> tuple:
        """The parts of the matrix, in order (``("tfidf", "word2vec")`` for both)."""
        return () if self._numeric else tuple(self.text_features.split("+"))

    def columns(self) -> list:
        """The columns of ``X`` this transformer reads."""
        return list(self.text_features) if self._numeric else [self.text_col]

    def _columns(self):
        return self.columns()

    def check(self, X: pd.DataFrame) -> None:
        """Raise :class:`~skmm.exceptions.InvalidRowsError` listing every unusable cell."""
        if self.text_features == "vector":
            self._vectors(X)  # raises InvalidRowsError naming every unusable cell
            return
        if self._numeric:
            problems = []
            for column in self.columns():
                values = pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float)
                for row, ok in zip(X.index.tolist(), np.isfinite(values)):
                    if not ok:
                        problems.append((row, column, "not a finite number"))
            raise_problems(make_report(problems))
            return
        # each part's tokenizer (wordllama's vectors come with their own)
        tokenizers = dict.fromkeys(
            resolve_tokenizer(self.tokenizer, self.word_vectors) if kind == "word2vec"
            else self.tokenizer for kind in self._kinds)
        for tokenizer in tokenizers:
            raise_problems(check_text(X[self.text_col], column=self.text_col,
                                      tokenizer=tokenizer))

    def _vectors(self, X, length=None) -> np.ndarray:
        return load_vectors(X[self.text_col], column=self.text_col, length=length)

    def _check_settings(self) -> None:
        """Raise if a setting is set that this kind of text matrix does not read."""
        from skmm.encoders._base import _differs

        kinds = set(self._kinds)
        reads = {"text_col"} if not self._numeric else set()
        if kinds & {"tfidf", "word2vec"}:
            reads.add("tokenizer")
        if "word2vec" in kinds:
            reads |= {"word_vectors", "word_vector_dims", "vector_size"}
        if "tfidf" in kinds:
            reads.add("max_text_features")
        unread = [name for name, p in inspect.signature(type(self).__init__).parameters.items()
                  if name not in reads and name not in ("self", "text_features", "random_state")
                  and _differs(getattr(self, name), p.default)]
        if unread:
            raise ValueError(
                f"TextFeatures(text_features={self.text_features!r}) does not act on "
                f"{', '.join(unread)}: the word vectors' settings act with 'word2vec', "
                "max_text_features with 'tfidf', tokenizer with either, text_col unless "
                f"text_features lists columns; leave {'it' if len(unread) == 1 else 'them'} "
                "at the default")

    def fit(self, X, y=None):
        """Fit the word vectors / vocabulary and the scaling on ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        self : TextFeatures
        """
        self.fit_transform(X)
        return self

    @property
    def _n_features_out(self):
        return self.n_features_out_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the text matrix of ``X`` (float32)."""
        self._check_settings()
        X = check_frame(X)
        check_columns(X, self.columns())
        self.check(X)
        words = tfidf = scaler = None
        if "tfidf" in self._kinds:
            from sklearn.feature_extraction.text import TfidfVectorizer

            tfidf = TfidfVectorizer(analyzer=get_tokenizer(self.tokenizer),
                                    max_features=self.max_text_features, dtype=np.float32)
            tfidf.fit(X[self.text_col].tolist())
        if "word2vec" in self._kinds:
            words = MeanWordVectors(self.text_col, tokenizer=self.tokenizer,
                                    word_vectors=self.word_vectors,
                                    word_vector_dims=self.word_vector_dims,
                                    vector_size=self.vector_size,
                                    random_state=self.random_state).fit(X)
        self.words_, self.tfidf_, self.scaler_ = words, tfidf, None
        if self._kinds != ("tfidf",):
            scaler = StandardScaler().fit(self._raw(X))
        self.scaler_ = scaler
        # both blocks of "tfidf+word2vec" weigh the same: a mean square row norm of n_words
        self.vector_weight_ = (float(np.sqrt(len(tfidf.vocabulary_) / scaler.n_features_in_))
                               if tfidf is not None and scaler is not None else 1.0)
        out = self._matrix(X)
        self.n_features_out_ = out.shape[1]
        set_input_features(self, X, self._columns())
        return out

    def _tfidf(self, X):
        m = self.tfidf_.transform(X[self.text_col].tolist()).toarray()
        return m * np.sqrt(m.shape[1])

    def _raw(self, X):
        """The columns that are standardised (all but the TF-IDF ones)."""
        if self.words_ is not None:
            return self.words_.transform(X)
        if self.text_features == "vector":  # fitted: the vectors must have the fit length
            length = self.scaler_.n_features_in_ if getattr(self, "scaler_", None) else None
            return self._vectors(X, length).astype(np.float64)
        return X[self.columns()].apply(pd.to_numeric).to_numpy(dtype=np.float64)

    def transform(self, X) -> np.ndarray:
        """The text matrix of ``X``: float32 of shape ``(n_samples, n_features_out_)``."""
        check_is_fitted(self, "scaler_")
        X = check_frame(X)
        check_columns(X, self.columns(), context="it was used in fit")
        self.check(X)
        return self._matrix(X)

    def _matrix(self, X) -> np.ndarray:
        parts = []
        if self.tfidf_ is not None:
            parts.append(self._tfidf(X))
        if self.scaler_ is not None:
            parts.append(self.scaler_.transform(self._raw(X)) * self.vector_weight_)
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def text_matrix(encoder, text_col: str, *, random_state=None) -> TextFeatures:
    """A new :class:`TextFeatures` of ``text_col`` that builds what ``encoder`` describes.

    Parameters
    ----------
    encoder : skmm.encoders.TextMatrix or "passthrough"
        A resolved encoder (:func:`skmm.encoders._base.resolve_encoder`): a
        ``TextMatrix`` (its ``features="auto"`` read from ``features_`` when
        :meth:`~skmm.encoders.TextMatrix.resolve_auto` has set it), or
        ``"passthrough"`` for a column of precomputed vectors.
    text_col : str
    random_state : int or None, default=None
        Seeds Word2Vec.

    Returns
    -------
    TextFeatures
        Unfitted.
    """
    from sklearn.base import clone

    from skmm.encoders._base import encoder_role

    role = encoder_role(encoder)
    if role == "vector":
        return TextFeatures(text_col, "vector", random_state=random_state)
    if role != "matrix":
        raise ValueError(f"no text matrix of a {type(encoder).__name__}; a TextMatrix or "
                         "'passthrough' builds one")
    features = getattr(encoder, "features_", None) or clone(encoder).resolve_auto().features_
    return TextFeatures(text_col, features, tokenizer=encoder.tokenizer,
                        vector_size=encoder.vector_size, word_vectors=encoder.word_vectors,
                        word_vector_dims=encoder.word_vector_dims,
                        max_text_features=encoder.max_features, random_state=random_state)
