"""TowerCCA: the paired-retrieval baseline on the frozen towers' features."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from skmm.baselines import TowerCCA
from skmm.datasets import load_emoji
from skmm.metrics import recall_at_k


@pytest.fixture(scope="module")
def data():
    return load_emoji(image_size=32).sample(400, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    train, test = train_test_split(data, test_size=100, random_state=0)
    return TowerCCA(n_components=16, pca_components=32).fit(train), test


def test_held_out_names_are_found_above_chance(fitted):
    cca, test = fitted
    image, text = cca.embed(test, "image"), cca.embed(test, "text")
    assert image.shape == text.shape == (100, 16)
    assert image.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(image, axis=1), 1, rtol=1e-5)
    chance = 10 / len(test)
    assert recall_at_k(image, text, k=10) > 3 * chance
    assert recall_at_k(text, image, k=10) > 3 * chance


def test_transform_retrieve_score_and_pickle(fitted):
    cca, test = fitted
    Z = cca.transform(test)
    assert Z.shape == (100, 16)
    idx, sim = cca.retrieve(test.head(3), "image", test, "text", k=5)
    assert idx.shape == sim.shape == (3, 5)
    assert 0 < cca.score(test) <= 1
    assert list(cca.get_feature_names_out()) == [f"towercca{i}" for i in range(16)]
    again = pickle.loads(pickle.dumps(cca))
    np.testing.assert_array_equal(again.transform(test), Z)


def test_errors_are_clear(data):
    with pytest.raises(ValueError, match="more rows"):
        TowerCCA(pca_components=128).fit(data.head(50))
    with pytest.raises(ValueError, match="exceeds pca_components"):
        TowerCCA(n_components=40, pca_components=32).fit(data)
    with pytest.raises(ValueError, match="missing"):
        TowerCCA(text_col="caption").fit(data)
    cca = TowerCCA(n_components=4, pca_components=8).fit(data)
    with pytest.raises(ValueError, match="unknown modality"):
        cca.embed(data, "sound")
