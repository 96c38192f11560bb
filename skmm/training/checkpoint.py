"""Resumable training: a checkpoint of the whole training state after every epoch.

:class:`EpochCheckpoint` is a skorch callback that saves, after every epoch,
one file ``checkpoint.pt`` in its folder holding

* the module's and the optimiser's ``state_dict``,
* the history (as JSON),
* every random-number generator training draws from: torch's global CPU
  generator (the model's sampling, dropout ...), the CUDA generators when
  CUDA is in use, and every ``torch.Generator`` among the net's parameters
  (the shuffling generator ``iterator_train__generator``),
* the best epoch's module weights when a :class:`~skmm.training.callbacks.PlateauStopping`
  restores them at the end (``load_best``) and they are not the module's own,
* the epoch, and the *fingerprint* of the fit: the estimator's class, its
  parameters (but for those that do not change what is learned), the seeds,
  a hash of every training tensor and a hash of the initial module.

:meth:`EpochCheckpoint.resume`, called by the estimator between
``net.initialize()`` and training (inside the fit's seeded block), reads the
checkpoint, refuses it with :class:`CheckpointMismatchError` when its
fingerprint differs from this fit's, and otherwise loads every state above
into the net and returns the number of epochs left: training then goes on
exactly as the interrupted fit would have (bit for bit on the CPU at the
same number of threads). A :class:`~skmm.training.callbacks.PlateauStopping`
among the net's callbacks replays the restored history, so the resumed fit
stops at the epoch the uninterrupted one stops at; a checkpoint written at
the epoch where training stopped is complete (nothing left to train, the
best weights restored where the rule restores them).

Nothing else draws random numbers in training: splits are seeded
generators of their own (:class:`~skmm.training.RandomSplit`), the streaming
:class:`~skmm.training.WorkerLoader` gives its DataLoader a fixed generator
each epoch (its workers only decode), and no skmm module draws from numpy.

A save writes a temporary file in the folder, flushes it to disk and
renames it over the previous checkpoint (``os.replace``, atomic): a process
killed during a save leaves the previous checkpoint whole. The file loads
with ``torch.load(weights_only=True)``: reading it never runs pickled code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from skmm.exceptions import CheckpointMismatchError
from skmm.training.callbacks import PlateauStopping
from skmm.training.runtime import unwrap

__all__ = ["CHECKPOINT_FILE", "EpochCheckpoint",
           "describe_params", "hash_data", "hash_module", "read_checkpoint"]

#: The file of the checkpoint in its folder.
CHECKPOINT_FILE = "checkpoint.pt"
FORMAT = "skmm-checkpoint-1"


# ---- fingerprints ------------------------------------------------------------


def describe(value) -> str:
    """A stable, readable description of a parameter value, for fingerprints.

    Plain values by their repr (numbers normalised, lists and tuples alike,
    dicts by sorted keys, paths as strings); an estimator (an encoder) by its
    class and parameters; callables by module and qualified name; any other
    object by its type only (what it holds reaches the fingerprint through
    the data or the initial module, e.g. word vectors).
    """
    if value is None or isinstance(value, bool | str):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted((str(k), describe(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in items) + "}"
    if type(value).__name__ == "device" and type(value).__module__.startswith("torch"):
        return repr(str(value))
    if hasattr(value, "get_params") and not isinstance(value, type):  # an encoder
        return f"{type(value).__qualname__}({describe(value.get_params(deep=False))[1:-1]})"
    if callable(value) and hasattr(value, "__qualname__"):
        module = getattr(value, "__module__", None) or getattr(
            getattr(value, "__objclass__", None), "__module__", "?")
        return f"<{module}.{value.__qualname__}>"
    return f"<{type(value).__module__}.{type(value).__qualname__} object>"


def describe_params(params: Mapping, ignore=()) -> dict[str, str]:
    """:func:`describe` of every parameter but those in ``ignore``."""
    return {k: describe(v) for k, v in sorted(params.items()) if k not in ignore}


def _update_array(h, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(memoryview(array).cast("B"))


def _update_cell(h, cell) -> None:
    if isinstance(cell, bytes | bytearray):
        h.update(b"b" + bytes(cell))
    elif isinstance(cell, np.ndarray):
        h.update(b"a")
        _update_array(h, cell)
    elif hasattr(cell, "tobytes") and hasattr(cell, "mode") and hasattr(cell, "size"):
        h.update(f"p{cell.mode}{cell.size}".encode() + cell.tobytes())  # a PIL image
    elif isinstance(cell, os.PathLike):
        h.update(b"s" + os.fspath(cell).encode("utf-8", "surrogatepass"))
    else:
        h.update(b"r" + repr(cell).encode("utf-8", "surrogatepass"))
    h.update(b"\x00")


def _tensor_bytes(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the raw bits
        tensor = tensor.view(torch.int16)
    return tensor.numpy()


def hash_data(data: Mapping) -> dict[str, str]:
    """A hash of every training tensor: ``{key: "tensor:<hex>"}``.

    A lazy column (streamed images, :class:`skmm.inputs.ImageColumn`) is
    hashed by its cells (usually file paths: not the files' contents), its
    output shape and its mask of present cells: ``{key: "cells:<hex>"}``.
    """
    out = {}
    for key in sorted(data):
        column = data[key]
        h = hashlib.blake2b(digest_size=16)
        if isinstance(column, torch.Tensor):
            _update_array(h, _tensor_bytes(column))
            out[key] = "tensor:" + h.hexdigest()
            continue
        h.update(repr(tuple(getattr(column, "shape", ()))).encode())
        h.update(repr(getattr(column, "mode", None)).encode())
        present = getattr(column, "present", None)
        if present is not None:
            _update_array(h, np.asarray(present, dtype=bool))
        values = getattr(column, "values", None)
        for cell in (values if values is not None else column):
            _update_cell(h, cell)
        out[key] = "cells:" + h.hexdigest()
    return out


def hash_module(module: torch.nn.Module) -> str:
    """A hash of a module's ``state_dict`` (names, dtypes, shapes, values)."""
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in unwrap(module).state_dict().items():
        h.update(name.encode() + b"\x00")
        _update_array(h, _tensor_bytes(tensor))
    return h.hexdigest()


# ---- the file ----------------------------------------------------------------


def read_checkpoint(folder, *, mmap: bool = True) -> dict | None:
    """The checkpoint in ``folder``, or None if there is none.

    With ``mmap`` the tensors are memory-mapped, read only when used: cheap
    for a look at the epoch or the fingerprint. A restore reads them all
    (the optimiser would otherwise keep tensors mapped from the file).

    Raises
    ------
    ValueError
        The file exists but cannot be read as an skmm checkpoint.
    """
    path = Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - any reading error means the same to the user
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"cannot read the checkpoint {str(path)!r} ({why}); delete it to "
                         "train afresh, or choose another checkpoint_dir") from exc
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an skmm checkpoint of format {FORMAT!r}; "
                         "delete it to train afresh, or choose another checkpoint_dir")
    return saved


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable (POSIX); best effort
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to a checkpoint's history")


