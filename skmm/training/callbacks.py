"""Training that stops when it has learned: :class:`PlateauStopping`.

skorch's :class:`~skorch.callbacks.EarlyStopping` does the work (a monitored
history key, a patience, a relative threshold, the best weights kept in
memory and restored at the end). What it cannot do, and this subclass adds:

* a minimum number of epochs before it may stop (``min_epochs``): the
  losses of these models may stall for a few epochs early on (a VAE's KL
  term pulling the latent to the prior before the decoders use it) and
  then fall again;
* a state that is a function of the history: :meth:`PlateauStopping.replay`
  recomputes ``misses_``, ``dynamic_threshold_`` and ``best_epoch_`` from
  the recorded epochs. skorch resets them in ``on_train_begin``, so a fit
  resumed from a checkpoint (:mod:`skmm.training.checkpoint`) would count
  its patience afresh and stop later than the uninterrupted fit; replaying
  the restored history makes it stop at the same epoch. The best weights
  (``load_best``) are not in the history: the checkpoint saves them and
  hands them back with :meth:`PlateauStopping.restore_best`.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from skorch.callbacks import EarlyStopping
from skorch.utils import noop

__all__ = ["PlateauStopping"]


class PlateauStopping(EarlyStopping):
    """Stop training when the monitored loss has stopped improving.

    An epoch improves when its ``monitor`` value is below the best so far
    by more than ``threshold`` (a fraction of the best with
    ``threshold_mode="rel"``). Training stops after ``patience`` epochs in
    a row without improvement, but never before epoch ``min_epochs``.

    Parameters
    ----------
    monitor : str, default="train_loss"
        The history key watched (lower is better).
    patience : int, default=5
        Epochs without improvement before stopping.
    threshold : float, default=0.01
        The least improvement that counts.
    threshold_mode : {"rel", "abs"}, default="rel"
    min_epochs : int, default=0
        Epochs trained at least, whatever the loss does.
    load_best : bool, default=False
        Restore at the end the module's weights of the epoch with the lowest
        ``monitor`` value (``lowest_epoch_``; skorch restores those of
        ``best_epoch_``, the last improvement by ``threshold``, which a
        smaller later improvement may beat).
    sink : callable, default=skorch.utils.noop
        Where the messages go (with ``verbose``).

    Attributes
    ----------
    misses_, dynamic_threshold_, best_epoch_ :
        As in skorch's ``EarlyStopping`` (``best_epoch_``: the last epoch
        that improved by ``threshold``).
    lowest_, lowest_epoch_ : float, int
        The lowest ``monitor`` value and its epoch.
    stopped_epoch_ : int or None
        The epoch after which training stopped early, or None.
    """

    def __init__(self, monitor="train_loss", patience=5, threshold=0.01, threshold_mode="rel",
                 min_epochs=0, load_best=False, sink=noop):
        super().__init__(monitor=monitor, patience=patience, threshold=threshold,
                         threshold_mode=threshold_mode, lower_is_better=True, sink=sink,
                         load_best=load_best)
        self.min_epochs = min_epochs

    # ---- the rule ----------------------------------------------------------
    def _observe(self, score: float, epoch: int) -> bool:
        """Count one epoch's ``score``; whether it is the lowest so far."""
        lowest = score < self.lowest_
        if lowest:
            self.lowest_, self.lowest_epoch_ = score, epoch
        if self._is_score_improved(score):
            self.misses_ = 0
            self.dynamic_threshold_ = self._calc_new_threshold(score)
            self.best_epoch_ = epoch
        else:
            self.misses_ += 1
        return lowest

    def _done(self, epoch: int) -> bool:
        return self.misses_ >= self.patience and epoch >= self.min_epochs

    def replay(self, history) -> bool:
        """Recompute the state from the epochs of ``history``; whether it says stop.

        Parameters
        ----------
        history : skorch.history.History
            The epochs trained so far (e.g. restored from a checkpoint).

        Returns
        -------
        bool
            True when the rule would have stopped training at the last epoch.
        """
        self.misses_ = 0
        self.dynamic_threshold_ = np.inf
        self.best_epoch_ = 0
        self.lowest_, self.lowest_epoch_ = np.inf, 0
        self.stopped_epoch_ = None
        for row in history:
            if row.get(self.monitor) is not None:
                self._observe(row[self.monitor], row["epoch"])
        epoch = history[-1]["epoch"] if len(history) else 0
        if len(history) and self._done(epoch):
            self.stopped_epoch_ = epoch
        return self.stopped_epoch_ is not None

    def restore_best(self, weights) -> None:
        """Give back the best epoch's weights of a restored fit (``load_best``)."""
        self._restored_weights = weights

    def __getstate__(self):
        state = super().__getstate__()  # without best_model_weights_
        state.pop("_restored_weights", None)
        return state

    # ---- skorch's hooks ----------------------------------------------------
    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.replay(net.history)  # a fresh fit: empty
        if self.load_best and len(net.history):
            self.best_model_weights_ = getattr(self, "_restored_weights", None)
        self._restored_weights = None

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1, "epoch"]
        if self._observe(net.history[-1, self.monitor], epoch) and self.load_best:
            self.best_model_weights_ = deepcopy(net.module_.state_dict())
        if self._done(epoch):
            self.stopped_epoch_ = epoch
            self._sink(f"Stopping after epoch {epoch}: {self.monitor} has not improved by "
                       f"{self.threshold:g} ({self.threshold_mode}) in {self.patience} "
                       "epochs.", verbose=net.verbose)
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        if (self.load_best and self.best_model_weights_ is not None
                and self.lowest_epoch_ != net.history[-1, "epoch"]):
            net.module_.load_state_dict(self.best_model_weights_)
            self._sink(f"Restored the weights of epoch {self.lowest_epoch_} (lowest "
                       f"{self.monitor}).", verbose=net.verbose)
