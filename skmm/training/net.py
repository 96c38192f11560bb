"""The skorch ``NeuralNet`` every skmm model trains with.

:class:`MultimodalNet`

* passes a batch (a dict of tensors) to ``module.forward(**batch)``,
* asks the module for its loss terms (``module.loss_terms(output, batch)``,
  a dict whose ``"loss"`` entry is optimised) and records the per-epoch mean of
  every term in the history (``train_image``, ``train_kl``, ``valid_text`` ...),
* syncs with the device once per epoch instead of once per batch (skorch's
  default ``loss.item()`` per batch stalls a GPU pipeline),
* stops with :class:`~skmm.exceptions.NonFiniteLossError` when a loss is NaN
  or infinite,
* optionally runs the forward pass under bf16 autocast (on CUDA, and on a
  CPU with bfloat16 instructions), keeps
  convolution weights and image batches channels-last, and compiles the
  module with ``torch.compile`` (skorch's ``compile=True``).

It customises skorch at its named hooks only. ``train_step_single`` and
``validation_step`` return the batch's loss terms in the step dict
(``step["loss_terms"]``), with ``step["loss"]`` a
:class:`~skmm.training.terms.DeferredLoss` whose ``item()`` does not wait for
the device; the net's own ``on_batch_end`` (called before every callback)
adds the terms up on the device, and its ``on_epoch_end`` (also before every
callback, so before ``PassthroughScoring``) copies them to the host once and
writes the history (see :mod:`skmm.training.terms`).
:class:`AcceleratedMultimodalNet` trains the same way through Hugging Face
Accelerate.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from skorch import NeuralNet
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.exceptions import DeviceWarning
from skorch.hf import AccelerateMixin

from skmm.training.data import SliceLoader, TensorDict
from skmm.training.runtime import unwrap
from skmm.training.terms import DeferredLoss, EpochLossTerms

__all__ = ["AcceleratedMultimodalNet", "ModuleLoss", "MultimodalNet", "cpu_bf16_support",
           "native_bf16"]

#: /proc/cpuinfo flags of a CPU that computes in bfloat16 natively: AVX-512
#: BF16 or AMX (x86), the BF16 extension (ARM). Without one, oneDNN emulates
#: bf16 with float32 arithmetic plus conversions: slower than float32.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def bf16_flag(cpuinfo: str) -> str | None:
    """The first of ``CPU_BF16_FLAGS`` that a ``/proc/cpuinfo`` text lists, or None.

    The flags are read from its ``flags`` (x86) or ``Features`` (ARM) lines.
    """
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return next((f for f in CPU_BF16_FLAGS if f in flags), None)


@functools.lru_cache(maxsize=1)
def cpu_bf16_support() -> str | None:
    """The CPU flag that makes bfloat16 autocast fast on this machine, or None.

    Read from ``/proc/cpuinfo`` (see :func:`bf16_flag`); None where there is
    no such file (macOS, Windows): there ``precision="bf16"`` trains in float32.
    """
    try:
        return bf16_flag(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None


def native_bf16(device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports
    it, or a CPU with bfloat16 instructions (:func:`cpu_bf16_support`)."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    return kind == "cpu" and cpu_bf16_support() is not None


def _no_cpu_bf16_message() -> str:
    return (f"precision='bf16' needs a CPU with bfloat16 instructions (one of the "
            f"/proc/cpuinfo flags {', '.join(CPU_BF16_FLAGS)}); this "
            f"{platform.machine() or 'CPU'} has none, so training runs in float32 "
            "(emulated bf16 would be slower than float32). Use precision='float32' "
            "to silence this warning.")


def _step(terms: Mapping[str, torch.Tensor], y_pred) -> dict:
    """skorch's step dict, with the batch's loss terms (detached) added."""
    return {"loss": terms["loss"], "y_pred": y_pred,
            "loss_terms": {k: v.detach() for k, v in terms.items()}}


def _deferred(step: dict) -> dict:
    """The step with its ``"loss"`` read without a device sync (see DeferredLoss)."""
    return {**step, "loss": DeferredLoss(step["loss"].detach())}


class ModuleLoss:
    """The criterion of a skmm net: the module computes its own loss.

    skorch's ``NeuralNet`` holds a criterion; a skmm net asks its module for
    the loss instead (``module.loss_terms(output, batch)``, see
    :meth:`MultimodalNet.get_loss`), so this criterion only names that fact.
    It is deliberately not a :class:`torch.nn.Module`: skorch then has nothing
    to move, compile, train or unwrap, and skorch's ``AccelerateMixin`` nothing
    to hand to ``accelerator.prepare``, which on the CPU would wrap it in
    ``DistributedDataParallel`` and fail for want of parameters.
    """

    def __call__(self, y_pred, y_true):
        raise TypeError("a skmm net has no separate criterion: its loss is "
                        "module.loss_terms(output, batch)['loss']; use "
                        "net.get_loss(y_pred, y_true, X=batch)")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Stands for ``module_`` in a pickled net's ``module`` (see ``MultimodalNet.__getstate__``).
_SAME_AS_MODULE_ = "<the module_ of this net>"


class PlainPrintLog(PrintLog):
    """skorch's epoch table, with its ANSI colours only when it prints to a terminal.

    Logs written to a file or a notebook cell get plain text.
    """

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        stream = getattr(sys, "stdout", None)
        if isinstance(text, str) and not (stream is not None and stream.isatty()):
            text = _ANSI.sub("", text)
        return text


class MultimodalNet(NeuralNet):
    """The skorch ``NeuralNet`` every skmm model trains with.

    The module must implement ``forward(**batch)`` and
    ``loss_terms(output, batch) -> dict`` whose ``"loss"`` entry is the
    objective; every entry is averaged over the epoch (weighted by batch size)
    and recorded in the history as ``train_<term>`` / ``valid_<term>``
    (``train_loss`` / ``valid_loss`` for the objective itself).

    Each training and validation step returns the batch's loss terms in its
    step dict as ``step["loss_terms"]`` (callbacks receive them in
    ``on_batch_end``), and ``step["loss"]`` is a
    :class:`~skmm.training.terms.DeferredLoss`: ``float(loss)`` reads it,
    ``loss.item()`` returns a NaN placeholder without waiting for the device.
    The net sums the terms on the device and writes the history after one
    host sync at the end of each epoch.

    Parameters
    ----------
    module : torch.nn.Module
        An instantiated module (or a class with ``module__`` parameters).
    autocast : {None, "bf16"}, default=None
        Run the forward pass under ``torch.autocast`` in bfloat16, on CUDA
        and on a CPU with bfloat16 instructions (AVX-512 BF16 or AMX; see
        ``skmm.training.net.cpu_bf16_support``). On a CPU without them the net warns once
        (:class:`RuntimeWarning`, naming the flags) and trains in float32.
    channels_last : bool, default=False
        Store the 4-D (convolution) weights and move 4-D (image) batches in
        the channels-last memory format, which cuDNN runs faster with tensor
        cores (bf16 or TF32 on recent GPUs).
    **kwargs
        Passed to :class:`skorch.NeuralNet`; ``criterion`` is not used
        (the module computes its own loss; the default, :class:`ModuleLoss`,
        says so). ``compile=True`` compiles the
        module with ``torch.compile`` (``compile__mode=...`` and the other
        ``compile__`` parameters are passed to it).
    """

    def __init__(self, module, *args, criterion=ModuleLoss, autocast=None,
                 channels_last=False, iterator_train=SliceLoader, iterator_valid=SliceLoader,
                 dataset=TensorDict, train_split=None, **kwargs):
        super().__init__(module, *args, criterion=criterion, iterator_train=iterator_train,
                         iterator_valid=iterator_valid, dataset=dataset,
                         train_split=train_split, **kwargs)
        self.autocast = autocast
        self.channels_last = channels_last

    def initialize_module(self):
        super().initialize_module()
        if self.channels_last:  # before the optimizer is built over the parameters
            self.module_.to(memory_format=torch.channels_last)
        return self

    def __getstate__(self):
        # The module given is the initialised ``module_`` itself. skorch pickles
        # ``module_`` so that it loads on the CPU where CUDA is missing, but
        # ``module`` apart, with plain pickle: a net trained on a GPU would not
        # load without one. Pickle it as a reference to ``module_`` instead.
        module = self.__dict__.get("module")
        if not (isinstance(module, torch.nn.Module) and module is self.__dict__.get("module_")):
            return super().__getstate__()
        self.__dict__["module"] = _SAME_AS_MODULE_
        try:
            return super().__getstate__()
        finally:
            self.__dict__["module"] = module

    def __setstate__(self, state):
        super().__setstate__(state)
        if isinstance(self.__dict__.get("module"), str) and self.module == _SAME_AS_MODULE_:
            self.module = self.module_

    @property
    def _unwrapped(self):
        return unwrap(self.module_)

    def _place(self, batch: Mapping[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
        host = getattr(self._unwrapped, "host_keys", ())
        out = {}
        for k, v in batch.items():
            if k in host:
                out[k] = v
            elif self.channels_last and v.dim() == 4:
                out[k] = v.to(device, memory_format=torch.channels_last, non_blocking=True)
            else:
                out[k] = v.to(device, non_blocking=True)
        return out

    @property
    def _default_callbacks(self):
        callbacks = [("epoch_timer", EpochTimer()),
                     ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
                     ("valid_loss", PassthroughScoring(name="valid_loss"))]
        if self.verbose:
            callbacks.append(("print_log", PlainPrintLog()))
        return callbacks

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorDict):
            return X
        return TensorDict(X)

    def _autocast(self):
        if self.autocast not in ("bf16", "auto"):
            return contextlib.nullcontext()
        kind = str(self.device).split(":")[0]  # "cuda", "cpu"; "None": batches stay put
        if kind == "cuda":
            if self.autocast == "bf16" or torch.cuda.is_bf16_supported():
                return torch.autocast("cuda", dtype=torch.bfloat16)
            return contextlib.nullcontext()
        if kind == "cpu":
            if cpu_bf16_support() is not None:
                return torch.autocast("cpu", dtype=torch.bfloat16)
            if self.autocast == "auto":  # float32 where bf16 would not be faster
                return contextlib.nullcontext()
            if not getattr(self, "_warned_no_bf16_", False):  # once per net
                self._warned_no_bf16_ = True
                warnings.warn(_no_cpu_bf16_message(), RuntimeWarning, stacklevel=4)
        return contextlib.nullcontext()

    def to_device(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Move a batch to the net's device, but for the module's ``host_keys``."""
        return self._place(batch, self.device)

    def infer(self, x, **fit_params):
        x = self.to_device(x)
        with self._autocast():
            return self.module_(**x, **fit_params)

    def get_loss_terms(self, y_pred, X, training=False) -> dict[str, torch.Tensor]:
        """The module's loss terms for a batch: ``module.loss_terms(y_pred, batch)``."""
        return self.module_.loss_terms(y_pred, self.to_device(X))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The objective of a batch: the ``"loss"`` entry of :meth:`get_loss_terms`."""
        return self.get_loss_terms(y_pred, X, training=training)["loss"]

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        terms = self.get_loss_terms(y_pred, Xi, training=True)
        terms["loss"].backward()
        return _step(terms, y_pred)

    def train_step(self, batch, **fit_params):
        # the optimizer's closure saw the loss tensor; the epoch loop gets it deferred
        return _deferred(super().train_step(batch, **fit_params))

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, _ = unpack_data(batch)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            terms = self.get_loss_terms(y_pred, Xi, training=False)
        return _deferred(_step(terms, y_pred))

    # The net is notified before its callbacks (skorch's ``notify``): the loss
    # terms are summed and the history rows filled before any callback reads them.

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        self._epoch_terms_ = EpochLossTerms()

    def on_batch_end(self, net, batch=None, training=False, loss_terms=None, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if loss_terms is None:  # a step that did not come from this net's steps
            return
        prefix = "train" if training else "valid"
        row = self.history[-1]["batches"][-1]
        row.pop(prefix + "_loss", None)  # DeferredLoss.item()'s placeholder
        self._epoch_terms_.add(prefix, loss_terms, row[prefix + "_batch_size"])

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        terms, self._epoch_terms_ = getattr(self, "_epoch_terms_", None), None
        if terms is not None:
            terms.write(self.history, epoch=len(self.history))  # the epoch's one sync
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)

    def evaluate_terms(self, X) -> dict[str, float]:
        """Mean of every loss term over ``X`` (a TensorDict), in eval mode."""
        self.check_is_fitted()
        sums: dict[str, torch.Tensor] = {}
        n = 0
        self.module_.eval()
        with torch.inference_mode():
            for batch, _ in self.get_iterator(self.get_dataset(X), training=False):
                out = self.infer(batch)
                terms = self.module_.loss_terms(out, self.to_device(batch))
                size = len(next(iter(batch.values())))
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0) + v.float() * size
                n += size
        return {k: float(v) / n for k, v in sums.items()}


class AcceleratedMultimodalNet(AccelerateMixin, MultimodalNet):
    """:class:`MultimodalNet` trained through Hugging Face Accelerate.

    skorch's :class:`~skorch.hf.AccelerateMixin` hands the module and the
    optimizer to an :class:`accelerate.Accelerator`, which places them on the
    device, wraps the module in ``DistributedDataParallel`` when several
    processes train (started by ``torchrun`` or ``accelerate launch
    --multi_gpu``, on GPUs or, with ``Accelerator(cpu=True)``, on the CPU)
    and runs mixed precision (``Accelerator(mixed_precision="bf16")``). The
    criterion, :class:`ModuleLoss`, is not a module, so the accelerator has
    none to prepare.

    Each process trains on its share of every epoch's batches
    (:class:`SliceLoader` shards them; ``batch_size`` is per process), and
    at the end of each epoch the training loss terms are added up over the
    processes, so that every process records the same history, the mean
    over all rows. After training the module is unwrapped, so the net
    pickles and transforms as a one-process one.

    Parameters
    ----------
    module : torch.nn.Module
    accelerator : accelerate.Accelerator
    **kwargs
        As for :class:`MultimodalNet`; ``device`` must be None (the
        accelerator places the tensors).
    """

    def __init__(self, module, *args, accelerator, device=None, **kwargs):
        super().__init__(module, *args, accelerator=accelerator, device=device, **kwargs)

    def __setstate__(self, state):
        if state.get("device") is not None:
            super().__setstate__(state)
            return
        # device=None: the accelerator placed the tensors. skorch then loads
        # them on the CPU, warns that no device was given and sets "cpu";
        # keep None, which a new fit through the accelerator requires.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        self.device = None

    @property
    def _unwrapped(self):
        return unwrap(self.accelerator.unwrap_model(self.module_, keep_fp32_wrapper=False))

    def to_device(self, batch):
        return self._place(batch, self.accelerator.device)

    def infer(self, x, **fit_params):
        return self.module_(**self.to_device(x), **fit_params)

    def get_loss_terms(self, y_pred, X, training=False):
        return self._unwrapped.loss_terms(y_pred, self.to_device(X))

    def train_step_single(self, batch, **fit_params):
        # AccelerateMixin's, with the loss terms in the step
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        with self.accelerator.autocast():
            y_pred = self.infer(Xi, **fit_params)
            terms = self.get_loss_terms(y_pred, Xi, training=True)
            self.accelerator.backward(terms["loss"])
        return _step(terms, y_pred)

    def evaluation_step(self, batch, training=False):
        # the outputs of skmm modules are not gathered across processes
        return MultimodalNet.evaluation_step(self, batch, training=training)

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if isinstance(iterator, SliceLoader) and training:
            iterator.shard = (self.accelerator.process_index, self.accelerator.num_processes)
        return iterator

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        terms = getattr(self, "_epoch_terms_", None)
        if terms is not None and self.accelerator.num_processes > 1:
            _reduce_train_terms(terms, self.accelerator)
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)


def _reduce_train_terms(terms: EpochLossTerms, accelerator) -> None:
    """Make an epoch's training terms those of all processes' rows, in place.

    Each process trains on its own share of the batches, so its sums cover its
    rows only. They are added up over the processes (one all-reduce), so that
    every process records the same history (the mean of each term over all
    rows; each batch's ``train_loss`` the mean over the processes' batches of
    that step) and callbacks that read it, such as early stopping, decide
    alike in every process. Validation is not sharded: every process scores
    the whole validation set, with the same weights.
    """
    sizes = terms.sizes["train"]
    if not sizes:
        return
    names = sorted(terms.sums["train"])  # the same keys, in the same order, everywhere
    local = torch.stack([terms.sums["train"][k] for k in names])
    weights = torch.tensor(sizes, dtype=local.dtype, device=local.device)
    losses = torch.stack(terms.losses["train"]).to(local.device) * weights
    packed = accelerator.reduce(torch.cat([local, losses, weights]), reduction="sum")
    k, b = len(names), len(sizes)
    totals, step_losses, step_sizes = packed[:k], packed[k:k + b], packed[k + b:]
    # EpochLossTerms.write divides the sums by this process's rows
    scale = weights.sum() / step_sizes.sum()
    terms.sums["train"] = {name: total * scale for name, total in zip(names, totals)}
    terms.losses["train"] = list(step_losses / step_sizes)
