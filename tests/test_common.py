"""The contracts every public estimator keeps (docs: DESIGN.md, "Contracts every estimator keeps").

Each check runs once over every public estimator, in a tiny configuration fitted
once per module on ``make_shapes(32, image_size=16)``. The per-estimator test
files keep only what is specific to a model.

scikit-learn's own checks (``sklearn.utils.estimator_checks``) are called directly
where they need no data:

* used on every estimator (and on ``TextEncoder``, the building block whose ``fit``
  takes a Series): ``check_estimator_cloneable``, ``check_estimator_repr``,
  ``check_no_attributes_set_in_init``, ``check_parameters_default_constructible``,
  ``check_get_params_invariance``, ``check_set_params``,
  ``check_do_not_raise_errors_in_init_or_set_params``, ``check_mixin_order``,
  ``check_valid_tag_types``, ``check_estimator_tags_renamed``;
* used on the transformers: ``check_get_feature_names_out_error``.

Every other check builds numpy arrays (``make_blobs``, ``rng.uniform`` ...) and
feeds them to ``fit``; an skmm estimator rejects anything but a DataFrame with
its image and text columns, so those checks would only test that rejection. The
ones that matter have a DataFrame equivalent below:

==========================================  ============================================
sklearn check (needs array input)           DataFrame equivalent here
==========================================  ============================================
check_estimators_overwrite_params           test_fit_does_not_change_params
check_dont_overwrite_parameters             test_fit_adds_no_public_attribute,
                                            test_fitted_attributes_end_with_underscore
check_estimators_fit_returns_self           test_fit_returns_self
check_estimators_unfitted,                  test_methods_before_fit_raise_not_fitted
check_transformers_unfitted
check_fit_check_is_fitted                   test_check_is_fitted
check_n_features_in,                        test_n_features_in_and_feature_names_in
check_n_features_in_after_fitting
check_dataframe_column_names_consistency    test_missing_column_in_fit_is_named,
                                            test_missing_column_in_transform_is_named,
                                            test_other_columns_ignored_and_row_order_kept
check_transformer_get_feature_names_out     test_feature_names_out_after_fit
check_set_output_transform(_pandas)         test_set_output_pandas(_fit_transform)
check_estimators_pickle                     test_pickle_and_joblib_round_trip
check_fit_idempotent                        test_same_random_state_is_bit_identical
check_methods_sample_order_invariance       test_other_columns_ignored_and_row_order_kept
check_fit_score_takes_y                     test_fit_and_score_take_y (signature only)
check_transformer_preserve_dtypes           test_tags_preserves_dtype_tells_the_truth
==========================================  ============================================

The rejection itself is checked once: test_array_input_is_refused (a TypeError that
says DataFrame). Other contracts of DESIGN.md with no sklearn check: float32 output
(test_output_shape_and_dtype), feature names ``<classname><i>``, truthful
``string`` / ``allow_nan`` / ``two_d_array`` / target tags, another random_state
gives another model, fit leaves torch's global generator alone, ``verbose=0``
prints nothing.

Excluded without an equivalent: the array-shape checks (check_fit1d, check_fit2d_*,
check_fit2d_predict1d, check_nonsquare_error, check_estimators_empty_data_messages
[covered per estimator], check_complex_data, check_dtype_object,
check_estimators_dtypes, check_f_contiguous_array_estimator,
check_readonly_memmap_input, check_transformer_data_not_an_array,
check_*_data_not_an_array), sparse input (check_estimator_sparse_*), NaN/inf in a
numeric matrix (check_estimators_nan_inf: missing cells are tested through the
``allow_nan`` tag instead), sample weights (no estimator takes ``sample_weight``),
array API, the classifier/regressor/cluster/outlier statistical checks on blobs
(check_classifiers_train ... : learning is tested per estimator on make_shapes),
check_param_validation (it fits on arrays; invalid parameters are tested per
estimator), check_positive_only_tag_during_fit, check_requires_y_none (fits on
arrays), check_supervised_y_2d, check_classifiers_one_label and
check_classifiers_regression_target (numeric X), check_dict_unchanged and
check_methods_subset_invariance (fits on arrays; batching is per estimator).

Repeatability holds at a fixed number of torch threads: this module runs with one.
"""

