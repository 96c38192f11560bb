"""Factorization baselines: collective_als, CollectiveMF, EarlyFusion, AutoencoderMF."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from skmm.baselines import AutoencoderMF, CollectiveMF, ConvAutoencoder, EarlyFusion
from skmm.baselines.factorization import collective_als
from skmm.datasets import make_shapes
from skmm.exceptions import InvalidRowsError
from skmm.inputs import TextFeatures

SMALL = dict(n_image_components=5, vector_size=8, random_state=0)
CONV = dict(image_size=16, n_components=4, conv_channels=4, max_epochs=2, batch_size=16,
            random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


# The shared contracts (clone, pickle, set_output, feature names, not fitted, missing
# columns, repeatability ...) are in tests/test_common.py.


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


@pytest.mark.parametrize("image_features", ["pixels", "pca", "vector"])
def test_collective_mf_image_feature_choices(X, image_features):
    Xv = X.copy()
    if image_features == "vector":
        Xv["image"] = [np.asarray(im, dtype=float).mean(axis=(0, 1)) for im in X["image"]]
    cmf = CollectiveMF(n_components=2, image_features=image_features, image_size=8,
                       text_features="tfidf", random_state=0).fit(Xv)
    width = {"pixels": 3 * 8 * 8, "pca": 50 if 48 > 50 else 48, "vector": 3}[image_features]
    assert cmf.loadings_["image"].shape == (width, 2)


def test_collective_mf_with_a_conv_autoencoder_as_image_extractor(X):
    cmf = CollectiveMF(n_components=2, image_features=ConvAutoencoder(**CONV),
                       vector_size=8, random_state=0).fit(X)
    assert isinstance(cmf.image_features_.extractor_, ConvAutoencoder)
    assert cmf.loadings_["image"].shape == (4, 2)


# ---- errors ---------------------------------------------------------------------------


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


# ---- autoencoder MF -----------------------------------------------------------------


def test_autoencoder_mf_terms_column_autoencoder_size_and_transform(X):
    amf = AutoencoderMF(image_features="pca", n_components=3, max_epochs=2, **SMALL)
    Z = amf.fit_transform(X.iloc[:40])
    assert Z.shape == (40, 3)
    last = amf.history_[-1]
    assert last["train_loss"] == pytest.approx(
        last["train_rows"] + last["train_columns"] + last["train_factorization"], rel=1e-5)
    fact = amf.net_.module_.factorization
    assert amf.n_train_ == 40 and fact.autoencoder.encoder[0].in_features == 40
    assert amf.components_.shape == (13, 3)
    assert amf.transform(X.iloc[40:]).shape == (8, 3)  # unseen rows
    amf.fit(X)
    assert amf.net_.module_.factorization.autoencoder.encoder[0].in_features == 48
    assert np.isfinite(amf.score(X))


def test_conv_ae_mf_uses_conv_autoencoder_codes(X):
    amf = AutoencoderMF(image_features=ConvAutoencoder(**CONV), n_components=3, max_epochs=1,
                        vector_size=8, random_state=0, validation_fraction=0.25)
    Z = amf.fit_transform(X)
    assert Z.shape == (48, 3) and amf.n_train_ == 36
    assert amf.components_.shape == (4 + 8, 3)
    again = AutoencoderMF(image_features=ConvAutoencoder(**CONV), n_components=3, max_epochs=1,
                          vector_size=8, random_state=0, validation_fraction=0.25).fit(X)
    np.testing.assert_array_equal(again.transform(X), amf.transform(X))


@pytest.mark.parametrize("cls", [EarlyFusion, CollectiveMF])
def test_word_vector_dims_truncates_wordllama(cls):
    X = make_shapes(30, image_size=16, random_state=0)
    est = cls(word_vectors="wordllama", word_vector_dims=64, n_image_components=5,
              random_state=0).fit(X)
    assert est.text_features_.n_features_out_ == 64
