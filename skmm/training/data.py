"""Data for the training loop: tensors in memory, the loaders over them, splits.

The models here are trained on data that fits in memory as a dict of tensors
(uint8 images, int64 token ids, lengths ...). :class:`TensorDict` holds such a
dict and :class:`SliceLoader` yields batches as slices of it (no per-sample
Python work, no collate). :class:`WorkerLoader` builds the same batches in
DataLoader worker processes, for lazy columns decoded on access (data larger
than memory). :class:`ClassBalancedLoader` fills each batch with groups of rows
of one class (for triplet mining), and :class:`RandomSplit` /
:class:`FixedSplit` are picklable skorch ``train_split`` callables.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from skmm.inputs.vocabulary import UNK_ID

__all__ = [
    "ClassBalancedLoader",
    "ClassBalancedWorkerLoader",
    "FixedSplit",
    "PreparedData",
    "RandomSplit",
    "SliceLoader",
    "TensorDict",
    "WorkerLoader",
]


class PreparedData(dict):
    """Prepared tensors of new rows, ``{key: tensor}``, and the vectors of their unseen tokens.

    A dict like any other (batched by :class:`TensorDict`), plus ``unseen``:
    for a token-id entry ``key``, ``unseen[key] = (first_id, vectors)``
    says that its ids from ``first_id`` on are tokens that fit did not see,
    read as ``vectors`` (their pretrained vectors, see
    :meth:`skmm.inputs.TextEncoder.encode_with_unseen`).

    Parameters
    ----------
    tensors : mapping of str to torch.Tensor
    unseen : mapping of str to (int, array-like), optional
    """

    def __init__(self, tensors: Mapping, unseen: Mapping | None = None):
        super().__init__(tensors)
        self.unseen = dict(unseen or {})

    def known_tokens(self) -> dict:
        """A plain dict of the same tensors with every unseen token id replaced by ``<unk>``.

        For what compares texts with the fitted vocabulary (a reconstruction
        score over its words).
        """
        out = dict(self)
        for key, (first, _) in self.unseen.items():
            ids = torch.as_tensor(out[key])
            out[key] = torch.where(ids >= first, torch.full_like(ids, UNK_ID), ids)
        return out


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


class ClassBalancedLoader(SliceLoader):
    """Batches made of groups of ``items_per_class`` rows of one class.

    Triplet mining needs positives in the batch: each epoch the rows of each
    class are shuffled and cut into groups of ``items_per_class`` (a class's
    last group may be smaller), the groups are shuffled, and consecutive
    groups fill the batches. Every row is seen once per epoch. Fully
    vectorised and seeded by ``generator``; without ``shuffle`` it yields
    plain slices like :class:`~skmm.training.SliceLoader`.

    Parameters
    ----------
    dataset : skmm.training.TensorDict
        Holds an int64 class-id tensor under ``labels_key``.
    batch_size : int, default=128
    shuffle : bool, default=True
    generator : torch.Generator or None, default=None
    items_per_class : int, default=4
    labels_key : str, default="y"
    """

    def __init__(self, dataset, batch_size=128, shuffle=True, generator=None,
                 items_per_class=4, labels_key="y", drop_last=False, **kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                         drop_last=drop_last, **kwargs)
        self.items_per_class = int(items_per_class)
        self.labels_key = labels_key

    def order(self) -> torch.Tensor:
        """One epoch's order of the rows."""
        y = self.dataset.tensors[self.labels_key].cpu()
        n = len(y)
        order = torch.randperm(n, generator=self.generator)
        y_perm = y[order]
        by_class = torch.sort(y_perm, stable=True).indices
        order, y_sorted = order[by_class], y_perm[by_class]
        counts = torch.bincount(y_sorted)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.arange(n) - starts[y_sorted]
        chunk = rank // self.items_per_class
        group = y_sorted * (n + 1) + chunk  # unique id of (class, chunk)
        _, group = torch.unique(group, return_inverse=True)
        key = torch.randperm(int(group.max()) + 1, generator=self.generator)[group]
        return order[torch.sort(key * (n + 1) + rank, stable=True).indices]

    def batch_indices(self):
        """The rows of each batch of one epoch (class-balanced when shuffled)."""
        if not self.shuffle:
            yield from super().batch_indices()
            return
        n, size = len(self.dataset), self.batch_size
        stop = n - n % size if self.drop_last else n
        if stop % size == 1 and n > 1:
            stop -= 1  # a training batch of one sample breaks batch normalisation
        order = self.order()
        batches = [order[start: start + size] for start in range(0, stop, size)]
        rank, world = getattr(self, "shard", (0, 1))
        if world > 1:  # as SliceLoader: every process takes its share of the batches
            per_process = max(len(batches) // world, 1)
            batches = batches[rank::world][:per_process] or batches[:1]
        yield from batches


class ClassBalancedWorkerLoader(ClassBalancedLoader, WorkerLoader):
    """A :class:`ClassBalancedLoader` whose batches are decoded by DataLoader workers.

    For streamed images (``cache="none"``): the same batches as
    :class:`ClassBalancedLoader` with the same generator, built by
    ``num_workers`` processes (see :class:`~skmm.training.WorkerLoader`).
    """


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