def _generators(net) -> dict[str, torch.Generator]:
    """The ``torch.Generator`` parameters of the net (e.g. ``iterator_train__generator``)."""
    return {k: v for k, v in sorted(vars(net).items()) if isinstance(v, torch.Generator)}


def _uses_cuda(net) -> bool:
    return torch.cuda.is_available() and str(getattr(net, "device", "")).startswith("cuda")


# ---- the callback ------------------------------------------------------------


class EpochCheckpoint(Callback):
    """Save the training state after every epoch; resume a fit from it.

    Parameters
    ----------
    folder : str or os.PathLike
        Where ``checkpoint.pt`` is written (created if needed).
    estimator : str
        The estimator's class name.
    params : dict of str to str
        The estimator's parameters that decide what is learned, described
        (:func:`describe_params`).
    seeds : dict of str to int
        The seeds of the fit.
    verbose : int, default=0
        Say when training resumes.

    Notes
    -----
    :meth:`resume` must run once, after ``net.initialize()`` and before
    training, inside the fit's seeded block: it completes the fingerprint
    with the hashes of the training data and of the initial module, checks
    any checkpoint against it, and restores the state. Saves then happen at
    the end of every epoch.
    """

    def __init__(self, folder, *, estimator: str, params: dict, seeds: dict, verbose: int = 0):
        self.folder = folder
        self.estimator = estimator
        self.params = params
        self.seeds = seeds
        self.verbose = verbose

    @property
    def path(self) -> Path:
        return Path(self.folder) / CHECKPOINT_FILE

    # ---- checking ----------------------------------------------------------
    def _mismatch(self, saved: dict, fingerprint: dict) -> list[str]:
        """What differs between the checkpoint ``saved`` and this fit's fingerprint."""
        old = saved["fingerprint"]
        if old["estimator"] != fingerprint["estimator"]:
            return [f"it was made by {old['estimator']}, not {fingerprint['estimator']}"]
        reasons = []
        params = sorted(set(old["params"]) | set(fingerprint["params"]))
        changed = [f"{k}={fingerprint['params'].get(k, '(none)')} "
                   f"(checkpoint: {old['params'].get(k, '(none)')})"
                   for k in params if old["params"].get(k) != fingerprint["params"].get(k)]
        if changed:
            reasons.append("other parameters: " + ", ".join(changed))
        if old["seeds"] != fingerprint["seeds"]:
            reasons.append(f"other seeds drawn from random_state ({fingerprint['seeds']}; "
                           f"checkpoint: {old['seeds']})")
        keys = sorted(set(old["data"]) | set(fingerprint["data"]))
        differ = [k for k in keys if old["data"].get(k) != fingerprint["data"].get(k)]
        kinds = {k for k in differ
                 if {str(old["data"].get(k)).split(":")[0],
                     str(fingerprint["data"].get(k)).split(":")[0]} == {"tensor", "cells"}}
        if kinds:
            reasons.append(f"{sorted(kinds)} streamed in one fit and decoded in memory in the "
                           "other (use the same cache and memory_budget)")
        if set(differ) - kinds:
            reasons.append(f"other training data (in {sorted(set(differ) - kinds)})")
        if old["module"] != fingerprint["module"] and not reasons:
            reasons.append("another initial model (e.g. other word vectors)")
        return reasons

    def resume(self, net, data: Mapping) -> int | None:
        """Check and restore the checkpoint into the initialised ``net``.

        Parameters
        ----------
        net : skorch.NeuralNet
            Initialised, not trained yet.
        data : dict of str to tensor
            The training data (all of it: the net splits off validation rows).

        Returns
        -------
        int or None
            The epochs left to train: None when there is no checkpoint (train
            ``max_epochs``), 0 when the checkpoint is already complete (at
            ``max_epochs``, or where a ``PlateauStopping`` stopped).

        Raises
        ------
        CheckpointMismatchError
            The checkpoint is of other parameters, seeds, data or model.
        ValueError
            The checkpoint is unreadable, or further than ``max_epochs``.
        """
        folder = Path(self.folder)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"checkpoint_dir={str(self.folder)!r} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f".{CHECKPOINT_FILE}.*.tmp"):  # left by a killed save
            stale.unlink(missing_ok=True)
        self.fingerprint_ = {"estimator": self.estimator, "params": dict(self.params),
                             "seeds": dict(self.seeds), "data": hash_data(data),
                             "module": hash_module(net.module_)}
        saved = read_checkpoint(folder, mmap=False)
        if saved is None:
            return None
        reasons = self._mismatch(saved, self.fingerprint_)
        if reasons:
            raise CheckpointMismatchError(
                f"checkpoint_dir={str(self.folder)!r} holds the checkpoint of another fit: "
                + "; ".join(reasons) + ". Fit with the parameters and data it was made with "
                "to resume it, or choose another checkpoint_dir (or delete "
                f"{str(self.path)!r}) to train afresh")
        epoch = int(saved["epoch"])
        if epoch > net.max_epochs:
            raise ValueError(f"the checkpoint in {str(self.folder)!r} is at epoch {epoch}, "
                             f"beyond max_epochs={net.max_epochs}; raise max_epochs, or choose "
                             "another checkpoint_dir")
        self._restore(net, saved)
        stopped = _restore_stopping(net, saved.get("best_module"))
        if self.verbose:
            print(f"Resuming from epoch {epoch} of {max(net.max_epochs, epoch)} "
                  f"({self.path})" + (": training had stopped there" if stopped else ""))
        return 0 if stopped else net.max_epochs - epoch

    @staticmethod
    def _restore(net, saved: dict) -> None:
        unwrap(net.module_).load_state_dict(saved["module"])
        net.optimizer_.load_state_dict(saved["optimizer"])
        net.history_ = History(json.loads(saved["history"]))
        _restore_best_scores(net)
        rng = saved["rng"]
        torch.set_rng_state(rng["torch"].clone())
        if rng.get("cuda") is not None and _uses_cuda(net):
            for index, cuda_state in enumerate(rng["cuda"][:torch.cuda.device_count()]):
                torch.cuda.set_rng_state(cuda_state.clone(), device=index)
        generators = _generators(net)
        for name, state in rng["generators"].items():
            if name in generators:
                generators[name].set_state(state.clone())

    # ---- saving ------------------------------------------------------------
    def state(self, net) -> dict:
        """Everything a resumed fit needs, after the epoch just ended."""
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint_,
            "epoch": len(net.history),
            "module": unwrap(net.module_).state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "history": json.dumps(list(net.history), default=_json_default),
            "best_module": _best_weights(net),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if _uses_cuda(net) else None,
                    "generators": {k: g.get_state() for k, g in _generators(net).items()}},
            "device": str(net.device),
            "versions": {"torch": str(torch.__version__)},
        }

    def on_epoch_end(self, net, **kwargs):
        if not hasattr(self, "fingerprint_"):
            raise RuntimeError("EpochCheckpoint.resume must run before training")
        _atomic_save(self.state(net), self.path)


