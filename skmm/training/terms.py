"""Loss-term bookkeeping for the training loop: one host sync per epoch.

A skmm module returns its loss terms for each batch (a dict of scalar tensors
whose ``"loss"`` entry is optimised). :class:`~skmm.training.MultimodalNet`
puts them in skorch's step dict (``step["loss_terms"]``); its
``on_batch_end`` hook adds them, weighted by the batch size, into an
:class:`EpochLossTerms` that keeps the sums on the device; its
``on_epoch_end`` hook copies everything to the host at once, checks that
every term is finite, and writes the history: ``train_<term>`` /
``valid_<term>`` per epoch and the per-batch ``train_loss`` / ``valid_loss``
that skorch's ``PassthroughScoring`` callbacks average.

skorch's ``NeuralNet.run_single_epoch`` calls ``step["loss"].item()`` for every
batch, which on a tensor waits for the device to finish the batch (a stall
per batch on a GPU). The nets therefore put a :class:`DeferredLoss` in the
step: its ``item()`` returns a NaN placeholder at once; ``on_batch_end``
removes that placeholder from the batch's history row before any callback
sees it, and ``on_epoch_end`` writes the real per-batch values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from skmm.exceptions import NonFiniteLossError

__all__ = ["DeferredLoss", "EpochLossTerms"]

PHASES = ("train", "valid")


class DeferredLoss:
    """A batch's objective in skorch's step dict, read without waiting for the device.

    ``item()`` returns NaN, a placeholder that the net removes from the batch's
    history row in its ``on_batch_end`` hook and replaces by the real value at
    the end of the epoch (see :mod:`skmm.training.terms`). ``float(loss)``
    reads the real value, waiting for the device.

    Parameters
    ----------
    value : torch.Tensor
        The batch's objective, a detached scalar tensor.
    """

    __slots__ = ("value",)

    def __init__(self, value: torch.Tensor):
        self.value = value

    def item(self) -> float:
        """NaN: a placeholder that does not wait for the device."""
        return math.nan

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self):
        return f"DeferredLoss({self.value!r})"


class EpochLossTerms:
    """The sums of the loss terms of one epoch, kept on the device.

    For each phase (``"train"``, ``"valid"``): the size-weighted sum of every
    term, the objective of every batch and the batch sizes.
    """

    def __init__(self):
        self.sums: dict[str, dict[str, torch.Tensor]] = {p: {} for p in PHASES}
        self.losses: dict[str, list[torch.Tensor]] = {p: [] for p in PHASES}
        self.sizes: dict[str, list[int]] = {p: [] for p in PHASES}

    def add(self, prefix: str, terms: Mapping[str, torch.Tensor], size: int):
        """Add one batch's terms (no host sync)."""
        sums = self.sums[prefix]
        for name, value in terms.items():
            value = value.detach().float() * size
            sums[name] = sums[name] + value if name in sums else value
        self.losses[prefix].append(terms["loss"].detach().float())
        self.sizes[prefix].append(size)

    def _to_host(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        # every phase's sums and batch objectives in one copy to the host
        phases = [p for p in PHASES if self.sizes[p]]
        parts = []
        for p in phases:
            parts += [torch.stack(list(self.sums[p].values())), torch.stack(self.losses[p])]
        if not parts:
            return {}
        host = torch.cat(parts).cpu().numpy()
        out, start = {}, 0
        for p in phases:
            n_terms, n_batches = len(self.sums[p]), len(self.sizes[p])
            totals = host[start: start + n_terms] / max(sum(self.sizes[p]), 1)
            losses = host[start + n_terms: start + n_terms + n_batches]
            out[p] = totals, losses
            start += n_terms + n_batches
        return out

    def write(self, history, epoch: int):
        """Copy the sums to the host (one sync) and record them in ``history``.

        Raises :class:`~skmm.exceptions.NonFiniteLossError` when a term is NaN
        or infinite, before anything is recorded.
        """
        host = self._to_host()
        for prefix, (totals, _) in host.items():
            if not np.all(np.isfinite(totals)):
                bad = [k for k, v in zip(self.sums[prefix], totals) if not np.isfinite(v)]
                raise NonFiniteLossError(
                    f"non-finite {prefix} loss term(s) {bad} in epoch {epoch}; "
                    "lower lr, or check the input data for extreme values")
        batches = history[-1]["batches"]
        for prefix, (totals, losses) in host.items():
            # the rows of this phase's batches: skorch recorded their sizes
            rows = [row for row in batches if prefix + "_batch_size" in row]
            for row, loss in zip(rows, losses, strict=True):
                row[prefix + "_loss"] = float(loss)
            for name, total in zip(self.sums[prefix], totals):
                if name != "loss":
                    history.record(f"{prefix}_{name}", float(total))
