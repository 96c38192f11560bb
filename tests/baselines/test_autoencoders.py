"""Autoencoder baselines: ConvAutoencoder, AutoencoderMF."""

import numpy as np
import pytest

from skmm.baselines import AutoencoderMF, ConvAutoencoder
from skmm.datasets import make_shapes

SMALL = dict(n_image_components=5, vector_size=8, random_state=0)
CONV = dict(image_size=16, n_components=4, conv_channels=4, max_epochs=2, batch_size=16,
            random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


# ---- conv autoencoder ---------------------------------------------------------------


def test_conv_autoencoder_codes_and_history(X):
    ae = ConvAutoencoder(**{**CONV, "max_epochs": 4})
    Z = ae.fit_transform(X)
    assert Z.shape == (48, 4) and Z.dtype == np.float32
    losses = ae.history_[:, "train_image"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    np.testing.assert_array_equal(ConvAutoencoder(**{**CONV, "max_epochs": 4}).fit_transform(X),
                                  Z)
    assert ae.score(X) < 0
    assert list(ae.get_feature_names_out())[0] == "convautoencoder0"


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


def test_old_import_path_still_resolves():
    """Models pickled when these classes lived in factorization.py still find them."""
    from skmm.baselines import factorization

    assert factorization.ConvAutoencoder is ConvAutoencoder
    assert factorization.AutoencoderMF is AutoencoderMF