from __future__ import annotations

import copy
import inspect
import io
import pickle
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_feature_names_out_error,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)
from sklearn.utils.validation import check_is_fitted

import skmm
import skmm.baselines
import skmm.encoders
import skmm.inputs
import skmm.towers
from skmm.datasets import make_shapes
from skmm.exceptions import MissingColumnError

#: one torch thread for the whole module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ---- the estimators, each in a tiny configuration ---------------------------------

CRVAE = dict(n_components=4, fusion_size=16, max_epochs=2, batch_size=16, random_state=0)
MMEDA = dict(n_components=4, image_code=8, text_code=8, hidden_size=16, fusion_size=16,
             max_epochs=2, batch_size=16, random_state=0)
COMMON_SPACE = dict(n_components=8, hidden_size=16, max_epochs=2, batch_size=32, random_state=0)
CNN = dict(image_size=16, channels=(4, 8), hidden_size=16, max_epochs=2, batch_size=16,
           random_state=0)
FUSION = dict(image_size=16, channels=(4, 8), dense_size=8,
              text_encoder=skmm.encoders.RecurrentTextEncoder(
                  cell="lstm", hidden_size=8, vector_size=8, num_layers=1, bidirectional=False,
                  mean_pooling=False, fine_tune=True, max_length=None),
              max_epochs=2, batch_size=16, random_state=0)
CONV = dict(image_size=16, n_components=4, conv_channels=4, max_epochs=2, batch_size=16,
            random_state=0)
SMALL = dict(n_image_components=5, text_encoder=skmm.encoders.TextMatrix("word2vec", vector_size=8),
             random_state=0)


# the defaults read the pretrained towers; these select the trained CNN and word encoders
def cnn():
    return skmm.encoders.ConvEncoder(image_size=16, channels=4)


def cnn_words():
    return dict(image_encoder=cnn(),
                text_encoder=skmm.encoders.RecurrentTextEncoder(hidden_size=8, vector_size=8))


def cnn_matrix():
    return dict(image_encoder=cnn(), text_encoder=skmm.encoders.TextMatrix())


def cnn_mean():
    return dict(modalities={"image": ("image", cnn()),
                            "text": ("text", skmm.encoders.MeanWordEncoder(vector_size=8))})


def _image_features_class():
    # exported from skmm.baselines, or (today) only from its factorization module
    try:
        return skmm.baselines.ImageFeatures
    except AttributeError:
        from skmm.baselines import ImageFeatures

        return ImageFeatures


@dataclass(frozen=True)
class Spec:
    make: Callable[[], Any]
    columns: tuple[str, ...]  # the columns of X it reads
    supervised: bool = False  # fit(X, y)
    classifier: bool = False  # predict instead of transform
    neural: bool = False  # trained with torch
    y_optional: bool = False  # supervised with y, and fits without it too


