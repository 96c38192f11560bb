"""ZeroShotClassifier: classes from their names, in a space learned from the pairs alone.

On make_shapes with ``label="color"`` the captions name the colour ("something
blue and small") and the pictures show it, so a space fitted on the pairs
alone finds a picture's colour among the names "blue", "green" ...; the
shape, which no caption names, it cannot find (chance).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skmm.baselines
from skmm import CommonSpaceEmbedder, ZeroShotClassifier
from skmm.datasets import make_shapes

#: one torch thread for the whole module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

COLORS = ["blue", "green", "orange", "purple", "red"]
SPACE = dict(n_components=16, hidden_size=32, max_epochs=15, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(120, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def space(X):
    """A space fitted on the pairs of X, without labels."""
    return CommonSpaceEmbedder(**SPACE).fit(X)


def classifier(space=None, **params):
    return ZeroShotClassifier(space if space is not None else CommonSpaceEmbedder(**SPACE),
                              classes=COLORS, **params)


def test_finds_the_colour_no_label_trained(X):
    """Held-out pictures classified by the nearest colour name, the space fitted on the
    other rows' pairs: far above chance (0.2), with no label read."""
    scores = cross_val_score(classifier(template="something {}"), X, X["label"],
                             cv=KFold(3, shuffle=True, random_state=0))
    assert scores.mean() > 0.7, scores


def test_y_is_only_checked_never_trained(X):
    with_y = classifier().fit(X, X["label"]).predict_proba(X)
    without = classifier().fit(X).predict_proba(X)
    np.testing.assert_array_equal(with_y, without)


def test_a_fitted_space_is_used_as_it_is(X, space):
    net = space.net_
    clf = classifier(space).fit(X.iloc[:10])  # 10 rows would not train a space
    assert clf.space_ is space and space.net_ is net
    assert clf.score(X, X["label"]) > 0.7
    # a clone (what cross_val_score makes) holds an unfitted clone of the space: refitted
    cloned = clone(clf).fit(X)
    assert cloned.space_ is not space


def test_a_frozen_space_survives_cross_validation(X, space):
    from sklearn.frozen import FrozenEstimator

    scores = cross_val_score(classifier(FrozenEstimator(space)), X, X["label"], cv=3)
    assert scores.mean() > 0.7
    assert classifier(FrozenEstimator(space)).fit(X).space_.estimator is space


def test_predict_proba_at_the_space_temperature(X, space):
    clf = classifier(space).fit(X)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 5)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    assert clf.temperature_ == space.temperature_ != 0.07  # learned
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert clf.label_embeddings_.shape == (5, 16)
    assert clf.label_embeddings_.dtype == np.float32


def test_classes_sorted_and_named_through_the_template(X, space):
    clf = ZeroShotClassifier(space, classes=["red", "blue"], template="a {} thing").fit(X)
    assert clf.classes_.tolist() == ["blue", "red"]
    assert clf.prompts_ == [["a blue thing"], ["a red thing"]]
    assert set(clf.predict(X)) <= {"blue", "red"}


def test_classes_as_a_mapping_predict_the_labels(X, space):
    named = ZeroShotClassifier(space, classes={c.upper(): c for c in COLORS}).fit(X)
    plain = classifier(space).fit(X)
    np.testing.assert_array_equal(named.predict(X), np.char.upper(plain.predict(X)))


def test_a_list_of_templates_averages_their_embeddings(X, space):
    one = classifier(space, template="something {}").fit(X)
    two = classifier(space, template=["something {}", "{}"]).fit(X)
    assert two.prompts_[0] == ["something blue", "blue"]
    assert not np.allclose(one.label_embeddings_, two.label_embeddings_)
    np.testing.assert_allclose(np.linalg.norm(two.label_embeddings_, axis=1), 1.0, rtol=1e-5)


def test_text_queries_against_the_names(X, space):
    """query='text': a caption classified by the nearest class name."""
    clf = classifier(space, query="text").fit(X)
    assert clf.feature_names_in_.tolist() == ["text"]
    assert clf.score(X, X["label"]) > 0.7


def test_pipeline_and_grid_search(X):
    pipe = make_pipeline(FunctionTransformer(), classifier())
    assert pipe.fit(X).score(X, X["label"]) > 0.7
    search = GridSearchCV(classifier(), {"template": ["{}", "something {}"]}, cv=2).fit(
        X, X["label"])
    assert search.best_params_["template"] in ("{}", "something {}")
    assert "space__n_components" in classifier().get_params(deep=True)


def test_another_space_with_embed(X):
    """Any estimator with fit(X) and embed(X, modality): CCA of the towers."""
    clf = classifier(skmm.baselines.TowerCCA(n_components=4, pca_components=8)).fit(X)
    assert clf.temperature_ == 0.07  # CCA learns none
    assert clf.predict(X).shape == (len(X),)


@pytest.mark.parametrize("params, message", [
    (dict(query="sound"), r"query='sound' is not a modality of the space; it has "
                          r"\['image', 'text'\]"),
    (dict(label_modality="words"), "label_modality='words' is not a modality"),
    (dict(label_modality="image"), "class names need a text modality"),
    (dict(classes=[]), "classes is empty"),
    (dict(classes=["red", "red"]), r"classes repeats \['red'\]"),
    (dict(classes={"r": ""}), "non-empty string"),
    (dict(template="a photo"), "with '{}' where the class name goes"),
    (dict(template=[]), "template is an empty list"),
])
def test_clear_errors(X, space, params, message):
    clf = ZeroShotClassifier(space, **{"classes": COLORS, **params})
    with pytest.raises(ValueError, match=message):
        clf.fit(X)


def test_y_with_a_class_not_among_the_classes_is_refused(X, space):
    clf = ZeroShotClassifier(space, classes=["red", "blue"])
    with pytest.raises(ValueError, match=r"not among the classes: \['green', 'orange', "
                                         r"'purple'\]"):
        clf.fit(X, X["label"])
    with pytest.raises(ValueError, match="one label per row"):
        clf.fit(X, X["label"][:5])


def test_missing_query_column_is_named(X, space):
    from skmm.exceptions import MissingColumnError

    clf = classifier(space).fit(X)
    with pytest.raises(MissingColumnError, match="'image'"):
        clf.predict(X.drop(columns="image"))
