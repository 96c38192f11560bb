"""Factorization baselines: collective_als, CollectiveMF, EarlyFusion, AutoencoderMF."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from skmm.baselines import AutoencoderMF, CollectiveMF, ConvAutoencoder, EarlyFusion
from skmm.baselines.factorization import collective_als
from skmm.datasets import make_shapes
from skmm.encoders import RecurrentTextEncoder, TextMatrix, TextTower
from skmm.exceptions import InvalidRowsError
from skmm.inputs import TextFeatures

WORDS = TextMatrix("word2vec", vector_size=8)  # the default matrix, at 8 dimensions
SMALL = dict(n_image_components=5, text_encoder=WORDS, random_state=0)
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
    size = {} if image_features == "vector" else {"image_size": 8}  # vectors have no size
    cmf = CollectiveMF(n_components=2, image_features=image_features, **size,
                       text_encoder="tfidf", random_state=0).fit(Xv)
    width = {"pixels": 3 * 8 * 8, "pca": 50 if 48 > 50 else 48, "vector": 3}[image_features]
    assert cmf.loadings_["image"].shape == (width, 2)


def test_collective_mf_with_a_conv_autoencoder_as_image_extractor(X):
    cmf = CollectiveMF(n_components=2, image_features=ConvAutoencoder(**CONV),
                       text_encoder=WORDS, random_state=0).fit(X)
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
                        text_encoder=WORDS, random_state=0, validation_fraction=0.25)
    Z = amf.fit_transform(X)
    assert Z.shape == (48, 3) and amf.n_train_ == 36
    assert amf.components_.shape == (4 + 8, 3)
    again = AutoencoderMF(image_features=ConvAutoencoder(**CONV), n_components=3, max_epochs=1,
                          text_encoder=WORDS, random_state=0, validation_fraction=0.25).fit(X)
    np.testing.assert_array_equal(again.transform(X), amf.transform(X))


@pytest.mark.parametrize("cls", [EarlyFusion, CollectiveMF])
def test_word_vector_dims_truncates_wordllama(cls):
    X = make_shapes(30, image_size=16, random_state=0)
    est = cls(text_encoder=TextMatrix("word2vec", word_vectors="wordllama", word_vector_dims=64),
              n_image_components=5, random_state=0).fit(X)
    assert est.text_features_.n_features_out_ == 64


# ---- the text encoder -------------------------------------------------------------


@pytest.mark.parametrize("cls", [EarlyFusion, CollectiveMF, AutoencoderMF])
def test_the_default_text_matrix_is_the_mean_of_word2vec_vectors(cls):
    est = cls()
    assert est.get_params()["text_encoder"] is None
    for gone in ("text_features", "tokenizer", "vector_size", "word_vectors",
                 "word_vector_dims", "max_text_features"):
        assert gone not in est.get_params()
    X = make_shapes(24, image_size=16, random_state=0)
    kwargs = {"max_epochs": 1} if cls is AutoencoderMF else {}
    fitted = cls(n_image_components=5, random_state=0, **kwargs).fit(X)
    assert fitted.text_encoder_.features_ == "word2vec"
    assert fitted.text_features_.n_features_out_ == 50  # Word2Vec's default size


def test_text_matrix_settings_are_nested_parameters_and_act(X):
    ef = EarlyFusion(**SMALL)
    assert ef.get_params()["text_encoder__vector_size"] == 8
    assert ef.fit_transform(X).shape == (48, 5 + 8)
    assert ef.set_params(text_encoder__vector_size=6).fit_transform(X).shape == (48, 5 + 6)
    tfidf = EarlyFusion(**{**SMALL, "text_encoder": TextMatrix("tfidf", max_features=7)})
    assert tfidf.fit_transform(X).shape == (48, 5 + 7)
    both = EarlyFusion(**{**SMALL, "text_encoder": TextMatrix("tfidf+word2vec", vector_size=4,
                                                              max_features=7)})
    assert both.fit_transform(X).shape == (48, 5 + 11)
    split = EarlyFusion(**{**SMALL, "text_encoder": TextMatrix("tfidf", tokenizer=str.split)})
    assert set(split.fit(X).text_features_.tfidf_.vocabulary_) != set(
        EarlyFusion(**{**SMALL, "text_encoder": "tfidf"}).fit(X).text_features_.tfidf_.vocabulary_)


def test_grid_search_over_a_nested_text_setting(X):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    pipe = make_pipeline(CollectiveMF(n_components=3, **SMALL), LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"collectivemf__text_encoder__vector_size": [4, 8]},
                          cv=2).fit(X, X["label"])
    best = search.best_params_["collectivemf__text_encoder__vector_size"]
    assert search.best_estimator_[0].loadings_["text"].shape == (best, 3)


def test_precomputed_text_vectors_are_passthrough(X):
    rng = np.random.RandomState(0)
    Xv = X.assign(text=list(rng.normal(size=(len(X), 6))))
    cmf = CollectiveMF(n_components=2, n_image_components=5, text_encoder="passthrough",
                       random_state=0).fit(Xv)
    assert cmf.loadings_["text"].shape == (6, 2) and cmf.text_encoder_ == "passthrough"


@pytest.mark.parametrize("encoder, message", [
    (TextTower(), "TextTower.*not taken by EarlyFusion"),
    (RecurrentTextEncoder(), "RecurrentTextEncoder.*not taken by EarlyFusion"),
    ("vector", "'vector' is no text encoder"),
    (TextMatrix("tfidf", vector_size=8), "reads no word vectors"),
    (TextMatrix("word2vec", max_features=5), "max_features"),
])
def test_a_text_encoder_the_baselines_cannot_use_is_refused(X, encoder, message):
    with pytest.raises(ValueError, match=message):
        EarlyFusion(**{**SMALL, "text_encoder": encoder}).fit(X)
