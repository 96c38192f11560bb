"""Baseline classifiers: TF-IDF + LinearSVC, image CNN, LSTM + CNN late fusion, and the
early fusion of TF-IDF and pixel PCA."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skmm.baselines import (
    ImageCNNClassifier,
    LateFusionClassifier,
    TextSVMClassifier,
    make_tfidf_pca_fusion,
)
from skmm.baselines.neural import LSTM_SETTINGS
from skmm.datasets import make_shapes
from skmm.encoders import RecurrentTextEncoder
from skmm.exceptions import InvalidRowsError
from skmm.inputs import ImageLoader

CNN = dict(image_size=16, channels=(4, 8), hidden_size=16, max_epochs=2, batch_size=16,
           random_state=0)


def lstm(**settings):
    """The late fusion's LSTM (text_encoder=None) with other settings."""
    return RecurrentTextEncoder(**{**LSTM_SETTINGS, **settings})


FUSION = dict(image_size=16, channels=(4, 8), dense_size=8,
              text_encoder=lstm(hidden_size=8, vector_size=8), max_epochs=2, batch_size=16,
              random_state=0)


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


# ---- make_tfidf_pca_fusion -----------------------------------------------


@pytest.fixture(scope="module")
def pair():
    """The fusion test: shape (picture only) x mood (caption only), 16 classes."""
    return (make_shapes(300, image_size=16, label="pair", random_state=0),
            make_shapes(200, image_size=16, label="pair", random_state=1))


def test_tfidf_pca_fusion_is_a_plain_sklearn_pipeline(X, y):
    clf = make_tfidf_pca_fusion(n_components=5, random_state=0)
    assert isinstance(clf, Pipeline) and list(clf.named_steps) == ["features", "svm"]
    features = clf.named_steps["features"]
    assert [name for name, *_ in features.transformers] == ["text", "image"]
    clf.fit(X, y)
    pred = clf.predict(X.drop(columns=["label", "shape"]))  # other columns are ignored
    assert pred.shape == (len(X),) and set(pred) <= set(clf.classes_)
    assert clf.decision_function(X).shape == (len(X), 4)
    # both blocks are unit-norm rows: neither dominates by its scale
    Z = clf.named_steps["features"].transform(X)
    Z = Z.toarray() if hasattr(Z, "toarray") else Z
    n_text = len(features.named_transformers_["text"].vocabulary_)
    np.testing.assert_allclose(np.linalg.norm(Z[:, :n_text], axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(Z[:, n_text:], axis=1), 1, rtol=1e-6)
    assert Z.shape[1] == n_text + 5
    # seeded: a clone refits to the same model
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))
    weighted = make_tfidf_pca_fusion(n_components=5, image_weight=2.0, mode="RGB",
                                     image_size=8, random_state=0).fit(X, y)
    Zw = weighted.named_steps["features"].transform(X)
    Zw = Zw.toarray() if hasattr(Zw, "toarray") else Zw
    np.testing.assert_allclose(np.linalg.norm(Zw[:, n_text:], axis=1), 2, rtol=1e-6)


def test_tfidf_pca_fusion_beats_each_modality_on_the_pair_label(pair):
    X, test = pair
    y, y_test = X["label"], test["label"]
    fusion = make_tfidf_pca_fusion(random_state=0).fit(X, y).score(test, y_test)
    text = TextSVMClassifier(random_state=0).fit(X, y).score(test, y_test)
    image = make_pipeline(ImageLoader(image_size=16), StandardScaler(), PCA(50, random_state=0),
                          LinearSVC(random_state=0)).fit(X, y).score(test, y_test)
    # each modality alone tops out at 0.25 (measured 0.55 / 0.26 / 0.18)
    assert text < 0.35 and image < 0.35
    assert fusion > 0.45 and fusion > max(text, image) + 0.15, (fusion, text, image)


def test_tfidf_pca_fusion_names_a_missing_column(X, y):
    with pytest.raises(ValueError, match="text"):
        make_tfidf_pca_fusion(n_components=5).fit(X.drop(columns=["text"]), y)


@pytest.mark.parametrize("setting", [{"sublinear_tf": False}, {"stop_words": None},
                                     {"ngram_range": (1, 1)}, {"min_df": 2}])
def test_text_svm_acts_on_each_tfidf_setting(setting):
    """Each TF-IDF setting changes the decision function (sublinear_tf on texts that
    repeat a word: the shapes' captions never do)."""
    X = make_shapes(60, label="mood", random_state=0)
    X = X.assign(text=X["text"] + " " + X["mood"] + " " + X["mood"])
    base = TextSVMClassifier(random_state=0).fit(X, X["label"]).decision_function(X)
    other = TextSVMClassifier(random_state=0, **setting).fit(X, X["label"])
    assert not np.allclose(other.decision_function(X), base)
    assert other.text_encoder_ is None


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
    # trained until it converges: early stopping within at most 100 epochs
    defaults = ImageCNNClassifier()
    assert (defaults.max_epochs, defaults.patience, defaults.validation_fraction) == (100, 10,
                                                                                      0.1)


def test_cnn_standardises_pixels_with_the_training_statistics(X, y, cnn):
    from skmm.inputs import load_images

    pixels = load_images(X["image"], column="image", mode="L", size=(16, 16)) / 255.0
    scaling = cnn.net_.module_.scaling
    assert float(scaling.mean) == pytest.approx(pixels.mean(), rel=1e-5)
    assert float(scaling.std) == pytest.approx(pixels.std(), rel=1e-5)
    assert "scaling.mean" in cnn.net_.module_.state_dict()  # travels with the weights