SPECS = {
    # the embedders at their defaults: both frozen pretrained towers (features cached per cell)
    "CRVAEEmbedder": Spec(lambda: skmm.CRVAEEmbedder(**CRVAE), ("image", "text"), neural=True),
    "MMEDAEmbedder": Spec(lambda: skmm.MMEDAEmbedder(**MMEDA), ("image", "text"), neural=True),
    "CommonSpaceEmbedder": Spec(lambda: skmm.CommonSpaceEmbedder(**COMMON_SPACE),
                                ("image", "text"), supervised=True, neural=True,
                                y_optional=True),
    "TextSVMClassifier": Spec(lambda: skmm.baselines.TextSVMClassifier(random_state=0), ("text",),
                              supervised=True, classifier=True),
    "ImageCNNClassifier": Spec(lambda: skmm.baselines.ImageCNNClassifier(**CNN), ("image",),
                               supervised=True, classifier=True, neural=True),
    "LateFusionClassifier": Spec(lambda: skmm.baselines.LateFusionClassifier(**FUSION),
                                 ("image", "text"), supervised=True, classifier=True,
                                 neural=True),
    "ConvAutoencoder": Spec(lambda: skmm.baselines.ConvAutoencoder(**CONV), ("image",),
                            neural=True),
    "ImageFeatures": Spec(lambda: _image_features_class()(
        image_features="pca", image_size=16, n_image_components=5, random_state=0), ("image",)),
    "EarlyFusion": Spec(lambda: skmm.baselines.EarlyFusion(**SMALL), ("image", "text")),
    "CollectiveMF": Spec(lambda: skmm.baselines.CollectiveMF(n_components=3, **SMALL),
                         ("image", "text")),
    "AutoencoderMF": Spec(lambda: skmm.baselines.AutoencoderMF(
        image_features="pca", n_components=3, hidden_size=16, max_epochs=2, image_size=16,
        **SMALL), ("image", "text"), neural=True),
    "ImageLoader": Spec(lambda: skmm.inputs.ImageLoader(image_size=16), ("image",)),
    "TextFeatures": Spec(lambda: skmm.inputs.TextFeatures(vector_size=8, random_state=0),
                         ("text",)),
    "MeanWordVectors": Spec(lambda: skmm.inputs.MeanWordVectors(vector_size=8, random_state=0),
                            ("text",)),
    # the published encoders: the trained CNN and the word vectors
    "CRVAEEmbedder[cnn]": Spec(lambda: skmm.CRVAEEmbedder(**CRVAE, **cnn_words()),
                               ("image", "text"), neural=True),
    "MMEDAEmbedder[cnn]": Spec(lambda: skmm.MMEDAEmbedder(**MMEDA, **cnn_matrix()),
                               ("image", "text"), neural=True),
    "CommonSpaceEmbedder[cnn]": Spec(lambda: skmm.CommonSpaceEmbedder(**COMMON_SPACE,
                                                                      **cnn_mean()),
                                     ("image", "text"), supervised=True, neural=True,
                                     y_optional=True),
    # the common space learned from the pairing of the rows alone (fit(X), no y)
    "CommonSpaceEmbedder[pairs]": Spec(lambda: skmm.CommonSpaceEmbedder(**COMMON_SPACE),
                                       ("image", "text"), neural=True),
    "TowerCCA": Spec(lambda: skmm.baselines.TowerCCA(n_components=2, pca_components=4),
                     ("image", "text")),
    # classes from their names: the space fitted on the pairs, y only checked; predict
    # reads the query modality's column alone
    "ZeroShotClassifier": Spec(lambda: skmm.ZeroShotClassifier(
        skmm.CommonSpaceEmbedder(**COMMON_SPACE), classes=["circle", "cross", "square",
                                                           "triangle"]),
        ("image",), supervised=True, classifier=True, y_optional=True),
    "ImageTower": Spec(lambda: skmm.encoders.ImageTower("image", image_size=32), ("image",)),
    "TextTower": Spec(lambda: skmm.encoders.TextTower("text"), ("text",)),
}

#: Built and configured like the others, but fitted on a Series: data-free checks only.
BUILDING_BLOCKS = {"TextEncoder": lambda: skmm.inputs.TextEncoder(vector_size=8, random_state=0)}

NAMES = list(SPECS)
ALL_NAMES = NAMES + list(BUILDING_BLOCKS)
TRANSFORMERS = [n for n in NAMES if not SPECS[n].classifier]
CLASSIFIERS = [n for n in NAMES if SPECS[n].classifier]
NEURAL = [n for n in NAMES if SPECS[n].neural]
NEURAL_EMBEDDERS = [n for n in TRANSFORMERS if SPECS[n].neural]
#: pixels, by design (ImageLoader turns a frame into a uint8 pixel matrix)
OUTPUT_DTYPE = {"ImageLoader": np.uint8}
#: output columns named <lowercase class name><i>, like scikit-learn's PCA
CLASS_PREFIX_NAMES = NEURAL_EMBEDDERS + ["CollectiveMF", "MeanWordVectors", "ImageTower",
                                         "TextTower", "TowerCCA"]
COLUMN_CASES = [(n, c) for n in NAMES for c in SPECS[n].columns]


def make(name):
    if name in BUILDING_BLOCKS:
        return BUILDING_BLOCKS[name]()
    return SPECS[name].make()


def fit(name, est, X, y):
    return est.fit(X, y) if SPECS[name].supervised else est.fit(X)


def output(name, est, X):
    """What an estimator gives for X: transform, or the classifier's scores."""
    if not SPECS[name].classifier:
        return est.transform(X)
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.decision_function(X)


