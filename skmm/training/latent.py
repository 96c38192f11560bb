"""Callbacks for variational latents: KL warm-up and per-epoch collapse diagnostics.

* :class:`KLWarmup` raises the weight of a module's KL term from 0 to 1 over
  the first epochs (Bowman et al. 2016), so that the decoders learn to use
  the latent before the prior pulls it in.
* :class:`LatentDiagnostics` measures, after every epoch, the KL per latent
  dimension and the active units (Burda et al. 2016) of the posterior that
  ``transform`` returns (eval mode) on up to ``n_rows`` training rows, and
  records them in the history as ``kl_per_dim`` and ``active_units``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from skorch.callbacks import Callback

from skmm.metrics import active_units, kl_per_dimension
from skmm.training.runtime import unwrap

__all__ = ["KLWarmup", "LatentDiagnostics"]


class KLWarmup(Callback):
    """Ramp ``module.kl_weight`` linearly from ``1 / (epochs + 1)`` to 1.

    Parameters
    ----------
    epochs : int
        Epochs of the ramp; from epoch ``epochs + 1`` on the weight is 1.
    """

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # 1-based: skorch appended this epoch's row
        unwrap(net.module_).kl_weight = min(1.0, epoch / (self.epochs + 1))

    def on_train_end(self, net, **kwargs):
        unwrap(net.module_).kl_weight = 1.0


class LatentDiagnostics(Callback):
    """Record ``kl_per_dim`` (a list) and ``active_units`` (an int) after each epoch.

    Parameters
    ----------
    posterior : callable
        ``posterior(module, batch) -> (mu, logvar)``.
    n_rows : int, default=1024
        The first training rows measured (all of them when fewer).
    threshold : float, default=0.01
        A latent dimension is active when the variance of its posterior
        mean across rows exceeds it.
    """

    def __init__(self, posterior: Callable, n_rows: int = 1024, threshold: float = 0.01):
        self.posterior = posterior
        self.n_rows = n_rows
        self.threshold = threshold

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        if dataset_train is None:
            return
        rows = dataset_train
        if len(rows) > self.n_rows:
            rows = rows.take(torch.arange(self.n_rows))
        module = unwrap(net.module_)
        was_training = module.training
        module.eval()
        mus, logvars = [], []
        try:
            with torch.inference_mode():
                for batch, _ in net.get_iterator(rows, training=False):
                    mu, logvar = self.posterior(module, net.to_device(batch))
                    mus.append(mu.float())
                    logvars.append(logvar.float())
        finally:
            module.train(was_training)
        mu = torch.cat(mus).cpu().numpy().astype(np.float64)
        logvar = torch.cat(logvars).cpu().numpy().astype(np.float64)
        kl = kl_per_dimension(mu, logvar)
        net.history.record("kl_per_dim", [round(float(v), 6) for v in kl])
        net.history.record("active_units", int(active_units(mu, self.threshold)))
