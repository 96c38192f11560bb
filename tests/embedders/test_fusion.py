"""The unsupervised embedders keep both modalities, and say when their latent collapses.

The pair label of ``make_shapes`` (``shape-mood``, 16 classes) needs both
modalities: the picture shows the shape, only the caption names the mood, so
each modality alone tops out at 0.25. The benchmark figures (800 rows, the
defaults) are in ``benchmarks/fusion.py``; here small models on small data
must clearly pass the single-modality ceiling.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmm._params
from skmm import CRVAEEmbedder, MMEDAEmbedder
from skmm._params import auto_epochs
from skmm.datasets import make_shapes
from skmm.encoders import ConvEncoder, RecurrentTextEncoder
from skmm.nn.crvae import gaussian_kl
from skmm.training.latent import KLWarmup


@pytest.fixture(scope="module")
def pairs():
    return make_shapes(320, image_size=16, label="pair", random_state=0)


def pair_accuracy(Z, y):
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return cross_val_score(head, Z, y, cv=3).mean()


@pytest.mark.slow
@pytest.mark.parametrize("cls, kwargs", [  # the towers (the defaults)
    (CRVAEEmbedder, dict(n_components=16, fusion_size=64, random_state=0, n_threads=1,
                         max_epochs=150)),
    (MMEDAEmbedder, dict(n_components=16, random_state=0, n_threads=1, max_epochs=150)),
], ids=["crvae", "mmeda"])
def test_pair_label_is_above_the_single_modality_ceiling(pairs, cls, kwargs):
    Z = cls(**kwargs).fit_transform(pairs)
    # each modality alone gives at most 0.25: the embedding holds both (about
    # 0.36-0.39 with these small models on 16-pixel images; 0.61-0.72 at the
    # defaults on 800 rows of 32 pixels, benchmarks/fusion.py)
    assert pair_accuracy(Z, pairs["label"]) > 0.32


@pytest.mark.slow
def test_the_published_mmeda_keeps_only_the_text(pairs):
    # z trained only through the text factorization: the mood, not the shape
    Z = MMEDAEmbedder.paper(image_encoder=ConvEncoder(image_size=16, channels=8),
                            n_components=16, random_state=0, n_threads=1,
                            max_epochs=150).fit_transform(pairs)
    assert pair_accuracy(Z, pairs["label"]) < 0.3
    assert pair_accuracy(Z, pairs["mood"]) > 0.9


def tiny(**text) -> dict:
    """A tiny CRVAE on the CNN and the recurrent text encoder (``text``: its settings)."""
    return dict(image_encoder=ConvEncoder(image_size=16, channels=4),
                text_encoder=RecurrentTextEncoder(hidden_size=8, vector_size=8, **text),
                n_components=4, fusion_size=16, batch_size=16, random_state=0, n_threads=1)


def test_a_collapsed_latent_warns_with_the_remedy(pairs):
    X = pairs.iloc[:48]
    with pytest.warns(UserWarning, match=r"collapsed \(0 of 4 .*free_bits"):
        emb = CRVAEEmbedder(**tiny(), beta=1000.0, max_epochs=3).fit(X)
    assert emb.history_[-1, "active_units"] == 0
    assert np.ptp(emb.transform(X), axis=0).max() < 0.5


def test_no_warning_when_the_latent_is_used(pairs):
    X = pairs.iloc[:48]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        emb = CRVAEEmbedder(**tiny(), max_epochs=30).fit(X)
    assert emb.history_[-1, "active_units"] > 0


def test_max_epochs_auto_scales_with_the_rows(pairs, monkeypatch):
    assert auto_epochs(90, 64) == 500  # 2 batches an epoch: 1,000 steps
    assert auto_epochs(800, 64) == 77
    assert auto_epochs(100_000, 64) == 10  # at least 10 epochs
    assert auto_epochs(3, 64) == 1000  # at most 1,000
    monkeypatch.setattr(skmm._params, "AUTO_STEPS", 20)
    emb = CRVAEEmbedder(**tiny()).fit(pairs.iloc[:48])  # the default max_epochs="auto"
    assert len(emb.history_) == 10  # ceil(20 / 3 batches) = 7, at least 10
    emb = CRVAEEmbedder(**tiny(), validation_fraction=0.5, max_epochs=2).fit(pairs.iloc[:48])
    assert len(emb.history_) == 2


def test_free_bits_lift_the_penalty_of_small_dimensions():
    mu, logvar = torch.zeros(8, 3), torch.zeros(8, 3)
    mu[:, 0] = 2.0  # 2 nats in dimension 0, none elsewhere
    assert gaussian_kl(mu, logvar).item() == pytest.approx(2 / 3)
    assert gaussian_kl(mu, logvar, free_bits=0.5).item() == pytest.approx((2 + 0.5 + 0.5) / 3)
    assert gaussian_kl(mu, logvar, free_bits=3.0).item() == pytest.approx(3.0)


def test_kl_warmup_ramps_the_weight_then_restores_it(pairs):
    weights = []

    class Spy(KLWarmup):
        def on_epoch_begin(self, net, **kwargs):
            super().on_epoch_begin(net, **kwargs)
            weights.append(net.module_.kl_weight)

    emb = CRVAEEmbedder(**tiny(), max_epochs=5, kl_warmup=3)
    own = emb._callbacks
    emb._callbacks = lambda state: [*own(state), ("spy", Spy(3))]
    emb.fit(pairs.iloc[:48])
    assert weights == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert emb.net_.module_.kl_weight == 1.0


@pytest.mark.parametrize("text, options", [  # the text encoder's settings, the embedder's
    (dict(word_dropout=0.5), {}), ({}, dict(free_bits=0.1, kl_warmup=2)),
    (dict(text_loss="mse", bow_weight=0.0), dict(normalize_terms=False))])
def test_each_remedy_trains_and_transforms(pairs, text, options):
    X = pairs.iloc[:48]
    emb = CRVAEEmbedder(**tiny(**text), max_epochs=2, **options).fit(X)
    assert np.isfinite(emb.history_[-1, "train_loss"])
    assert emb.transform(X).shape == (48, 4)
    assert set(" ".join(emb.inverse_transform(emb.transform(X[:3]))["text"]).split()) <= set(
        emb.vocabulary_.itos[3:])
