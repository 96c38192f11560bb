"""ImageFeatures: the image block of the factorization baselines."""

import numpy as np
import pytest

from skmm.baselines.features import ImageFeatures
from skmm.datasets import make_shapes
from skmm.exceptions import InvalidRowsError


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


# The shared contracts (clone, pickle, set_output, feature names, not fitted, missing
# columns, repeatability ...) are in tests/test_common.py.


def test_vector_image_features_check_lengths_and_values(X):
    Xv = X.iloc[:10].copy()
    Xv["image"] = [np.ones(4) * i for i in range(10)]
    feats = ImageFeatures(image_features="vector").fit(Xv)
    assert feats.transform(Xv).shape == (10, 4)
    bad = Xv.astype({"image": object})
    bad.at[2, "image"] = np.ones(3)
    with pytest.raises(InvalidRowsError, match=r"'image', rows \[2\]: vector of length 3"):
        feats.transform(bad)
    bad.at[5, "image"] = "a cat"
    with pytest.raises(InvalidRowsError, match=r"\[5\]: not a 1-D vector"):
        ImageFeatures(image_features="vector").fit(bad)


def test_pixel_features_use_one_global_scale(X):
    images = [im.copy() for im in X["image"]]
    for im in images:
        im[0, 0] = 255
    images[0][0, 0] = 250  # an almost constant pixel: tiny variance
    train = X.assign(image=images)
    feats = ImageFeatures(image_features="pixels", image_size=16)
    Z = feats.fit_transform(train)
    assert Z.shape == (48, 3 * 16 * 16)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)
    assert Z.std() == pytest.approx(1.0, rel=1e-4)
    new = images[1].copy()
    new[0, 0] = 0  # per-column z-scores would put this pixel at about -350
    assert np.abs(feats.transform(train.iloc[:1].assign(image=[new]))).max() < 20