def _shape_accuracy(pred, frame):
    return float(np.mean([p.split("-")[0] == s for p, s in zip(pred, frame["shape"])]))


def test_cnn_reaches_the_shape_ceiling_of_the_pair_label():
    """The picture tells the shape, not the mood: the CNN must know the shape always."""
    X = make_shapes(400, image_size=16, label="pair", random_state=0)
    test = make_shapes(200, image_size=16, label="pair", random_state=1)
    clf = ImageCNNClassifier(image_size=16, channels=(8, 16), hidden_size=64, n_threads=1,
                             random_state=0).fit(X, X["label"])
    assert len(clf.history_) < clf.max_epochs  # stopped early, at its best epoch
    assert _shape_accuracy(clf.predict(test), test) > 0.9  # measured 0.985


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
    rnn = module.text.encoder.rnn
    assert isinstance(rnn, torch.nn.LSTM) and rnn.hidden_size == 8
    assert (rnn.num_layers, rnn.bidirectional) == (1, False)
    assert module.text.embedding.weight.requires_grad  # a trainable token embedding
    assert len(fusion.tokenizer_.vocabulary_) > 10
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


def test_fusion_text_branch_defaults_to_the_classic_lstm(X, y):
    clf = LateFusionClassifier(**{**FUSION, "text_encoder": None}).fit(X, y)
    assert clf.text_encoder is None
    assert clf.text_encoder_.get_params() == lstm().get_params()
    rnn = clf.net_.module_.text.encoder.rnn
    assert isinstance(rnn, torch.nn.LSTM) and rnn.hidden_size == 128
    assert (rnn.num_layers, rnn.bidirectional) == (1, False)
    assert clf.tokenizer_.max_length is None  # texts read whole
    assert clf.net_.module_.text.embedding.weight.requires_grad


def test_fusion_acts_on_every_setting_of_its_recurrent_encoder(X, y):
    encoder = lstm(cell="gru", hidden_size=6, num_layers=2, bidirectional=True,
                   mean_pooling=True, fine_tune=False, vector_size=8, max_length=3)
    clf = LateFusionClassifier(**{**FUSION, "text_encoder": encoder}).fit(X, y)
    text = clf.net_.module_.text
    rnn = text.encoder.rnn
    assert isinstance(rnn, torch.nn.GRU)
    assert (rnn.hidden_size, rnn.num_layers, rnn.bidirectional) == (6, 2, True)
    assert text.out_features == 2 * 6 + 8  # both directions, then the mean word vector
    assert not text.embedding.weight.requires_grad  # fine_tune=False: the table is frozen
    assert clf.tokenizer_.max_length == 3 and clf.tokenizer_.vector_size_ == 8
    assert clf.text_encoder_.mean_pooling_ is True
    assert clf.text_encoder_ is not clf.text_encoder  # the fitted one is a new object
    # the shortcut: the recurrent encoder at its defaults (a bidirectional 2-layer GRU)
    clf = LateFusionClassifier(**{**FUSION, "text_encoder": "recurrent"}).fit(X, y)
    rnn = clf.net_.module_.text.encoder.rnn
    assert isinstance(rnn, torch.nn.GRU) and (rnn.num_layers, rnn.bidirectional) == (2, True)


def test_fusion_tunes_its_text_encoder_in_a_grid_search(X, y):
    from sklearn.model_selection import GridSearchCV

    clf = LateFusionClassifier(**{**FUSION, "max_epochs": 1})
    assert clf.get_params()["text_encoder__hidden_size"] == 8
    search = GridSearchCV(clf, {"text_encoder__cell": ["lstm", "gru"]}, cv=2).fit(X, y)
    assert search.best_params_["text_encoder__cell"] in ("lstm", "gru")
    assert search.best_estimator_.text_encoder_.cell == search.best_params_["text_encoder__cell"]


@pytest.mark.parametrize("setting", [{"bow_weight": 0.0}, {"text_loss": "mse"},
                                     {"word_dropout": 0.1}, {"mean_vector_weight": 1.0}])
def test_fusion_refuses_the_decoder_settings(X, y, setting):
    """CRVAE's decoding settings of the encoder have no decoder here: named, refused."""
    name = next(iter(setting))
    with pytest.raises(ValueError, match=f"LateFusionClassifier does not act on .*{name}"):
        LateFusionClassifier(**{**FUSION, "text_encoder": lstm(**setting)}).fit(X, y)


def test_fusion_defaults_train_until_convergence():
    clf = LateFusionClassifier()
    assert (clf.max_epochs, clf.patience, clf.validation_fraction, clf.lr) == (100, 10, 0.1, 3e-3)


@pytest.mark.slow
def test_fusion_learns_the_pair_label_far_above_each_modality():
    """Shape from the picture, mood from the caption: each alone tops out at 0.25."""
    X = make_shapes(400, image_size=16, label="pair", random_state=0)
    test = make_shapes(200, image_size=16, label="pair", random_state=1)
    clf = LateFusionClassifier(image_size=16, n_threads=1, random_state=0).fit(X, X["label"])
    assert clf.score(test, test["label"]) > 0.8  # measured 0.995
    assert len(clf.history_) < clf.max_epochs


@pytest.mark.slow
def test_fusion_learns_a_label_from_text_and_image():
    X = make_shapes(120, image_size=16, label="color", random_state=0)
    test = make_shapes(100, image_size=16, label="color", random_state=1)
    clf = LateFusionClassifier(**{**FUSION, "max_epochs": 12,
                                  "text_encoder": lstm(hidden_size=16, vector_size=8)},
                               lr=1e-2, validation_fraction=None).fit(X, X["label"])
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
