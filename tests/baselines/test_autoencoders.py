"""Autoencoder baselines: ConvAutoencoder (AutoencoderMF: test_factorization.py)."""

import numpy as np
import pytest

from skmm.baselines import ConvAutoencoder
from skmm.datasets import make_shapes

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
    assert ae.score(X) < 0