# ---- data and fits, once per module ---------------------------------------------------


@pytest.fixture(scope="module")
def X():
    return make_shapes(32, image_size=16, random_state=0)


@pytest.fixture(scope="module")
def y(X):
    return X["label"].to_numpy()


@dataclass
class Fitted:
    estimator: Any
    returned: Any
    attrs_before: dict  # vars() before fit (a shallow copy: identities kept)
    param_hashes_before: dict  # joblib.hash of each get_params() value before fit
    printed: str  # what fit wrote to stdout and stderr
    torch_rng_untouched: bool  # the global torch generator is where it was
    output: np.ndarray = field(default=None)


class FitCache:
    """Fit each estimator the first time a test asks for it; errors are cached too."""

    def __init__(self, X, y, **overrides):
        self.X, self.y, self.overrides = X, y, overrides
        self._done = {}

    def __getitem__(self, name) -> Fitted:
        if name not in self._done:
            try:
                self._done[name] = self._fit(name)
            except Exception as exc:  # noqa: BLE001 - re-raised for each test that asks
                self._done[name] = exc
        result = self._done[name]
        if isinstance(result, Exception):
            raise result
        return result

    def _fit(self, name) -> Fitted:
        est = make(name)
        if self.overrides:
            est.set_params(**self.overrides)
        attrs_before = dict(vars(est))
        hashes = {k: joblib.hash(v) for k, v in est.get_params().items()}
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            returned = fit(name, est, self.X, self.y)
        untouched = torch.equal(torch.rand(3), expected)
        result = Fitted(est, returned, attrs_before, hashes, out.getvalue() + err.getvalue(),
                        untouched)
        result.output = output(name, est, self.X)
        return result


@pytest.fixture(scope="module")
def fits(one_torch_thread, X, y):
    return FitCache(X, y)


@pytest.fixture(scope="module")
def refits(one_torch_thread, X, y):
    """A second fit of the same configuration."""
    return FitCache(X, y)


@pytest.fixture(scope="module")
def other_seed_fits(one_torch_thread, X, y):
    return FitCache(X, y, random_state=1)


# ---- scikit-learn's own checks that need no data --------------------------------------

SKLEARN_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
    check_do_not_raise_errors_in_init_or_set_params,
    check_mixin_order,
    check_valid_tag_types,
    check_estimator_tags_renamed,
]


@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ALL_NAMES)
def test_sklearn_check(name, check):
    est = make(name)
    check(type(est).__name__, est)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_get_feature_names_out_before_fit_raises_not_fitted(name):
    est = make(name)
    check_get_feature_names_out_error(type(est).__name__, est)


# ---- fit: returns self, leaves parameters alone, adds only fitted attributes ---------


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self(name, fits):
    fitted = fits[name]
    assert fitted.returned is fitted.estimator


@pytest.mark.parametrize("name", NAMES)
def test_fit_does_not_change_params(name, fits):
    """check_estimators_overwrite_params: no parameter is changed or mutated by fit."""
    fitted = fits[name]
    after = {k: joblib.hash(v) for k, v in fitted.estimator.get_params().items()}
    changed = sorted(k for k, h in fitted.param_hashes_before.items() if after.get(k) != h)
    assert not changed, f"fit changed or mutated the parameters {changed}"


def _is_public(attr):
    return not (attr.startswith("_") or attr.endswith("_"))


@pytest.mark.parametrize("name", NAMES)
def test_fit_adds_no_public_attribute(name, fits):
    """check_dont_overwrite_parameters: public attributes are neither added nor replaced."""
    fitted = fits[name]
    after = vars(fitted.estimator)
    added = sorted(k for k in after if _is_public(k) and k not in fitted.attrs_before)
    assert not added, f"fit added public attributes {added}"
    replaced = sorted(k for k in after if _is_public(k) and k in fitted.attrs_before
                      and after[k] is not fitted.attrs_before[k])
    assert not replaced, f"fit replaced public attributes {replaced}"


@pytest.mark.parametrize("name", NAMES)
def test_fitted_attributes_end_with_underscore(name, fits):
    """fit sets trailing-underscore attributes only, none of them dunder-like."""
    fitted = fits[name]
    added = set(vars(fitted.estimator)) - set(fitted.attrs_before)
    assert added, "fit added no attribute"
    bad = sorted(k for k in added if not k.endswith("_") or k.startswith("__"))
    assert not bad, f"fit added attributes {bad}: expected names like 'net_'"


