"""Training that stops when it has learned: ``max_epochs="auto"`` and PlateauStopping.

``"auto"`` is a cap with a plateau rule (skmm/_params.py ``auto_stopping``);
an int is a fixed budget. The rule's constants are lowered here so that a
tiny fit reaches its plateau in a few epochs.
"""

import copy

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import skmm._params
from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
from skmm._params import auto_epochs, auto_stopping
from skmm.datasets import make_shapes
from skmm.training.callbacks import PlateauStopping
from tests import tiny

CRVAE = tiny.crvae(batch_size=16, lr=1e-2, n_threads=1)
del CRVAE["max_epochs"]


@pytest.fixture(scope="module")
def X():
    return make_shapes(32, image_size=16, label="color", random_state=0)


@pytest.fixture
def quick_plateau(monkeypatch):
    """A rule that a tiny fit meets within a few epochs, under a cap of 200 epochs."""
    monkeypatch.setattr(skmm._params, "AUTO_STEPS", 400)
    monkeypatch.setattr(skmm._params, "PLATEAU_THRESHOLD", 0.05)
    monkeypatch.setattr(skmm._params, "PLATEAU_PATIENCE", 3)
    monkeypatch.setattr(skmm._params, "PLATEAU_PATIENCE_STEPS", 0)
    monkeypatch.setattr(skmm._params, "PLATEAU_MIN_STEPS", 8)


class Snapshots(Callback):
    """The module's weights after every epoch."""

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, net, **kwargs):
        self.weights[len(net.history)] = copy.deepcopy(net.module_.state_dict())


def with_snapshots(emb):
    spy = Snapshots()
    own = emb._callbacks
    emb._callbacks = lambda state: [*own(state), ("snapshots", spy)]
    return spy


def assert_weights(module, weights):
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0, msg=name)


def stopper(emb) -> PlateauStopping:
    return dict(emb.net_.callbacks_)["stopping"]


def test_the_rule_scales_with_the_batches_of_an_epoch():
    for n in (24, 90, 533, 1276, 20_000):
        rule, cap = auto_stopping(n, 64), auto_epochs(n, 64)
        batches = -(-n // 64)
        assert rule["patience"] >= skmm._params.PLATEAU_PATIENCE
        assert rule["patience"] * batches >= skmm._params.PLATEAU_PATIENCE_STEPS
        assert rule["min_epochs"] <= cap
        assert rule["threshold_mode"] == "rel"


def test_auto_stops_on_a_plateau_before_the_cap_and_records_it(X, quick_plateau):
    emb = CRVAEEmbedder(**CRVAE).fit(X)  # max_epochs="auto"
    rule = auto_stopping(len(X), CRVAE["batch_size"])
    assert emb.max_epochs_ == auto_epochs(len(X), CRVAE["batch_size"]) == 200
    assert rule["min_epochs"] <= emb.n_epochs_ < emb.max_epochs_
    assert emb.stopped_early_
    assert len(emb.history_) == emb.n_epochs_
    # it stopped `patience` epochs after the best, none of which beat it by 5 %
    stop = stopper(emb)
    assert stop.monitor == "train_loss" and not stop.load_best
    assert stop.stopped_epoch_ == emb.n_epochs_ == stop.best_epoch_ + rule["patience"]
    losses = emb.history_[:, "train_loss"]
    best = losses[stop.best_epoch_ - 1]
    assert min(losses[stop.best_epoch_:]) > best * (1 - rule["threshold"])


def test_train_loss_keeps_the_last_weights(X, quick_plateau):
    emb = CRVAEEmbedder(**CRVAE)
    spy = with_snapshots(emb)
    emb.fit(X)
    assert stopper(emb).best_epoch_ < emb.n_epochs_
    assert_weights(emb.net_.module_, spy.weights[emb.n_epochs_])


def test_valid_loss_restores_the_best_epoch(X, quick_plateau, monkeypatch):
    monkeypatch.setattr(skmm._params, "PLATEAU_THRESHOLD", 0.0)  # stops 3 after the lowest
    params = tiny.mmeda(batch_size=8, lr=1e-2, validation_fraction=0.25, n_threads=1)
    del params["max_epochs"]
    emb = MMEDAEmbedder(**params)
    spy = with_snapshots(emb)
    emb.fit(X)
    stop = stopper(emb)
    assert stop.monitor == "valid_loss" and stop.load_best and emb.stopped_early_
    valid = emb.history_[:, "valid_loss"]
    assert stop.lowest_epoch_ == emb.n_epochs_ - 3
    assert valid[stop.lowest_epoch_ - 1] == min(valid)
    assert_weights(emb.net_.module_, spy.weights[stop.lowest_epoch_])


@pytest.mark.parametrize("cls, extra", [
    (CRVAEEmbedder, CRVAE),
    (CommonSpaceEmbedder, dict(n_components=8, hidden_size=16, batch_size=16, random_state=0,
                               n_threads=1)),
])
def test_an_int_is_a_fixed_budget(X, quick_plateau, cls, extra):
    emb = cls(**extra, max_epochs=7)
    emb.fit(X, X["label"]) if cls is CommonSpaceEmbedder else emb.fit(X)
    assert emb.n_epochs_ == emb.max_epochs_ == 7
    assert not emb.stopped_early_
    assert "stopping" not in dict(emb.net_.callbacks_)


def test_the_common_space_stops_in_partial_fit_stages_too(X, quick_plateau):
    params = tiny.common_space(batch_size=16, n_threads=1, lr=1e-2, max_epochs="auto",
                               strategy="mcvs")
    emb = CommonSpaceEmbedder(**params).fit(X, X["label"])
    assert emb.stopped_early_ and emb.stages_[0]["epochs"] == emb.n_epochs_
    X2 = X.assign(caption=("it is " + X["color"].astype(str)).astype(object))
    emb.set_params(modalities={**params["modalities"],
                               "caption": ("caption", tiny.MeanWordEncoder(vector_size=8))})
    emb.partial_fit(X2, X2["label"])
    assert emb.stages_[1]["epochs"] == emb.n_epochs_ <= emb.max_epochs_


def test_replay_gives_the_state_of_the_live_count(X, quick_plateau):
    emb = CRVAEEmbedder(**CRVAE).fit(X)
    live = stopper(emb)
    again = PlateauStopping(**auto_stopping(len(X), CRVAE["batch_size"]))
    assert again.replay(emb.history_)
    assert (again.misses_, again.best_epoch_, again.stopped_epoch_, again.lowest_epoch_) == \
        (live.misses_, live.best_epoch_, live.stopped_epoch_, live.lowest_epoch_)
    assert again.dynamic_threshold_ == live.dynamic_threshold_
    assert not again.replay(emb.history_[:live.best_epoch_])


def test_the_stopper_pickles_without_weights(X, quick_plateau):
    import pickle

    params = tiny.mmeda(batch_size=8, validation_fraction=0.25, n_threads=1)
    del params["max_epochs"]
    emb = MMEDAEmbedder(**params).fit(X)
    assert stopper(emb).best_model_weights_ is not None
    loaded = pickle.loads(pickle.dumps(emb))
    assert stopper(loaded).best_model_weights_ is None
    np.testing.assert_array_equal(loaded.transform(X), emb.transform(X))
