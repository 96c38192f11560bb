"""The skorch glue: slicing loader, loss-term history, non-finite loss."""

import numpy as np
import pytest
import torch
from torch import nn

from skmm.exceptions import NonFiniteLossError
from skmm.training import MultimodalNet, RandomSplit, SliceLoader, TensorDict, resolve_device


class Regressor(nn.Module):
    """y = w x; loss terms: mse and an L2 penalty."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.scale = scale

    def forward(self, x, y):
        return self.lin(x * self.scale)

    def loss_terms(self, out, batch):
        mse = (out.squeeze(1) - batch["y"]).pow(2).mean()
        l2 = self.lin.weight.pow(2).sum()
        return {"loss": mse + 0.01 * l2, "mse": mse, "l2": l2}


def data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    return {"x": x, "y": x @ torch.tensor([1.0, -2.0, 0.5])}


def test_tensordict_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="different lengths"):
        TensorDict({"a": torch.zeros(3), "b": torch.zeros(4)})


def test_slice_loader_covers_every_row_once_and_is_seeded():
    ds = TensorDict({"i": torch.arange(10)})
    batches = [b["i"] for b, _ in SliceLoader(ds, batch_size=4)]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat(batches), torch.arange(10))

    def order(seed):
        loader = SliceLoader(ds, batch_size=4, shuffle=True,
                             generator=torch.Generator().manual_seed(seed))
        return torch.cat([b["i"] for b, _ in loader])

    assert torch.equal(order(1), order(1))
    assert not torch.equal(order(1), order(2))
    assert sorted(order(1).tolist()) == list(range(10))


def test_slice_loader_never_yields_a_training_batch_of_one():
    ds = TensorDict({"i": torch.arange(9)})
    sizes = [len(b["i"]) for b, _ in SliceLoader(ds, batch_size=4, shuffle=True)]
    assert 1 not in sizes and sum(sizes) == 8


def test_random_split_partitions_rows():
    ds = TensorDict({"i": torch.arange(20)})
    train, valid = RandomSplit(0.25, seed=0)(ds)
    assert len(valid) == 5 and len(train) == 15
    assert sorted(torch.cat([train.tensors["i"], valid.tensors["i"]]).tolist()) == list(range(20))
    with pytest.raises(ValueError, match="validation_fraction"):
        RandomSplit(0.001)(ds)


def test_net_records_every_loss_term_per_epoch_and_learns():
    torch.manual_seed(0)
    net = MultimodalNet(Regressor(), max_epochs=30, lr=0.05, batch_size=8,
                        optimizer=torch.optim.SGD, train_split=RandomSplit(0.25), verbose=0)
    net.fit(data())
    h = net.history
    for key in ["train_loss", "train_mse", "train_l2", "valid_loss", "valid_mse", "dur"]:
        assert len(h[:, key]) == 30, key
    assert h[-1, "train_mse"] < 0.1 * h[0, "train_mse"]
    # the epoch objective is the size-weighted mean of the batch objectives
    sizes = np.array(h[-1, "batches", :, "train_batch_size"])
    losses = np.array(h[-1, "batches", :, "train_loss"])
    assert h[-1, "train_loss"] == pytest.approx(np.average(losses, weights=sizes), rel=1e-5)
    terms = net.evaluate_terms(TensorDict(data()))
    assert terms["loss"] == pytest.approx(terms["mse"] + 0.01 * terms["l2"], rel=1e-5)


def test_verbose_zero_prints_nothing(capsys):
    MultimodalNet(Regressor(), max_epochs=2, verbose=0).fit(data())
    assert capsys.readouterr().out == ""
    MultimodalNet(Regressor(), max_epochs=2, verbose=1).fit(data())
    assert "train_mse" in capsys.readouterr().out


def test_non_finite_loss_stops_training():
    net = MultimodalNet(Regressor(scale=float("inf")), max_epochs=3, verbose=0)
    with pytest.raises(NonFiniteLossError, match="non-finite train loss"):
        net.fit(data())


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
