"""Baseline classifiers: TF-IDF + LinearSVC, image CNN, LSTM + CNN late fusion."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import cross_val_score

from skmm.baselines import ImageCNNClassifier, LateFusionClassifier, TextSVMClassifier
from skmm.datasets import make_shapes
from skmm.exceptions import InvalidRowsError

CNN = dict(image_size=16, channels=(4, 8), hidden_size=16, max_epochs=2, batch_size=16,
           random_state=0)
FUSION = dict(image_size=16, channels=(4, 8), hidden_size=8, dense_size=8, vector_size=8,
              max_epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


@pytest.fixture(scope="module")
def y(X):
    return X["label"].to_numpy()


@pytest.fixture(scope="module")
def cnn(X, y):
    return ImageCNNClassifier(**CNN).fit(X, y)


@pytest.fixture(scope="module")
def fusion(X, y):
    return LateFusionClassifier(**FUSION).fit(X, y)


# ---- TextSVMClassifier ---------------------------------------------------


def test_text_svm_learns_what_the_text_tells():
    X = make_shapes(120, label="mood", random_state=0)
    test = make_shapes(60, label="mood", random_state=1)
    clf = TextSVMClassifier().fit(X, X["label"])
    assert clf.score(test, test["label"]) == 1.0  # the mood is written in the caption
    assert set(clf.classes_) == {"calm", "angry", "sleepy", "happy"}
    assert clf.decision_function(test).shape == (60, 4)
    shape = make_shapes(120, label="shape", random_state=0)
    shape_test = make_shapes(200, label="shape", random_state=1)
    # the caption never names the shape: about chance (0.25)
    assert TextSVMClassifier().fit(shape, shape["label"]).score(
        shape_test, shape_test["label"]) < 0.45


def test_text_svm_uses_english_stop_words(X, y):
    clf = TextSVMClassifier().fit(X, y)
    vocabulary = clf.pipeline_[0].vocabulary_
    assert "the" not in vocabulary and "a" not in vocabulary
    assert any(w in vocabulary for w in ("red", "green", "blue"))


def test_text_svm_errors_name_column_and_rows(X, y):
    bad = X.copy()
    bad["text"] = bad["text"].astype(object)
    bad.loc[[3, 7], "text"] = [None, ""]
    with pytest.raises(InvalidRowsError, match=r"(?s)'text'.*\[3, 7\]|'text'.*3.*7") as err:
        TextSVMClassifier().fit(bad, y)
    assert set(err.value.rows) == {3, 7}
    with pytest.raises(ValueError, match="48 rows but y has 47"):
        TextSVMClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        TextSVMClassifier().fit(X, np.zeros(len(X)))


# ---- ImageCNNClassifier --------------------------------------------------


def test_cnn_predicts_labels_and_probabilities(X, y, cnn):
    pred = cnn.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(cnn.classes_)
    proba = cnn.predict_proba(X)
    assert proba.shape == (len(X), len(cnn.classes_)) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(cnn.classes_[proba.argmax(1)], pred)
    assert cnn.image_size_ == (16, 16)
    assert 0 <= cnn.score(X, y) <= 1


def test_cnn_architecture_follows_the_spec():
    X = make_shapes(8, image_size=64, random_state=0).iloc[[0, 1, 2, 3, 4, 5, 6, 7]]
    X = X.assign(label=["circle", "square", "triangle", "cross"] * 2)
    clf = ImageCNNClassifier(max_epochs=1, validation_fraction=None, random_state=0)
    module = clf.fit(X, X["label"]).net_.module_
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (5, 5), (2, 2)), (32, 64, (5, 5), (2, 2))]  # grey input
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64 * 16 * 16, 1024),
                                                                  (1024, 4)]
    assert any(isinstance(m, torch.nn.Dropout) for m in module.modules())
    assert isinstance(clf.net_.optimizer_, torch.optim.Adam)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 1e-3 and clf.batch_size == 64


@pytest.mark.slow
def test_cnn_learns_shapes_from_pixels():
    X = make_shapes(240, image_size=16, label="shape", random_state=0)
    test = make_shapes(120, image_size=16, label="shape", random_state=1)
    clf = ImageCNNClassifier(image_size=16, channels=(8, 16), hidden_size=64, max_epochs=25,
                             patience=25, lr=3e-3, random_state=0).fit(X, X["label"])
    assert clf.score(test, test["label"]) > 0.5  # chance is 0.25


@pytest.mark.slow
def test_cnn_early_stopping_on_validation_split(X, y):
    clf = ImageCNNClassifier(**{**CNN, "max_epochs": 30, "lr": 0.05}, patience=2,
                             validation_fraction=0.25).fit(X, y)
    history = clf.history_
    assert len(history) < 30  # stopped early
    assert np.isfinite(history[-1, "valid_loss"])
    # the weights of the best epoch are restored
    best = int(np.argmin(history[:, "valid_loss"]))
    assert best < len(history) - 1
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    for key, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, stopper.best_model_weights_[key]), key
    no_split = ImageCNNClassifier(**CNN, validation_fraction=None).fit(X, y)
    assert len(no_split.history_) == 2 and "valid_loss" not in no_split.history_[-1]


def test_cnn_errors_before_training(X, y, cnn):
    bad = X.copy()
    bad["image"] = bad["image"].astype(object)
    bad.at[5, "image"] = "no/such/file.png"
    bad.at[9, "image"] = None
    before = cnn.predict_proba(X)
    with pytest.raises(InvalidRowsError, match="'image'") as err:
        cnn.fit(bad, y)
    assert set(err.value.rows) == {5, 9}
    np.testing.assert_array_equal(cnn.predict_proba(X), before)  # previous fit kept
    with pytest.raises(ValueError, match="y is required"):
        ImageCNNClassifier(**CNN).fit(X, None)
    with pytest.raises(ValueError, match="max_epochs"):
        ImageCNNClassifier(max_epochs=0).fit(X, y)


# ---- LateFusionClassifier ------------------------------------------------


def test_fusion_predicts_and_uses_both_modalities(X, y, fusion):
    proba = fusion.predict_proba(X)
    assert proba.shape == (len(X), 4)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    module = fusion.net_.module_
    assert isinstance(module.lstm, torch.nn.LSTM) and module.lstm.hidden_size == 8
    assert module.embedding.weight.requires_grad  # a trainable token embedding
    assert len(fusion.text_encoder_.vocabulary_) > 10
    # changing either the text or the image changes the prediction scores
    texts = X.assign(text="something else entirely")
    images = X.assign(image=[np.full((16, 16, 3), 255, np.uint8)] * len(X))
    assert not np.allclose(fusion.predict_proba(texts), proba)
    assert not np.allclose(fusion.predict_proba(images), proba)


def test_fusion_default_is_additive_and_fusion_size_adds_a_layer(X, y):
    plain = LateFusionClassifier(**FUSION).fit(X, y).net_.module_
    assert isinstance(plain.fusion, torch.nn.Identity)
    assert plain.out.in_features == 8 + 8  # LSTM + image dense, straight to the output
    deep = LateFusionClassifier(**FUSION, fusion_size=12).fit(X, y).net_.module_
    assert deep.out.in_features == 12


@pytest.mark.slow
def test_fusion_learns_a_label_from_text_and_image():
    X = make_shapes(120, image_size=16, label="color", random_state=0)
    test = make_shapes(100, image_size=16, label="color", random_state=1)
    clf = LateFusionClassifier(**{**FUSION, "max_epochs": 12, "hidden_size": 16}, lr=1e-2,
                               validation_fraction=None).fit(X, X["label"])
    assert clf.score(test, test["label"]) > 0.6  # chance is 0.2


def test_fusion_collects_problems_of_both_columns(X, y, fusion):
    bad = X.copy()
    bad["text"] = bad["text"].astype(object)
    bad["image"] = bad["image"].astype(object)
    bad.at[2, "text"] = 42
    bad.at[4, "image"] = b""
    with pytest.raises(InvalidRowsError) as err:
        LateFusionClassifier(**FUSION).fit(bad, y)
    report = err.value.report
    assert set(zip(report["row"], report["column"])) == {(2, "text"), (4, "image")}
    assert "'text'" in str(err.value) and "'image'" in str(err.value)


# ---- in scikit-learn's model selection ------------------------------------
# The shared contracts (clone, pickle, not fitted, missing columns, array input,
# repeatability, verbose=0 ...) are in tests/test_common.py.


@pytest.mark.parametrize("make", [lambda: TextSVMClassifier(),
                                  lambda: ImageCNNClassifier(**CNN),
                                  lambda: LateFusionClassifier(**FUSION)],
                         ids=["text_svm", "cnn", "fusion"])
def test_cross_val_score(X, y, make):
    labels = pd.Series(y, index=X.index)
    scores = cross_val_score(make(), X, labels, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
