"""skorch glue shared by every skmm model.

The models here are trained on data that fits in memory as a dict of tensors
(uint8 images, int64 token ids, lengths ...). :class:`TensorDict` holds such a
dict, :class:`SliceLoader` yields batches as slices of it (no per-sample
Python work, no collate), and :class:`MultimodalNet` is the skorch
``NeuralNet`` subclass that

* passes a batch to ``module.forward(**batch)``,
* asks the module for its loss terms (``module.loss_terms(output, batch)``,
  a dict whose ``"loss"`` entry is optimised) and records the per-epoch mean of
  every term in the history (``train_image``, ``train_kl``, ``valid_text`` ...),
* syncs with the device once per epoch instead of once per batch (skorch's
  default ``loss.item()`` per batch stalls a GPU pipeline),
* stops with :class:`~skmm.exceptions.NonFiniteLossError` when a loss is NaN
  or infinite,
* optionally runs the forward pass under bf16 autocast on CUDA, keeps
  convolution weights and image batches channels-last, and compiles the
  module with ``torch.compile`` (skorch's ``compile=True``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.hf import AccelerateMixin

from skmm.exceptions import NonFiniteLossError

__all__ = [
    "AcceleratedMultimodalNet",
    "FixedSplit",
    "MultimodalNet",
    "SliceLoader",
    "TensorDict",
    "WorkerLoader",
    "RandomSplit",
    "resolve_device",
    "torch_seed",
    "unwrap",
]


@contextlib.contextmanager
def torch_seed(seed: int):
    """Seed torch inside the block and leave the caller's global RNG state untouched."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module itself, or the original one behind a ``torch.compile`` wrapper."""
    return getattr(module, "_orig_mod", module)


def resolve_device(device: str | torch.device) -> str:
    """Resolve ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


class TensorDict(torch.utils.data.Dataset):
    """A dataset made of equally long tensors, sliced without copying.

    Parameters
    ----------
    tensors : mapping of str to torch.Tensor
        Arrays with the samples along the first axis.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor]):
        tensors = {k: v if _is_lazy(v) else torch.as_tensor(v) for k, v in tensors.items()}
        lengths = {len(v) for v in tensors.values()}
        if len(lengths) != 1:
            sizes = {k: len(v) for k, v in tensors.items()}
            raise ValueError(f"tensors of different lengths: {sizes}")
        self.tensors = tensors
        self.n = lengths.pop()

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if isinstance(index, int | np.integer):
            return {k: v[0] for k, v in self.take(slice(index, index + 1)).tensors.items()}
        return self.take(index).tensors

    def take(self, index) -> TensorDict:
        """A new TensorDict of the rows ``index`` (a slice or an index tensor)."""
        return TensorDict({k: _take(v, index) for k, v in self.tensors.items()})

    @property
    def lazy(self) -> bool:
        """Whether some column is decoded on access (e.g. an ImageColumn of paths)."""
        return any(_is_lazy(v) for v in self.tensors.values())


def _is_lazy(column) -> bool:
    # A column that is neither a tensor nor an array: decoded when indexed
    # (skmm.inputs.ImageColumn), so a batch never needs the whole column.
    return not isinstance(column, torch.Tensor | np.ndarray | list | tuple) and hasattr(
        column, "__getitem__") and hasattr(column, "shape")


def _take(column, index):
    if _is_lazy(column):
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        return torch.from_numpy(np.ascontiguousarray(column[index]))
    return column[index]