@pytest.mark.parametrize("name", NAMES)
def test_auto_parameters_are_resolved_into_fitted_attributes(name, fits):
    """Each parameter whose value is "auto" is resolved once, in fit, into ``<name>_``,
    which says what was chosen (scikit-learn's ``n_components_`` pattern)."""
    est = fits[name].estimator
    autos = [k for k, v in est.get_params(deep=False).items()
             if isinstance(v, str) and v == "auto"]
    missing = [k for k in autos if not hasattr(est, f"{k}_")]
    assert not missing, f"no fitted attribute says what 'auto' chose for {missing}"
    unresolved = [k for k in autos if isinstance(getattr(est, f"{k}_"), str)
                  and getattr(est, f"{k}_") == "auto"]
    assert not unresolved, f"{unresolved} are still 'auto' after fit"


@pytest.mark.parametrize("name", ["CRVAEEmbedder", "MMEDAEmbedder", "CommonSpaceEmbedder",
                                  "CRVAEEmbedder[cnn]"])
def test_device_and_precision_are_resolved_once_per_fit(name, monkeypatch):
    """device="auto" and precision="auto" are resolved once, before the data is read;
    the net, the towers and the mixed precision read that choice (``device_``,
    ``precision_``) and the fit forgets its working state."""
    import skmm._base

    calls = {"device": 0, "precision": 0}
    device, precision = skmm._base.resolve_device, skmm._base.resolve_precision

    def count(kind, real):
        def wrapped(*args):
            calls[kind] += 1
            return real(*args)
        return wrapped

    monkeypatch.setattr(skmm._base, "resolve_device", count("device", device))
    monkeypatch.setattr(skmm._base, "resolve_precision", count("precision", precision))
    spec = SPECS[name]
    X = make_shapes(24, image_size=16, label="color", random_state=0)
    est = spec.make()
    est.fit(X, X["label"]) if spec.supervised else est.fit(X)
    assert calls == {"device": 1, "precision": 1}
    assert est.device_ == device("auto") and not hasattr(est, "_fit_state")


@pytest.mark.parametrize("cls", [skmm.CRVAEEmbedder, skmm.MMEDAEmbedder,
                                 skmm.CommonSpaceEmbedder], ids=lambda c: c.__name__)
def test_infrastructure_parameters_are_declared_once(cls):
    """The embedders' infrastructure parameters: one shared constraint and one shared
    docstring entry each, the same default in every embedder."""
    from skmm._params import CONSTRAINTS, DOCS, INFRASTRUCTURE

    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    reference = inspect.signature(skmm.CRVAEEmbedder).parameters
    for name in INFRASTRUCTURE:
        assert cls._parameter_constraints[name] is CONSTRAINTS[name], name
        entry = DOCS[name].splitlines()[0].replace("%(default)s", '"auto"')
        assert cls.__doc__.count(entry) == 1, name
        assert defaults[name] == reference[name].default, name


@pytest.mark.parametrize("name", NAMES)
def test_check_is_fitted(name, fits):
    with pytest.raises(NotFittedError):
        check_is_fitted(make(name))
    check_is_fitted(fits[name].estimator)


@pytest.mark.parametrize("name", NAMES)
def test_methods_before_fit_raise_not_fitted(name, X, y):
    est = make(name)
    methods = [m for m in ("transform", "predict", "predict_proba", "predict_log_proba",
                           "decision_function") if hasattr(est, m)]
    assert methods
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)
    if hasattr(est, "score"):
        with pytest.raises(NotFittedError):
            est.score(X, y) if SPECS[name].supervised else est.score(X)


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_score_take_y(name):
    """check_fit_score_takes_y (signature): y is the second argument, for pipelines."""
    est = make(name)
    for method in ("fit", "score", "partial_fit", "fit_transform", "fit_predict"):
        func = getattr(est, method, None)
        if func is not None:
            args = [p for p in inspect.signature(func).parameters if p != "self"]
            assert args[:2] == ["X", "y"], (method, args)


