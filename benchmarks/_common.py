"""What the benchmark scripts share.

* :func:`machine`, the one-line machine description;
* :func:`plain_epoch` and :func:`epoch_overhead`, the "skorch epoch against a
  plain PyTorch loop" measurement.

The scripts import this module as ``_common``, with their own folder on
``sys.path`` (it is there when a script runs as ``python benchmarks/x.py``;
the scripts also insert it, so that they import from anywhere).
"""

from __future__ import annotations

import copy
import os
import platform
import statistics
import time


def machine() -> str:
    """CPU, core count, torch version and threads, GPU, Python: one line."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}, "
            f"Python {platform.python_version()}")


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_epoch(module, optimizer, data, batch_size, generator, device):
    """One epoch of the reference loop: shuffled slices, forward, loss, step."""
    import torch

    n = len(data["image"])
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        idx = order[start: start + batch_size]
        batch = {k: v[idx] if k == "lengths" else v[idx].to(device) for k, v in data.items()}
        optimizer.zero_grad()
        loss = module.loss_terms(module(**batch), batch)["loss"]
        loss.backward()
        optimizer.step()
    _sync(device)


def epoch_overhead(emb, data, epochs, *, dataset=None, plain=None) -> dict:
    """Median epoch time through skorch against a plain loop, epochs interleaved.

    Both train copies of the fitted module of ``emb`` (a fitted skmm
    embedder with ``_make_net``, ``lr`` and ``batch_size``): skorch through
    ``emb._make_net(...).partial_fit``, the plain loop with its own Adam of
    the same learning rate. Epochs of the two alternate so that machine
    drift hits both alike; the first epoch of each is a warm-up.

    Parameters
    ----------
    emb : fitted embedder
    data : dict of str to torch.Tensor
        The prepared tensors (``emb._prepare(X, fitting=False)``).
    epochs : int
        Timed epochs of each (after the warm-up).
    dataset : torch Dataset, optional
        What skorch trains on; ``TensorDict(data)`` by default.
    plain : callable, optional
        ``plain(module, optimizer, device)`` runs one epoch of the reference
        loop; by default :func:`plain_epoch` over ``data`` in shuffled slices
        of ``emb.batch_size`` (a generator seeded 0).

    Returns
    -------
    dict
        ``skorch_epoch_s`` and ``plain_epoch_s`` (medians), their ``ratio``,
        the per-epoch times ``skorch_s`` and ``plain_s``, and ``device``.
    """
    import torch

    from skmm.training import TensorDict

    template = copy.deepcopy(emb.net_.module_).cpu()
    net = emb._make_net(copy.deepcopy(template), shuffle_seed=0)
    net.initialize()
    device = str(net.device)
    ref = copy.deepcopy(template).to(net.device).train()
    opt = torch.optim.Adam(ref.parameters(), lr=emb.lr)
    if dataset is None:
        dataset = TensorDict(data)
    if plain is None:
        gen = torch.Generator().manual_seed(0)

        def plain(module, optimizer, device):
            plain_epoch(module, optimizer, data, emb.batch_size, gen, device)

    skorch_s, plain_s = [], []
    for epoch in range(epochs + 1):  # the first epoch of each is a warm-up
        t = time.perf_counter()
        net.partial_fit(dataset, epochs=1)
        _sync(device)
        s = time.perf_counter() - t
        t = time.perf_counter()
        plain(ref, opt, device)
        p = time.perf_counter() - t
        if epoch:
            skorch_s.append(s)
            plain_s.append(p)
    skorch_med, plain_med = statistics.median(skorch_s), statistics.median(plain_s)
    return {"skorch_epoch_s": skorch_med, "plain_epoch_s": plain_med,
            "ratio": skorch_med / plain_med, "skorch_s": skorch_s, "plain_s": plain_s,
            "device": device}