def _stopper(net) -> PlateauStopping | None:
    return next((cb for _, cb in net.callbacks_ if isinstance(cb, PlateauStopping)), None)


def _best_weights(net) -> dict | None:
    """The best epoch's weights a ``load_best`` stopper keeps, unless they are the module's.

    Called when an epoch ends, before the stopper has counted that epoch
    (it comes after the checkpoint among the callbacks, so that the epoch
    where it stops is saved): when the epoch just ended is the best, the
    module saved is the best; otherwise the stopper's copy is.
    """
    stopper = _stopper(net)
    if stopper is None or not stopper.load_best:
        return None
    probe = copy.copy(stopper)  # replayed apart: the stopper's own count goes on
    probe.replay(net.history)
    if probe.lowest_epoch_ == net.history[-1, "epoch"]:
        return None
    return stopper.best_model_weights_


def _restore_stopping(net, best_module) -> bool:
    """Replay the restored history in the net's stopper; whether training had stopped.

    Its best weights (``load_best``) are handed back for the epochs to come;
    when nothing is left to train (stopped, or at ``max_epochs``), they are
    loaded into the module, as the uninterrupted fit ends.
    """
    stopper = _stopper(net)
    if stopper is None:
        return False
    probe = copy.copy(stopper)
    stopped = probe.replay(net.history_)
    if not stopper.load_best:
        return stopped
    if best_module is None:  # the last epoch saved was the best
        best_module = copy.deepcopy(net.module_.state_dict())
    stopper.restore_best(best_module)
    if (stopped or len(net.history_) >= net.max_epochs) \
            and probe.lowest_epoch_ != net.history_[-1, "epoch"]:
        net.module_.load_state_dict(best_module)
    return stopped


def _restore_best_scores(net) -> None:
    """Give skorch's scoring callbacks the best score of the restored epochs.

    ``PassthroughScoring`` (``train_loss``, ``valid_loss``) keeps its best so
    far in ``best_score_``, which ``initialize`` resets; without this, the
    first resumed epoch would always be marked ``*_best``, unlike the
    uninterrupted fit.
    """
    for _, callback in net.callbacks_:
        name = getattr(callback, "name", None)
        if not isinstance(name, str) or not hasattr(callback, "best_score_"):
            continue
        scores = [row.get(name) for row in net.history_ if row.get(name) is not None]
        if scores:
            best = min(scores) if callback.lower_is_better else max(scores)
            callback.best_score_ = best