# ---- the fitted state --------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_n_features_in_and_feature_names_in(name, fits, X):
    fresh = make(name)
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "feature_names_in_")
    est = fits[name].estimator
    # the columns it reads, not every column of X (X also has label, shape, color ...)
    assert X.shape[1] > len(SPECS[name].columns)
    assert est.n_features_in_ == len(SPECS[name].columns)
    assert isinstance(est.feature_names_in_, np.ndarray)
    assert est.feature_names_in_.dtype == object
    assert list(est.feature_names_in_) == list(SPECS[name].columns)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_output_shape_and_dtype(name, fits, X):
    Z = fits[name].output
    expected = OUTPUT_DTYPE.get(name, np.float32)
    assert isinstance(Z, np.ndarray) and Z.ndim == 2 and len(Z) == len(X)
    assert Z.dtype == expected, f"transform gives {Z.dtype}, expected {np.dtype(expected)}"
    assert np.isfinite(Z).all()
    if "n_components" in fits[name].estimator.get_params():
        assert Z.shape[1] == fits[name].estimator.n_components


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_output(name, fits, X):
    est = fits[name].estimator
    pred = est.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(est.classes_)
    scores = fits[name].output
    assert scores.shape == (len(X), len(est.classes_)) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_feature_names_out_after_fit(name, fits):
    fitted = fits[name]
    names = fitted.estimator.get_feature_names_out()
    assert isinstance(names, np.ndarray) and names.dtype == object
    assert len(names) == fitted.output.shape[1]
    assert all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


@pytest.mark.parametrize("name", CLASS_PREFIX_NAMES)
def test_feature_names_out_are_class_name_and_index(name, fits):
    est = fits[name].estimator
    prefix = type(est).__name__.lower()
    expected = [f"{prefix}{i}" for i in range(fits[name].output.shape[1])]
    assert list(est.get_feature_names_out()) == expected


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_set_output_pandas(name, fits, X):
    est = copy.deepcopy(fits[name].estimator).set_output(transform="pandas")
    X2 = X.set_axis([f"r{i}" for i in range(len(X))])
    out = est.transform(X2)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(out.index) == list(X2.index)
    np.testing.assert_array_equal(out.to_numpy(), fits[name].output)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_set_output_pandas_fit_transform(name, X, y):
    est = make(name).set_output(transform="pandas")
    X2 = X.set_axis([f"r{i}" for i in range(len(X))])
    out = est.fit_transform(X2, y) if SPECS[name].supervised else est.fit_transform(X2)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(out.index) == list(X2.index)


