"""The baseline classifiers over frozen pretrained towers: ``text_encoder=TextTower()``
or ``"use"`` (TextSVMClassifier, LateFusionClassifier) and ``image_encoder=ImageTower()``
or ``"efficientnet_lite0"`` (ImageCNNClassifier, LateFusionClassifier); None, the
default, is each classifier's own network, whose settings a tower would not read."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmm.baselines import ImageCNNClassifier, LateFusionClassifier, TextSVMClassifier
from skmm.baselines.neural import LSTM_SETTINGS
from skmm.datasets import make_shapes
from skmm.encoders import ImageTower, RecurrentTextEncoder, TextTower
from skmm.exceptions import InvalidRowsError
from skmm.nn.tower_heads import BranchFusion, CNNBranch, FeatureClassifier, FeatureScaling
from skmm.towers import feature_cache

EFFNET = "efficientnet_lite0"
HEAD = dict(hidden_size=16, max_epochs=2, batch_size=16, n_threads=1, random_state=0)
LSTM = RecurrentTextEncoder(**{**LSTM_SETTINGS, "hidden_size": 8, "vector_size": 8})
#: The own CNN branch's settings, without the encoders.
CNN_BRANCH = dict(image_size=16, channels=(4, 8), dense_size=8)
TRAIN = dict(max_epochs=2, batch_size=16, n_threads=1, random_state=0)
FUSION = dict(**CNN_BRANCH, text_encoder=LSTM, **TRAIN)


@pytest.fixture(scope="module")
def pair():
    """Shape (the picture tells it) x mood (the caption tells it): 16 classes."""
    return (make_shapes(160, image_size=16, label="pair", random_state=0),
            make_shapes(100, image_size=16, label="pair", random_state=1))


@pytest.fixture(scope="module")
def X(pair):
    return pair[0].iloc[:48]


@pytest.fixture(scope="module")
def y(X):
    return X["mood"].to_numpy()


def _round_trip(clf, X):
    """The classifier pickles, holds no tower weights, and predicts the same after."""
    blob = pickle.dumps(clf)
    assert len(blob) < 4_000_000  # the trained layers only (the tower weighs ~18 MB)
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    return again


def test_defaults_are_the_own_networks():
    assert TextSVMClassifier().text_encoder is None
    assert ImageCNNClassifier().image_encoder is None
    clf = LateFusionClassifier()
    assert (clf.image_encoder, clf.text_encoder) == (None, None)


def test_text_svm_on_sentence_vectors(pair):
    X, test = pair
    clf = TextSVMClassifier(text_encoder="use", random_state=0).fit(X, X["mood"])
    # the mood is written in the caption: measured 1.0 (chance 0.25)
    assert clf.score(test, test["mood"]) > 0.9
    assert isinstance(clf.text_encoder_, TextTower) and clf.text_encoder_.column_ == "text"
    assert list(clf.pipeline_.named_steps) == ["standardscaler", "linearsvc"]
    assert clf.pipeline_.named_steps["standardscaler"].n_features_in_ == 512
    assert clf.decision_function(test).shape == (len(test), 4)
    _round_trip(clf, test)
    # seeded: a clone refits to the same model
    again = clone(clf).fit(X, X["mood"])
    np.testing.assert_array_equal(again.decision_function(test), clf.decision_function(test))


def test_image_head_on_tower_features(pair):
    X, test = pair
    clf = ImageCNNClassifier(image_encoder=EFFNET, hidden_size=64, max_epochs=30, n_threads=1,
                             random_state=0).fit(X, X["shape"])
    assert isinstance(clf.net_.module_, FeatureClassifier)
    assert clf.net_.module_.head[0].in_features == 2768
    assert clf.image_size_ == (128, 128)  # the tower's own size, not image_size
    assert isinstance(clf.image_encoder_, ImageTower)
    assert clf.image_encoder_.device_ == "cpu"  # the classifier's device
    # the picture tells the shape: measured 1.0 (chance 0.25)
    assert clf.score(test, test["shape"]) > 0.8
    proba = _round_trip(clf, test).predict_proba(test)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    # the features are standardised with the training rows' statistics
    scaling = clf.net_.module_.scaling
    assert scaling.mean.shape == (2768,) and (scaling.std > 0).all()


def test_late_fusion_of_two_towers_learns_the_pair_label(pair):
    """Each modality alone tops out at 0.25; the two towers together far above it."""
    X, test = pair
    clf = LateFusionClassifier(image_encoder=EFFNET, text_encoder="use", n_threads=1,
                               random_state=0).fit(X, X["label"])
    module = clf.net_.module_
    assert isinstance(module, BranchFusion)
    assert isinstance(module.image, FeatureScaling) and isinstance(module.text, FeatureScaling)
    assert module.out.in_features == 2768 + 512  # the classic late fusion: additive scores
    assert clf.tokenizer_ is None
    assert isinstance(clf.text_encoder_, TextTower) and clf.text_encoder_.column_ == "text"
    assert clf.score(test, test["label"]) > 0.6  # measured 0.93
    assert len(clf.history_) < clf.max_epochs  # early stopping, as the trained branches
    _round_trip(clf, test)


@pytest.mark.parametrize("image_encoder, text_encoder", [(None, "use"), (EFFNET, LSTM)])
def test_late_fusion_mixes_a_tower_and_a_trained_branch(X, y, image_encoder, text_encoder):
    own = CNN_BRANCH if image_encoder is None else {}
    clf = LateFusionClassifier(image_encoder=image_encoder, text_encoder=text_encoder,
                               fusion_size=6, **own, **TRAIN).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module, BranchFusion) and module.out.in_features == 6
    if image_encoder is None:
        assert any(isinstance(m, torch.nn.Conv2d) for m in module.image.modules())
        assert module.text.mean.shape == (512,)
        assert clf.image_size_ == (16, 16)
    else:
        assert isinstance(module.text.encoder.rnn, torch.nn.LSTM)
        assert module.text.embedding.weight.requires_grad
        assert len(clf.tokenizer_.vocabulary_) > 10
        # texts with words fit never saw still predict (their vectors, or <unk>)
        assert clf.predict(X.assign(text="a completely unseen caption")).shape == (len(X),)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4)
    # either modality changes the scores
    texts = X.assign(text="something else entirely")
    images = X.assign(image=[np.full((16, 16, 3), 255, np.uint8)] * len(X))
    assert not np.allclose(clf.predict_proba(texts), proba)
    assert not np.allclose(clf.predict_proba(images), proba)
    _round_trip(clf, X)


def test_default_late_fusion_is_the_cnn_and_the_lstm(X, y):
    clf = LateFusionClassifier(**FUSION).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module.image, CNNBranch)
    assert isinstance(module.text.encoder.rnn, torch.nn.LSTM)
    assert clf.image_encoder_ is None


@pytest.mark.parametrize("make", [
    lambda: TextSVMClassifier(text_encoder="use"),
    lambda: ImageCNNClassifier(image_encoder=EFFNET, **HEAD),
    lambda: LateFusionClassifier(image_encoder=EFFNET, text_encoder="use", **TRAIN),
], ids=["text_svm", "image", "fusion"])
def test_a_second_fit_never_reruns_the_tower(X, y, make, monkeypatch):
    first = make().fit(X, y)
    misses = feature_cache.info()["misses"]
    import skmm.towers.features as features

    def fail(*args, **kwargs):
        raise AssertionError("the tower ran again")

    monkeypatch.setattr(features, "_run_images", fail)
    monkeypatch.setattr(features, "_run_texts", fail)
    second = clone(first).fit(X.iloc[::-1], y[::-1])  # other order, same cells
    second.predict(X.iloc[:10])
    assert feature_cache.info()["misses"] == misses
    # seeded: the same rows in the same order give the same model
    np.testing.assert_array_equal(clone(first).fit(X, y).predict(X), first.predict(X))


def test_unusable_cells_are_named_before_any_training(X, y):
    bad = X.copy()
    bad["text"] = bad["text"].astype(object)
    bad["image"] = bad["image"].astype(object)
    bad.at[bad.index[2], "text"] = "   "
    bad.at[bad.index[4], "image"] = "no/such/file.png"
    with pytest.raises(InvalidRowsError) as err:
        LateFusionClassifier(image_encoder=EFFNET, text_encoder="use", **TRAIN).fit(bad, y)
    report = err.value.report
    assert set(zip(report["row"], report["column"])) == {(bad.index[2], "text"),
                                                         (bad.index[4], "image")}
    with pytest.raises(InvalidRowsError, match="'image'") as err:
        ImageCNNClassifier(image_encoder=EFFNET, **HEAD).fit(bad, y)
    assert list(err.value.rows) == [bad.index[4]]
    with pytest.raises(InvalidRowsError, match="'text'") as err:
        TextSVMClassifier(text_encoder="use").fit(bad, y)
    assert list(err.value.rows) == [bad.index[2]]
    with pytest.raises(ValueError, match="48 rows but y has 47"):
        TextSVMClassifier(text_encoder="use").fit(X, y[:-1])


@pytest.mark.parametrize("make, match", [
    (lambda: TextSVMClassifier(text_encoder="word2vec"), "no text encoder"),
    # the shortcuts of skmm.encoders mean the same everywhere: "tfidf" is MMEDA's
    # TextMatrix, "cnn" the papers' ConvEncoder, which these classifiers do not take
    (lambda: TextSVMClassifier(text_encoder="tfidf"), "TextMatrix"),
    (lambda: ImageCNNClassifier(image_encoder="cnn"), "ConvEncoder"),
    (lambda: ImageCNNClassifier(image_encoder="resnet"), "no image encoder"),
    (lambda: LateFusionClassifier(image_encoder="cnn"), "ConvEncoder"),
    (lambda: LateFusionClassifier(text_encoder="lstm"), "no text encoder"),
    (lambda: LateFusionClassifier(text_encoder="mean"), "MeanWordEncoder"),
    (lambda: LateFusionClassifier(text_encoder="passthrough"), "passthrough"),
    (lambda: LateFusionClassifier(image_encoder="use"), "no image encoder"),
    (lambda: LateFusionClassifier(image_encoder=TextTower()), "encodes texts"),
])
def test_encoders_not_taken_are_refused_saying_what_none_is(X, y, make, match):
    with pytest.raises(ValueError, match=match) as err:
        make().fit(X, y)
    assert "or None (the default)" in str(err.value)


@pytest.mark.parametrize("make, names", [
    (lambda: ImageCNNClassifier(image_encoder=EFFNET, image_size=32, **HEAD), "image_size"),
    (lambda: ImageCNNClassifier(image_encoder=ImageTower(), channels=(4, 8), **HEAD),
     "channels"),
    (lambda: LateFusionClassifier(image_encoder=EFFNET, text_encoder="use", **CNN_BRANCH,
                                  **TRAIN), "image_size, channels, dense_size"),
    (lambda: LateFusionClassifier(image_encoder=EFFNET, dense_size=8, **TRAIN), "dense_size"),
    (lambda: TextSVMClassifier(text_encoder="use", ngram_range=(1, 1)), "ngram_range"),
    (lambda: TextSVMClassifier(text_encoder=TextTower(), stop_words=None, min_df=2,
                               sublinear_tf=False), "stop_words, min_df, sublinear_tf"),
], ids=["cnn-image_size", "cnn-channels", "fusion-all", "fusion-dense_size", "svm-ngram",
        "svm-three"])
def test_own_network_settings_with_a_tower_are_refused(X, y, make, names, monkeypatch):
    """A setting of the classifier's own network, which a tower replaces, is not ignored:
    fit raises before running the tower, naming the settings and the tower."""
    import skmm.towers.features as features

    def fail(*args, **kwargs):
        raise AssertionError("the tower ran")

    monkeypatch.setattr(features, "_run_images", fail)
    monkeypatch.setattr(features, "_run_texts", fail)
    with pytest.raises(ValueError, match=f": {names} set") as err:
        make().fit(X.assign(text=X["text"] + " (new)"), y)  # cells the cache has not seen
    assert "replaces" in str(err.value) and "Tower(...)" in str(err.value)


def test_own_network_settings_equal_to_the_defaults_are_taken(X, y):
    clf = ImageCNNClassifier(image_encoder=EFFNET, channels=[32, 64], image_size=64, **HEAD)
    assert clf.fit(X, y).image_size_ == (128, 128)


def test_tower_settings_are_nested_parameters(X, y):
    clf = ImageCNNClassifier(image_encoder=ImageTower(image_size=64), **HEAD).fit(X, y)
    assert clf.image_size_ == (64, 64) and clf.image_encoder_.image_size_ == (64, 64)
    assert clf.get_params()["image_encoder__image_size"] == 64
    search = GridSearchCV(TextSVMClassifier(text_encoder=TextTower(), random_state=0),
                          {"text_encoder__max_words": [4, 128]}, cv=2).fit(X, y)
    assert search.best_params_["text_encoder__max_words"] in (4, 128)
    with pytest.raises(ValueError, match="reads another column"):
        TextSVMClassifier(text_encoder=TextTower("caption")).fit(X, y)
    with pytest.raises(ValueError, match="reads another column"):
        LateFusionClassifier(image_encoder=ImageTower("picture"), text_encoder="use",
                             **TRAIN).fit(X, y)
