"""skorch glue shared by every skmm model.

:mod:`skmm.training.data` holds the data side (:class:`TensorDict`, the
loaders, the splits), :mod:`skmm.training.net` the ``NeuralNet`` subclasses
(:class:`MultimodalNet`, :class:`AcceleratedMultimodalNet`),
:mod:`skmm.training.terms` the per-epoch loss-term bookkeeping and
:mod:`skmm.training.runtime` the device, seeding and ``torch.compile`` helpers.
"""

from skmm.training.data import (
    ClassBalancedLoader,
    ClassBalancedWorkerLoader,
    FixedSplit,
    PreparedData,
    RandomSplit,
    SliceLoader,
    TensorDict,
    WorkerLoader,
)
from skmm.training.net import AcceleratedMultimodalNet, MultimodalNet
from skmm.training.runtime import resolve_device, torch_seed, torch_threads, unwrap

__all__ = [
    "AcceleratedMultimodalNet",
    "ClassBalancedLoader",
    "ClassBalancedWorkerLoader",
    "FixedSplit",
    "MultimodalNet",
    "PreparedData",
    "RandomSplit",
    "SliceLoader",
    "TensorDict",
    "WorkerLoader",
    "resolve_device",
    "torch_seed",
    "torch_threads",
    "unwrap",
]