class SliceLoader:
    """Iterate over a :class:`TensorDict` in batches, as skorch's iterator.

    Accepts the keyword arguments skorch passes to a DataLoader
    (``batch_size``, ``shuffle``, ``generator``; others are ignored) and yields
    ``(batch_dict, None)`` pairs. Shuffling draws one permutation per epoch
    from ``generator``, so training is repeatable for a seeded generator.
    """

    def __init__(self, dataset: TensorDict, batch_size: int = 64, shuffle: bool = False,
                 generator: torch.Generator | None = None, drop_last: bool = False, **_):
        if not isinstance(dataset, TensorDict):
            raise TypeError(f"SliceLoader needs a TensorDict, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.shard = (0, 1)  # (process index, number of processes) under data parallelism

    def __len__(self):
        n, b = len(self.dataset), self.batch_size
        batches = n // b if self.drop_last else -(-n // b)
        return max(batches // self.shard[1], 1) if self.shard[1] > 1 else batches

    def batch_indices(self):
        """The rows of each batch of one epoch: slices, or index tensors when shuffled."""
        n, size = len(self.dataset), self.batch_size
        stop = n - n % size if self.drop_last else n
        if self.shuffle and stop % size == 1 and n > 1:
            stop -= 1  # a training batch of one sample breaks batch normalisation
        # shuffled batches gather their rows: no shuffled copy of the whole data
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        batches = [slice(start, start + size) if order is None else order[start: start + size]
                   for start in range(0, stop, size)]
        rank, world = self.shard
        if world > 1:
            # every process draws the same order (same seed) and takes its share
            # of the batches; all do the same number of steps, as DDP requires
            per_process = max(len(batches) // world, 1)
            batches = batches[rank::world][:per_process] or batches[:1]
        yield from batches

    def __iter__(self):
        for index in self.batch_indices():
            yield self.dataset.take(index).tensors, None


class WorkerLoader(SliceLoader):
    """A :class:`SliceLoader` whose batches are built by DataLoader worker processes.

    For data that does not fit in memory: lazy columns (such as
    :class:`skmm.inputs.ImageColumn`, image paths decoded on access) are
    decoded batch by batch in ``num_workers`` processes, ahead of the
    training loop, into pinned memory when a GPU is used. The batches hold
    the same rows in the same order as :class:`SliceLoader` with the same
    generator, so streamed training gives the in-memory result.

    Parameters
    ----------
    dataset : TensorDict
    batch_size : int, default=64
    shuffle : bool, default=False
    generator : torch.Generator or None, default=None
    drop_last : bool, default=False
    num_workers : int, default=2
        Worker processes; 0 decodes in the main process.
    pin_memory : bool or None, default=None
        Page-locked batches for fast host-to-GPU copies; None means "when
        CUDA is available".
    prefetch_factor : int, default=2
        Batches each worker prepares ahead.
    """

    def __init__(self, dataset: TensorDict, batch_size: int = 64, shuffle: bool = False,
                 generator: torch.Generator | None = None, drop_last: bool = False,
                 num_workers: int = 2, pin_memory: bool | None = None,
                 prefetch_factor: int = 2, **kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                         drop_last=drop_last, **kwargs)
        self.num_workers = int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.prefetch_factor = prefetch_factor

    def __iter__(self):
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=None, sampler=list(self.batch_indices()),
            num_workers=self.num_workers, pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if self.num_workers else None,
            # its own generator: the DataLoader draws a worker base seed, which
            # must not advance the global torch RNG the model samples from
            generator=torch.Generator().manual_seed(0))
        for batch in loader:
            yield batch, None


class RandomSplit:
    """A skorch ``train_split`` that holds out a random ``fraction`` of the rows.

    Seeded and picklable: the same ``seed`` holds out the same rows, and a net
    (or an estimator holding one) that uses it pickles.

    Parameters
    ----------
    fraction : float
        Share of the rows used for validation, in (0, 1).
    seed : int, default=0
        Seed of the permutation that picks the validation rows.
    """

    def __init__(self, fraction: float, seed: int = 0):
        self.fraction = fraction
        self.seed = seed

    def indices(self, n: int, *, min_train: int = 1):
        """Positions of the training and the validation rows among ``n``.

        Raises ValueError when fewer than ``min_train`` rows would be left to
        train on, or none to validate with.
        """
        n_valid = int(round(self.fraction * n))
        if not 0 < n_valid <= n - min_train:
            raise ValueError(f"validation_fraction={self.fraction} leaves too few rows to train "
                             f"on or to validate with among {n} rows")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        return order[n_valid:], order[:n_valid]

    def __call__(self, dataset: TensorDict, y=None, **_):
        train, valid = self.indices(len(dataset))
        return dataset.take(train), dataset.take(valid)

    def __repr__(self):
        return f"RandomSplit({self.fraction!r}, seed={self.seed!r})"


class FixedSplit:
    """A picklable skorch ``train_split`` returning fixed training and validation rows.

    Parameters
    ----------
    train_idx, valid_idx : torch.Tensor
        Positions of the training and of the validation rows.
    """

    def __init__(self, train_idx, valid_idx):
        self.train_idx, self.valid_idx = train_idx, valid_idx

    def __call__(self, dataset: TensorDict, y=None, **_):
        return dataset.take(self.train_idx), dataset.take(self.valid_idx)


class MultimodalNet(NeuralNet):
    """The skorch ``NeuralNet`` every skmm model trains with.

    The module must implement ``forward(**batch)`` and
    ``loss_terms(output, batch) -> dict`` whose ``"loss"`` entry is the
    objective; every entry is averaged over the epoch (weighted by batch size)
    and recorded in the history as ``train_<term>`` / ``valid_<term>``
    (``train_loss`` / ``valid_loss`` for the objective itself).

    Parameters
    ----------
    module : torch.nn.Module
        An instantiated module (or a class with ``module__`` parameters).
    autocast : {None, "bf16"}, default=None
        Run the forward pass under ``torch.autocast`` in bfloat16 on CUDA.
        Ignored on the CPU.
    channels_last : bool, default=False
        Store the 4-D (convolution) weights and move 4-D (image) batches in
        the channels-last memory format, which cuDNN runs faster with tensor
        cores (bf16 or TF32 on recent GPUs).
    **kwargs
        Passed to :class:`skorch.NeuralNet`; ``criterion`` is not used
        (the module computes its own loss). ``compile=True`` compiles the
        module with ``torch.compile`` (``compile__mode=...`` and the other
        ``compile__`` parameters are passed to it).
    """

    def __init__(self, module, *args, criterion=torch.nn.Module, autocast=None,
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
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorDict):
            return X
        return TensorDict(X)

    def _autocast(self):
        if self.autocast == "bf16" and str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to_device(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Move a batch to the net's device, but for the module's ``host_keys``."""
        return self._place(batch, self.device)

    def infer(self, x, **fit_params):
        x = self.to_device(x)
        with self._autocast():
            return self.module_(**x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        terms = self.module_.loss_terms(y_pred, self.to_device(X))
        self._batch_terms_ = terms
        return terms["loss"]

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # Same contract as skorch's, but the loss terms stay on the device until
        # the end of the epoch: one host sync per epoch instead of per batch.
        if iterator is None:
            return
        sums: dict[str, torch.Tensor] = {}
        batch_losses, batch_sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(next(iter(batch[0].values())))
            for name, value in self._batch_terms_.items():
                value = value.detach().float() * size
                sums[name] = sums[name] + value if name in sums else value
            batch_losses.append(step["loss"].detach())
            batch_sizes.append(size)
            self.notify("on_batch_end", batch=batch, training=training, **step)
        n = sum(batch_sizes)
        names = list(sums)
        totals = torch.stack([sums[k] for k in names]).cpu().numpy() / max(n, 1)
        losses = torch.stack(batch_losses).float().cpu().numpy() if batch_losses else []
        if not np.all(np.isfinite(totals)):
            bad = [k for k, v in zip(names, totals) if not np.isfinite(v)]
            raise NonFiniteLossError(
                f"non-finite {prefix} loss term(s) {bad} in epoch {len(self.history)}; "
                "lower lr, or check the input data for extreme values")
        # fill the per-batch rows skorch's scoring callbacks read
        for row, loss, size in zip(self.history[-1, "batches"], losses, batch_sizes):
            row[prefix + "_loss"] = float(loss)
            row[prefix + "_batch_size"] = size
        for name, total in zip(names, totals):
            if name != "loss":
                self.history.record(f"{prefix}_{name}", float(total))
        self.history.record(prefix + "_batch_count", len(batch_sizes))
        self._batch_terms_ = None

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
    device, wraps the module for distributed data parallelism under
    ``accelerate launch`` (several GPUs or nodes) and runs mixed precision
    (``Accelerator(mixed_precision="bf16")``). Each process trains on its
    share of every epoch's batches (:class:`SliceLoader` shards them).

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

    @property
    def _unwrapped(self):
        return unwrap(self.accelerator.unwrap_model(self.module_, keep_fp32_wrapper=False))

    def to_device(self, batch):
        return self._place(batch, self.accelerator.device)

    def infer(self, x, **fit_params):
        return self.module_(**self.to_device(x), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        terms = self._unwrapped.loss_terms(y_pred, self.to_device(X))
        self._batch_terms_ = terms
        return terms["loss"]

    def evaluation_step(self, batch, training=False):
        # the outputs of skmm modules are not gathered across processes
        return MultimodalNet.evaluation_step(self, batch, training=training)

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if isinstance(iterator, SliceLoader) and training:
            iterator.shard = (self.accelerator.process_index, self.accelerator.num_processes)
        return iterator
