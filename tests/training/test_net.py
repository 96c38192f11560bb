"""skmm.training.net: the loss-term history, one host sync per epoch, non-finite loss."""

import contextlib

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from skmm.exceptions import NonFiniteLossError
from skmm.training import (
    AcceleratedMultimodalNet,
    FixedSplit,
    MultimodalNet,
    RandomSplit,
    TensorDict,
)


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


def test_net_customises_skorch_at_named_hooks_only():
    for cls in (MultimodalNet, AcceleratedMultimodalNet):
        assert cls.run_single_epoch is NeuralNet.run_single_epoch
        assert cls.fit_loop is NeuralNet.fit_loop


def test_net_records_every_loss_term_per_epoch_and_learns():
    torch.manual_seed(0)
    net = MultimodalNet(Regressor(), max_epochs=30, lr=0.05, batch_size=8,
                        optimizer=torch.optim.SGD, train_split=RandomSplit(0.25), verbose=0)
    net.fit(data())
    h = net.history
    for key in ["train_loss", "train_mse", "train_l2", "valid_loss", "valid_mse", "dur"]:
        assert len(h[:, key]) == 30, key
    assert h[-1, "train_batch_count"] == 4 and h[-1, "valid_batch_count"] == 2
    assert h[-1, "train_mse"] < 0.1 * h[0, "train_mse"]
    # the epoch objective is the size-weighted mean of the batch objectives
    sizes = np.array(h[-1, "batches", :, "train_batch_size"])
    losses = np.array(h[-1, "batches", :, "train_loss"])
    assert h[-1, "train_loss"] == pytest.approx(np.average(losses, weights=sizes), rel=1e-5)
    terms = net.evaluate_terms(TensorDict(data()))
    assert terms["loss"] == pytest.approx(terms["mse"] + 0.01 * terms["l2"], rel=1e-5)
    # the per-epoch bookkeeping is fitted state, not a parameter
    assert not [k for k in net.get_params() if "terms" in k]


def test_history_is_the_size_weighted_mean_of_the_batch_terms():
    # lr=0: the weights stay as initialised, so every batch's terms can be
    # computed by hand; batches of 16, 16, 8 (train) and 16, 4 (valid)
    torch.manual_seed(0)
    X = data(60)
    net = MultimodalNet(Regressor(), max_epochs=2, lr=0.0, batch_size=16,
                        optimizer=torch.optim.SGD, iterator_train__shuffle=False,
                        train_split=FixedSplit(torch.arange(40), torch.arange(40, 60)),
                        verbose=0)
    net.fit(X)
    w = net.module_.lin.weight.detach().double().numpy()[0]
    b = float(net.module_.lin.bias.detach())
    x, y = X["x"].double().numpy(), X["y"].double().numpy()
    l2 = float(np.sum(w ** 2))

    def by_hand(rows, sizes):
        starts = np.cumsum([0] + sizes[:-1]) + rows.start
        mse = np.array([np.mean((x[s:s + n] @ w + b - y[s:s + n]) ** 2)
                        for s, n in zip(starts, sizes)])
        return mse, mse + 0.01 * l2

    h = net.history
    for prefix, rows, sizes in [("train", range(0, 40), [16, 16, 8]),
                                ("valid", range(40, 60), [16, 4])]:
        mse, loss = by_hand(rows, sizes)
        for epoch in (0, 1):
            assert h[epoch, "batches", :, prefix + "_batch_size"] == sizes
            np.testing.assert_allclose(h[epoch, "batches", :, prefix + "_loss"], loss, rtol=1e-5)
            assert h[epoch, prefix + "_mse"] == pytest.approx(np.average(mse, weights=sizes),
                                                              rel=1e-5)
            assert h[epoch, prefix + "_l2"] == pytest.approx(l2, rel=1e-5)
            assert h[epoch, prefix + "_loss"] == pytest.approx(np.average(loss, weights=sizes),
                                                               rel=1e-5)
            assert h[epoch, prefix + "_batch_count"] == len(sizes)