@pytest.mark.parametrize("name", NAMES)
def test_pickle_and_joblib_round_trip(name, fits, X, tmp_path):
    fitted = fits[name]
    restored = pickle.loads(pickle.dumps(fitted.estimator))
    np.testing.assert_array_equal(output(name, restored, X), fitted.output)
    joblib.dump(fitted.estimator, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(output(name, loaded, X), fitted.output)
    if SPECS[name].classifier:
        np.testing.assert_array_equal(loaded.predict(X), fitted.estimator.predict(X))


def _comparable(params):
    return {k: type(v).__name__ if hasattr(v, "get_params") else v for k, v in params.items()}


@pytest.mark.parametrize("name", NAMES)
def test_clone_is_unfitted_with_equal_params(name, fits):
    est = fits[name].estimator
    c = clone(est)
    assert type(c) is type(est)
    assert joblib.hash(_comparable(c.get_params())) == joblib.hash(_comparable(est.get_params()))
    with pytest.raises(NotFittedError):
        check_is_fitted(c)
    fitted_attrs = sorted(k for k in vars(c) if k.endswith("_") and not k.startswith("_"))
    assert not fitted_attrs, f"clone kept fitted attributes {fitted_attrs}"


# ---- input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_array_input_is_refused(name, y):
    est = make(name)
    with pytest.raises(TypeError, match="DataFrame"):
        fit(name, est, np.zeros((4, 3)), y[:4])


@pytest.mark.parametrize(("name", "column"), COLUMN_CASES)
def test_missing_column_in_fit_is_named(name, column, X, y):
    est = make(name)
    with pytest.raises(MissingColumnError, match=repr(column)) as err:
        fit(name, est, X.drop(columns=column), y)
    assert isinstance(err.value, ValueError)
    assert not hasattr(est, "n_features_in_")


@pytest.mark.parametrize(("name", "column"), COLUMN_CASES)
def test_missing_column_in_transform_is_named(name, column, fits, X):
    est = fits[name].estimator
    with pytest.raises(MissingColumnError, match=repr(column)) as err:
        output(name, est, X.drop(columns=column))
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("name", NAMES)
def test_other_columns_ignored_and_row_order_kept(name, fits, X):
    est, Z = fits[name].estimator, fits[name].output
    shuffled = X.iloc[::-1].assign(extra=1.0, other="not a column it reads")
    np.testing.assert_allclose(output(name, est, shuffled), Z[::-1], rtol=1e-5, atol=1e-6)


# ---- tags -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_tags_input_is_not_an_array(name):
    """X is a DataFrame (or, for TextEncoder, a Series): no numeric array is accepted."""
    tags = make(name).__sklearn_tags__()
    assert tags.input_tags.two_d_array is False
    assert tags.input_tags.sparse is False
    assert tags.requires_fit is True


@pytest.mark.parametrize("name", ALL_NAMES)
def test_tags_string(name):
    """Every estimator reads string cells: text, or an image given by its path."""
    assert make(name).__sklearn_tags__().input_tags.string is True


@pytest.mark.parametrize("name", NAMES)
def test_tags_kind_and_target(name):
    tags = make(name).__sklearn_tags__()
    spec = SPECS[name]
    assert tags.target_tags.required is (spec.supervised and not spec.y_optional)
    if spec.classifier:
        assert tags.estimator_type == "classifier" and tags.classifier_tags is not None
    else:
        assert tags.transformer_tags is not None and tags.estimator_type is None


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_tags_preserves_dtype_tells_the_truth(name, fits):
    """preserves_dtype lists no dtype that transform does not give (float32 ones: [] or
    ["float32"]), as check_transformer_preserve_dtypes would find."""
    tags = fits[name].estimator.__sklearn_tags__()
    out_dtype = fits[name].output.dtype.name
    assert set(tags.transformer_tags.preserves_dtype) <= {out_dtype}, (
        tags.transformer_tags.preserves_dtype, out_dtype)


@pytest.mark.parametrize("name", NEURAL_EMBEDDERS)
def test_tags_neural_embedders_do_not_claim_float64(name):
    preserves = make(name).__sklearn_tags__().transformer_tags.preserves_dtype
    assert preserves in ([], ["float32"]), preserves


def _with_missing_cell(X, column):
    Xm = X.copy()
    Xm[column] = Xm[column].astype(object)
    Xm.iloc[1, Xm.columns.get_loc(column)] = None
    return Xm


@pytest.mark.parametrize("name", NAMES)
def test_tags_allow_nan_tells_the_truth(name, fits, X):
    """allow_nan is True exactly when a missing cell is accepted (else: a ValueError)."""
    est = fits[name].estimator
    accepted = {}
    for column in SPECS[name].columns:
        try:
            output(name, est, _with_missing_cell(X, column))
            accepted[column] = True
        except ValueError:
            accepted[column] = False
    allow_nan = est.__sklearn_tags__().input_tags.allow_nan
    assert allow_nan is any(accepted.values()), (
        f"allow_nan={allow_nan} but missing cells accepted per column: {accepted}")


# ---- repeatability, global state, silence -------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_same_random_state_is_bit_identical(name, fits, refits):
    np.testing.assert_array_equal(refits[name].output, fits[name].output)
    tags = fits[name].estimator.__sklearn_tags__()
    assert tags.non_deterministic is False  # the tag agrees: random_state is fixed


@pytest.mark.parametrize("name", NEURAL)
def test_other_random_state_differs(name, fits, other_seed_fits):
    assert not np.array_equal(other_seed_fits[name].output, fits[name].output)


@pytest.mark.parametrize("name", NEURAL)
def test_fit_leaves_global_torch_rng_alone(name, fits):
    assert fits[name].torch_rng_untouched


@pytest.mark.parametrize("name", NAMES)
def test_verbose_zero_prints_nothing(name, fits):
    est = fits[name].estimator
    if "verbose" in est.get_params():
        assert est.verbose == 0
    assert fits[name].printed == ""
