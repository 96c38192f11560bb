"""Factorization baselines: ImageFeatures, collective_als, CollectiveMF, EarlyFusion."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from skmm.baselines import AutoencoderMF, CollectiveMF, ConvAutoencoder, EarlyFusion
from skmm.baselines.factorization import collective_als
from skmm.baselines.features import ImageFeatures
from skmm.datasets import make_shapes
from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.inputs import TextFeatures

SMALL = dict(n_image_components=5, vector_size=8, random_state=0)
CONV = dict(image_size=16, n_components=4, conv_channels=4, max_epochs=2, batch_size=16,
            random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


# ---- collective MF ----------------------------------------------------------------


def test_collective_als_recovers_a_shared_low_rank_structure():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(200, 3))
    A = U @ rng.normal(size=(3, 40)) + 0.01 * rng.normal(size=(200, 40))
    B = U @ rng.normal(size=(3, 7)) + 0.01 * rng.normal(size=(200, 7))
    U_hat, (Va, Vb), objective, n_iter = collective_als([A, B], 3, alpha=1e-4, random_state=0)
    for M, V in [(A, Va), (B, Vb)]:
        rel = np.linalg.norm(M - U_hat @ V.T) / np.linalg.norm(M)
        assert rel < 0.02, rel
    assert n_iter >= 1 and np.isfinite(objective)
    # the shared factors span the true ones
    coef, *_ = np.linalg.lstsq(U_hat, U, rcond=None)
    assert np.linalg.norm(U_hat @ coef - U) / np.linalg.norm(U) < 0.02
    # one matrix alone cannot give the rank-3 factors of both when it is rank 1
    U1, _, _, _ = collective_als([A[:, :1], B[:, :1]], 3, alpha=1e-4)
    assert U1.shape == (200, 3)


def test_collective_mf_fit_transform_and_inductive_transform(X):
    cmf = CollectiveMF(n_components=3, **SMALL)
    Z = cmf.fit_transform(X)
    assert Z.shape == (48, 3) and Z.dtype == np.float32
    assert cmf.loadings_["image"].shape == (5, 3) and cmf.loadings_["text"].shape == (8, 3)
    # the training factors are the fixed point of the ridge solve of transform
    np.testing.assert_allclose(cmf.transform(X), Z, rtol=1e-3, atol=1e-4)
    assert cmf.transform(X.iloc[[3]]).shape == (1, 3)
    assert list(cmf.get_feature_names_out()) == ["collectivemf0", "collectivemf1",
                                                 "collectivemf2"]
    assert cmf.n_features_in_ == X.shape[1]


def test_collective_mf_is_repeatable_clonable_picklable(X):
    a = CollectiveMF(n_components=3, **SMALL).fit(X)
    b = CollectiveMF(n_components=3, **SMALL).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert clone(a).get_params() == a.get_params()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).transform(X), a.transform(X))


@pytest.mark.parametrize("image_features", ["pixels", "pca", "vectors"])
def test_collective_mf_image_feature_choices(X, image_features):
    Xv = X.copy()
    if image_features == "vectors":
        Xv["image"] = [np.asarray(im, dtype=float).mean(axis=(0, 1)) for im in X["image"]]
    cmf = CollectiveMF(n_components=2, image_features=image_features, image_size=8,
                       text_features="tfidf", random_state=0).fit(Xv)
    width = {"pixels": 3 * 8 * 8, "pca": 50 if 48 > 50 else 48, "vectors": 3}[image_features]
    assert cmf.loadings_["image"].shape == (width, 2)


def test_collective_mf_with_a_conv_autoencoder_as_image_extractor(X):
    cmf = CollectiveMF(n_components=2, image_features=ConvAutoencoder(**CONV),
                       vector_size=8, random_state=0).fit(X)
    assert isinstance(cmf.image_features_.extractor_, ConvAutoencoder)
    assert cmf.loadings_["image"].shape == (4, 2)


def test_set_output_pandas(X):
    out = CollectiveMF(n_components=2, **SMALL).set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["collectivemf0",
                                                                   "collectivemf1"]


# ---- image features ---------------------------------------------------------------


def test_vector_image_features_check_lengths_and_values(X):
    Xv = X.iloc[:10].copy()
    Xv["image"] = [np.ones(4) * i for i in range(10)]
    feats = ImageFeatures(image_features="vectors").fit(Xv)
    assert feats.transform(Xv).shape == (10, 4)
    bad = Xv.astype({"image": object})
    bad.at[2, "image"] = np.ones(3)
    with pytest.raises(InvalidRowsError, match=r"'image', rows \[2\]: vector of length 3"):
        feats.transform(bad)
    bad.at[5, "image"] = "a cat"
    with pytest.raises(InvalidRowsError, match=r"\[5\]: not a 1-D vector"):
        ImageFeatures(image_features="vectors").fit(bad)


def test_bad_rows_of_both_columns_are_named(X):
    bad = X.iloc[:12].astype({"image": object, "text": object})
    bad.at[1, "image"] = "/no/such/image.png"
    bad.at[4, "text"] = ""
    for est in [CollectiveMF(n_components=2, **SMALL), EarlyFusion(**SMALL),
                AutoencoderMF(image_features="pca", **SMALL, max_epochs=1)]:
        with pytest.raises(InvalidRowsError) as info:
            est.fit(bad)
        assert set(info.value.report["row"]) == {1, 4}, type(est).__name__
        assert "'image'" in str(info.value) and "'text'" in str(info.value)


def test_missing_column_and_not_fitted(X):
    with pytest.raises(MissingColumnError, match="'caption'"):
        EarlyFusion(text_col="caption", **SMALL).fit(X)
    with pytest.raises(NotFittedError):
        CollectiveMF().transform(X)
    fitted = EarlyFusion(**SMALL).fit(X)
    with pytest.raises(MissingColumnError, match="used in fit"):
        fitted.transform(X.drop(columns="image"))


# ---- early fusion -------------------------------------------------------------------


def test_early_fusion_concatenates_the_two_blocks(X):
    ef = EarlyFusion(**SMALL)
    Z = ef.fit_transform(X)
    assert Z.shape == (48, 13)
    names = ef.get_feature_names_out()
    assert list(names[:2]) == ["image0", "image1"] and names[-1] == "text7"
    text = TextFeatures(vector_size=8, random_state=ef.text_features_.random_state).fit(X)
    np.testing.assert_allclose(Z[:, 5:], text.transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(ef.transform(X), Z, rtol=1e-4, atol=1e-4)


def test_early_fusion_in_a_classifier_pipeline(X):
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(EarlyFusion(**SMALL), LogisticRegression(max_iter=1000))
    pipe.fit(X, X["label"])
    assert pipe.score(X, X["label"]) > 0.5


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