class Spy(Callback):
    """What a callback sees: the batch rows at batch end, the step's loss terms."""

    def initialize(self):
        self.rows, self.terms, self.epoch_rows = [], [], []
        return self

    def on_batch_end(self, net, training=False, loss_terms=None, **kwargs):
        self.rows.append(dict(net.history[-1, "batches", -1]))
        self.terms.append(loss_terms)

    def on_epoch_end(self, net, **kwargs):
        self.epoch_rows.append(net.history[-1, "batches", :, "train_loss"])


def test_callbacks_get_the_terms_and_never_a_placeholder_loss():
    spy = Spy()
    net = MultimodalNet(Regressor(), max_epochs=2, batch_size=16, callbacks=[("spy", spy)],
                        train_split=RandomSplit(0.25), verbose=0)
    net.fit(data())
    assert len(spy.terms) == 2 * (2 + 1)
    assert all(set(t) == {"loss", "mse", "l2"} for t in spy.terms)
    assert not any(t.requires_grad for terms in spy.terms for t in terms.values())
    # mid-epoch rows carry no loss yet (skorch's placeholder is removed) ...
    assert all("train_loss" not in r and "valid_loss" not in r for r in spy.rows)
    assert all("train_batch_size" in r or "valid_batch_size" in r for r in spy.rows)
    # ... and the real ones are there when the callbacks' epoch end comes
    assert [len(r) for r in spy.epoch_rows] == [2, 2]
    assert np.all(np.isfinite(spy.epoch_rows))


HOST_READS = ["item", "cpu", "tolist", "__float__", "__int__", "__bool__"]


@contextlib.contextmanager
def count_host_reads():
    """Count the tensor methods that copy a value to the host (a sync on a GPU)."""
    counts = dict.fromkeys(HOST_READS, 0)
    originals = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counting(name):
        def method(self, *args, **kwargs):
            counts[name] += 1
            return originals[name](self, *args, **kwargs)
        return method

    try:
        for name in HOST_READS:
            setattr(torch.Tensor, name, counting(name))
        yield counts
    finally:
        for name, method in originals.items():
            setattr(torch.Tensor, name, method)


@pytest.mark.parametrize("split", [None, RandomSplit(0.25)])
def test_one_host_sync_per_epoch(split):
    # On the CPU the "device" is the host, so nothing really waits; what is
    # counted is the reads that would make a GPU wait (skorch's default reads
    # every batch's loss with .item())
    net = MultimodalNet(Regressor(), max_epochs=3, batch_size=8, optimizer=torch.optim.SGD,
                        train_split=split, verbose=0).initialize()
    with count_host_reads() as counts:
        net.partial_fit(data())
    assert counts == {**dict.fromkeys(HOST_READS, 0), "cpu": 3}
    assert len(net.history) == 3 and np.isfinite(net.history[-1, "train_loss"])


def test_verbose_zero_prints_nothing(capsys):
    MultimodalNet(Regressor(), max_epochs=2, verbose=0).fit(data())
    assert capsys.readouterr().out == ""
    MultimodalNet(Regressor(), max_epochs=2, verbose=1).fit(data())
    assert "train_mse" in capsys.readouterr().out


def test_non_finite_loss_stops_training():
    net = MultimodalNet(Regressor(scale=float("inf")), max_epochs=3, verbose=0)
    with pytest.raises(NonFiniteLossError, match="non-finite train loss"):
        net.fit(data())


def test_nan_loss_raises_non_finite_loss_error():
    net = MultimodalNet(Regressor(scale=float("nan")), max_epochs=3, verbose=0)
    with pytest.raises(NonFiniteLossError,
                       match=r"non-finite train loss term\(s\) \['loss', 'mse'\] in epoch 1"):
        net.fit(data())
    assert len(net.history) == 1


def test_nan_in_validation_names_the_validation_terms():
    X = data()
    X["x"][35] = float("nan")
    net = MultimodalNet(Regressor(), max_epochs=3, verbose=0,
                        train_split=FixedSplit(torch.arange(30), torch.arange(30, 40)))
    with pytest.raises(NonFiniteLossError, match=r"non-finite valid loss term\(s\) \['loss'"):
        net.fit(X)


