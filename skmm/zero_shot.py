"""Zero-shot classification: classes from their names, in a common space learned from pairs.

:class:`ZeroShotClassifier` needs no labelled row: a common space fitted on
the pairing of the rows (a picture and its caption) embeds each class's name
like a caption, and each row goes to the class whose name lies nearest its
picture (CLIP's zero-shot classifier, on skmm's spaces).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from skmm.inputs import check_frame
from skmm.inputs.checks import set_input_features

__all__ = ["DEFAULT_TEMPERATURE", "ZeroShotClassifier"]

#: The temperature of :meth:`ZeroShotClassifier.predict_proba` with a space that learned
#: none (CLIP's initial value; :class:`~skmm.baselines.TowerCCA`).
DEFAULT_TEMPERATURE = 0.07


class ZeroShotClassifier(ClassifierMixin, BaseEstimator):
    """Classify rows by the nearest class name in a common space learned from pairs alone.

    ``fit(X)`` fits a clone of ``space`` on the pairs of ``X`` (a picture and
    its caption per row) without labels; each class name, put into
    ``template``, is embedded like a caption (``label_modality``); a row is
    predicted as the class whose name lies nearest (cosine) to its
    ``query`` modality's embedding. No row needs a label: the classes exist
    only as names. See the user guide's "Zero-shot classification".

    Parameters
    ----------
    space : estimator or None, default=None
        The common space: a :class:`~skmm.CommonSpaceEmbedder` (or any
        estimator with ``fit(X)`` and ``embed(X, modality)``, such as
        :class:`~skmm.baselines.TowerCCA`). Unfitted (or a clone, as
        ``cross_val_score`` and ``GridSearchCV`` make), a clone of it is
        fitted on ``X``'s pairs without labels. **Fitted** (it passes
        :func:`~sklearn.utils.validation.check_is_fitted`), it is used as it
        is and :meth:`fit` trains nothing; to keep a fitted space through
        ``cross_val_score``'s cloning, wrap it in
        :class:`sklearn.frozen.FrozenEstimator`. None:
        ``CommonSpaceEmbedder()`` at its defaults (the frozen towers).
    classes : array-like or mapping
        The class labels, each also its name (``str(label)``); or
        ``{label: name}`` where a label's name differs from the label. At
        least one; no repeated label.
    template : str or list of str, default="{}"
        The caption of a class: ``template.format(name)``. A list averages
        the (normalised) embeddings of every template's caption, as CLIP's
        prompt ensembles. Templates tried on the emoji groups, and what they
        gave: the user guide.
    query : str, default="image"
        The modality of the rows to classify (a modality of the space).
    label_modality : str, default="text"
        The modality that embeds the class names (a text modality of the
        space).

    Attributes
    ----------
    space_ : estimator
        The fitted space: ``space`` itself when it was fitted, else a clone
        fitted on ``X`` without labels.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    prompts_ : list of list of str
        Per class (in the order of ``classes_``), its captions (one per
        template).
    label_embeddings_ : ndarray of shape (n_classes, n_components), float32
        The L2-normalised embedding of each class's name.
    temperature_ : float
        The temperature of :meth:`predict_proba`: the space's learned one
        (``CommonSpaceEmbedder.temperature_``), or
        :data:`DEFAULT_TEMPERATURE` for a space without one.
    n_features_in_ : int
        1: the column of ``query``, which :meth:`predict` reads.
    feature_names_in_ : ndarray of str

    See Also
    --------
    skmm.CommonSpaceEmbedder : the common space, fitted on pairs without ``y``.

    Examples
    --------
    >>> from skmm import CommonSpaceEmbedder, ZeroShotClassifier
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(64, image_size=32, label="shape", random_state=0)
    >>> clf = ZeroShotClassifier(CommonSpaceEmbedder(n_components=8, max_epochs=2,
    ...                                              random_state=0),
    ...                          classes=["circle", "square", "triangle", "cross"],
    ...                          template="a {}")
    >>> clf.fit(X).predict(X).shape  # no label read
    (64,)
    >>> clf.predict_proba(X).shape
    (64, 4)
    """

    _parameter_constraints = {
        "space": [HasMethods(["fit", "embed"]), None],
        "classes": ["array-like", Mapping],
        "template": [str, list],
        "query": [str],
        "label_modality": [str],
    }

    def __init__(self, space=None, *, classes, template="{}", query="image",
                 label_modality="text"):
        self.space = space
        self.classes = classes
        self.template = template
        self.query = query
        self.label_modality = label_modality

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False  # y is only checked against the classes
        space = self._space()
        tags.non_deterministic = get_tags(space).non_deterministic
        return tags

    def _space(self):
        if self.space is not None:
            return self.space
        from skmm import CommonSpaceEmbedder

        return CommonSpaceEmbedder()

    # ---- fit -------------------------------------------------------------------------
    def _names(self) -> tuple[np.ndarray, list]:
        """The sorted class labels and their names."""
        if isinstance(self.classes, Mapping):
            labels, names = list(self.classes), [self.classes[c] for c in self.classes]
        else:
            labels = list(self.classes.tolist() if isinstance(self.classes, np.ndarray)
                          else self.classes)
            names = [str(c) for c in labels]
        if not labels:
            raise ValueError(f"{type(self).__name__}: classes is empty; give the class labels "
                             "(or {label: name})")
        if len(set(labels)) != len(labels):
            repeated = sorted({c for c in labels if labels.count(c) > 1}, key=str)
            raise ValueError(f"{type(self).__name__}: classes repeats {repeated[:5]}")
        bad = [n for n in names if not isinstance(n, str) or not n.strip()]
        if bad:
            raise ValueError(f"{type(self).__name__}: every class name must be a non-empty "
                             f"string; got {bad[:5]}")
        try:  # sorted, as scikit-learn's classes_ are
            order = sorted(range(len(labels)), key=lambda i: labels[i])
        except TypeError:  # labels of mixed types: by their text
            order = sorted(range(len(labels)), key=lambda i: str(labels[i]))
        if len({type(c) for c in labels}) == 1:
            classes = np.asarray([labels[i] for i in order])
        else:
            classes = np.empty(len(labels), dtype=object)
            classes[:] = [labels[i] for i in order]
        return classes, [names[i] for i in order]

    def _templates(self) -> list[str]:
        templates = [self.template] if isinstance(self.template, str) else list(self.template)
        if not templates:
            raise ValueError(f"{type(self).__name__}: template is an empty list; give at "
                             "least one, such as '{}'")
        for t in templates:
            if not isinstance(t, str) or "{}" not in t:
                raise ValueError(f"{type(self).__name__}: template {t!r} must be a string "
                                 "with '{}' where the class name goes")
        return templates

    @staticmethod
    def _modality_column(space, modality: str, role: str):
        """The column of ``modality`` in the fitted ``space``; a clear error if unknown."""
        modalities = getattr(space, "modalities_", None)
        if modalities is not None:
            if modality not in modalities:
                raise ValueError(f"ZeroShotClassifier: {role}={modality!r} is not a modality "
                                 f"of the space; it has {list(modalities)}")
            return modalities[modality]["column"], modalities[modality].get("kind")
        column = getattr(space, f"{modality}_col", None)  # TowerCCA: image_col, text_col
        if column is None:
            raise ValueError(f"ZeroShotClassifier: {role}={modality!r} is not a modality of "
                             f"{type(space).__name__}")
        return column, modality

    def _check_y(self, X, y, classes) -> None:
        if isinstance(y, pd.Series | pd.DataFrame):
            y = y.to_numpy()
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has shape {y.shape}; give one label "
                             "per row (or no y)")
        known = set(classes.tolist())
        unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
        if unknown:
            raise ValueError(f"{type(self).__name__}: y holds labels that are not among the "
                             f"classes: {unknown[:5]}{' ...' if len(unknown) > 5 else ''} "
                             f"(classes: {classes.tolist()[:10]}); a zero-shot classifier "
                             "predicts only the classes it is given")

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the space on the pairs of ``X`` (no labels), then embed the class names.

        Parameters
        ----------
        X : pandas.DataFrame
            The rows whose pairs the space learns from (the columns of its
            modalities). A fitted ``space`` is not refitted: then only the
            ``query`` column is checked.
        y : array-like of shape (n_samples,) or None, default=None
            Never used to train; only checked: every label must be one of
            ``classes`` (as when ``cross_val_score`` passes it).

        Returns
        -------
        self : ZeroShotClassifier

        Raises
        ------
        ValueError
            Empty or repeated ``classes``, a template without ``{}``, a
            ``query`` or ``label_modality`` that is not a modality of the
            space (or a label modality that is not text), a ``y`` with a
            label outside ``classes``.
        """
        X = check_frame(X)
        classes, names = self._names()
        templates = self._templates()
        if y is not None:
            self._check_y(X, y, classes)
        space = self._space()
        try:
            check_is_fitted(space)
        except Exception:  # noqa: BLE001 - NotFittedError, or a space without fitted state
            space = clone(space).fit(X)
        query_column, _ = self._modality_column(space, self.query, "query")
        label_column, kind = self._modality_column(space, self.label_modality,
                                                   "label_modality")
        if kind not in ("text", None):
            raise ValueError(f"ZeroShotClassifier: label_modality={self.label_modality!r} reads "
                             f"{kind}s (column {label_column!r}); the class names need a text "
                             "modality")
        set_input_features(self, X, [query_column])
        prompts = [[t.format(n) for t in templates] for n in names]
        flat = pd.DataFrame({label_column: [p for per in prompts for p in per]})
        Z = np.asarray(space.embed(flat, self.label_modality), dtype=np.float32)
        Z = Z.reshape(len(names), len(templates), -1)
        Z = Z / np.maximum(np.linalg.norm(Z, axis=2, keepdims=True), 1e-12)
        Z = Z.mean(1)
        self.label_embeddings_ = (Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True),
                                                 1e-12)).astype(np.float32)
        self.space_ = space
        self.classes_ = classes
        self.prompts_ = prompts
        temperature = getattr(space, "temperature_", None)
        self.temperature_ = float(temperature) if temperature is not None \
            else DEFAULT_TEMPERATURE
        return self

    # ---- predict ---------------------------------------------------------------------
    def _similarities(self, X) -> np.ndarray:
        check_is_fitted(self, "label_embeddings_")
        X = check_frame(X)
        Z = np.asarray(self.space_.embed(X, self.query), dtype=np.float64)
        Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        return Z @ self.label_embeddings_.T.astype(np.float64)

    def predict(self, X):
        """The class whose name lies nearest each row's ``query`` embedding.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds the ``query`` modality's column, a value in every row.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels of ``classes_``.
        """
        nearest = self._similarities(X).argmax(1)  # checks the fit first
        return self.classes_[nearest]

    def predict_proba(self, X):
        """Class probabilities: the softmax of the cosine similarities at ``temperature_``.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        logits = self._similarities(X) / self.temperature_
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict_log_proba(self, X):
        """The log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))
