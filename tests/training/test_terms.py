"""skmm.training.terms: the deferred batch loss and the per-epoch sums."""

import math

import numpy as np
import pytest
import torch
from skorch.history import History

from skmm.exceptions import NonFiniteLossError
from skmm.training.terms import DeferredLoss, EpochLossTerms


def test_deferred_loss_item_is_a_placeholder_float_is_the_value():
    loss = DeferredLoss(torch.tensor(2.5))
    assert math.isnan(loss.item())
    assert float(loss) == 2.5


def history_with(batches):
    history = History()
    history.new_epoch()
    for prefix, size in batches:
        history.new_batch()
        history.record_batch(prefix + "_batch_size", size)
    return history


def test_epoch_terms_write_means_and_batch_rows():
    batches = [("train", 3), ("train", 1), ("valid", 2)]
    history = history_with(batches)
    terms = EpochLossTerms()
    values = [2.0, 6.0, 1.0]
    for (prefix, size), v in zip(batches, values):
        terms.add(prefix, {"loss": torch.tensor(v), "a": torch.tensor(10 * v)}, size)
    terms.write(history, epoch=1)
    assert history[-1, "train_a"] == pytest.approx((3 * 20 + 60) / 4)
    assert history[-1, "valid_a"] == pytest.approx(10.0)
    assert history[-1, "batches", :, "train_loss"] == [2.0, 6.0]
    assert history[-1, "batches", :, "valid_loss"] == [1.0]
    assert "train_loss" not in history[-1]  # PassthroughScoring's to record


def test_epoch_terms_refuse_non_finite_terms_before_recording():
    history = history_with([("train", 2)])
    terms = EpochLossTerms()
    terms.add("train", {"loss": torch.tensor(1.0), "kl": torch.tensor(np.inf)}, 2)
    with pytest.raises(NonFiniteLossError, match=r"non-finite train loss term\(s\) \['kl'\]"):
        terms.write(history, epoch=4)
    assert "train_kl" not in history[-1]


def test_epoch_without_batches_writes_nothing():
    history = history_with([])
    EpochLossTerms().write(history, epoch=1)
    assert set(history[-1]) == {"batches"}