# ---- bf16 autocast on the CPU ---------------------------------------------------
class ConvRegressor(nn.Module):
    """A conv and a linear layer over 8x8 images; records the dtypes they output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.lin = nn.Linear(8 * 8 * 8, 1)
        self.dtypes = set()
        for layer in (self.conv, self.lin):
            layer.register_forward_hook(lambda m, i, o: self.dtypes.add(o.dtype))

    def forward(self, image, y):
        return self.lin(torch.relu(self.conv(image)).flatten(1))

    def loss_terms(self, out, batch):
        return {"loss": (out.float().squeeze(1) - batch["y"]).pow(2).mean()}


def images(n=64):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, 8, 8, generator=g)
    return {"image": image, "y": 10 * (image[:, 0].mean((1, 2)) - image[:, 2].mean((1, 2)))}


def conv_net(autocast, **kwargs):
    torch.manual_seed(0)
    return MultimodalNet(ConvRegressor(), max_epochs=5, lr=0.01, batch_size=16, device="cpu",
                         optimizer=torch.optim.Adam, autocast=autocast, verbose=0, **kwargs)


def test_cpu_bf16_flags_are_read_from_cpuinfo():
    from skmm.training.net import bf16_flag

    x86 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
    assert bf16_flag(x86) == "avx512_bf16"
    assert bf16_flag(x86.replace("avx512_bf16", "amx_tile amx_bf16")) == "amx_bf16"
    assert bf16_flag(x86.replace(" avx512_bf16", "")) is None  # AVX-512 alone: emulated
    assert bf16_flag("Features\t: fp asimd sve bf16 i8mm\n") == "bf16"  # ARM
    assert bf16_flag("") is None


@pytest.mark.parametrize("channels_last", [False, True])
def test_bf16_autocast_runs_on_a_cpu_with_bf16(channels_last):
    from skmm.training.net import cpu_bf16_support

    if cpu_bf16_support() is None:
        pytest.skip("this CPU has no bfloat16 instructions")
    fp32 = conv_net(None, channels_last=channels_last).fit(images())
    assert fp32.module_.dtypes == {torch.float32}
    bf16 = conv_net("bf16", channels_last=channels_last).fit(images())
    assert bf16.module_.dtypes == {torch.bfloat16}  # conv and linear ran in bf16
    assert all(p.dtype == torch.float32 for p in bf16.module_.parameters())  # fp32 master
    loss32, loss16 = np.array(fp32.history[:, "train_loss"]), np.array(
        bf16.history[:, "train_loss"])
    assert loss16[-1] < 0.25 * loss16[0]  # it learns, as fp32 does up to rounding
    assert loss16[0] == pytest.approx(loss32[0], rel=0.01)
    assert loss16[-1] == pytest.approx(loss32[-1], rel=0.25)
    # the same weights: the loss under bf16 autocast is the fp32 loss up to bf16 rounding
    in_bf16 = fp32.set_params(autocast="bf16").evaluate_terms(TensorDict(images()))["loss"]
    in_fp32 = fp32.set_params(autocast=None).evaluate_terms(TensorDict(images()))["loss"]
    assert in_bf16 == pytest.approx(in_fp32, rel=0.02)
    assert in_bf16 != in_fp32


def test_bf16_on_a_cpu_without_bf16_warns_once_and_trains_in_float32(monkeypatch):
    import warnings

    import skmm.training.net as net_module

    monkeypatch.setattr(net_module, "cpu_bf16_support", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bf16 = conv_net("bf16").fit(images())
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages  # once per net, not once per batch
    assert "avx512_bf16" in messages[0] and "float32" in messages[0]
    assert bf16.module_.dtypes == {torch.float32}
    fp32 = conv_net(None).fit(images())
    np.testing.assert_array_equal(bf16.history[:, "train_loss"], fp32.history[:, "train_loss"])
