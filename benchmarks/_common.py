"""What the benchmark scripts share.

* :func:`machine`, the one-line machine description;
* :func:`refresh_rows`, which writes a results table of which only some rows
  were measured again (``--only``), keeping the others;
* :func:`plain_epoch` and :func:`epoch_overhead`, the "skorch epoch against a
  plain PyTorch loop" measurement;
* :func:`step_flops` and :func:`rnn_flops`, the floating-point operations of
  one training step (``FlopCounterMode`` plus the recurrent layers it cannot
  see into), from which the throughput scripts compute achieved FLOP/s.

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


def write_results(path, title: str, doc: str, lines: list[str], rows: list[str],
                  names: list[str], only) -> None:
    """Print and write the results file of the benchmark script ``path.stem`` at ``path``.

    The file: ``title``, the script's command and :func:`machine`, the
    protocol (the fourth paragraph of the script's docstring ``doc``),
    ``lines``, then the table ``rows`` (its header and rule first). With
    ``only`` (a run of some rows), the rows measured are replaced in the
    existing file and the rest kept (:func:`refresh_rows`, ``names``: every
    contender in table order).
    """
    text = "\n".join([f"# {title}", "", f"`python benchmarks/{path.stem}.py` on {machine()}.",
                      "", doc.split("\n\n")[3].replace("\n", " "), "", *lines, "", *rows, ""])
    print(text)
    if only:
        text = refresh_rows(path, text, rows[2:], names)
    path.write_text(text)


def refresh_rows(path, text: str, fresh_rows: list[str], names: list[str]) -> str:
    """The results file at ``path`` with the table rows in ``fresh_rows`` measured again.

    ``fresh_rows`` are markdown table rows whose first cell is a contender's
    name; ``names`` lists every contender in table order. The file's rows of
    the other contenders, its header and its notes are kept (rows of
    contenders no longer in ``names`` are dropped). Without a file (or a
    table in it), ``text``, the freshly written file, is returned.
    """
    def name(row):
        return row.split(" | ")[0].removeprefix("| ")

    if not path.exists():
        return text
    old = path.read_text().splitlines()
    table = [i for i, line in enumerate(old) if line.startswith("| ") and name(line) in names]
    if not table:
        return text
    rows = {name(r): r for r in fresh_rows}
    for i in table:
        rows.setdefault(name(old[i]), old[i])
    ordered = [rows[n] for n in names if n in rows]
    return "\n".join(old[:table[0]] + ordered + old[table[-1] + 1:]) + "\n"


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


GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def rnn_flops(rnn, steps: int) -> int:
    """Forward FLOPs of a recurrent layer stack over ``steps`` (row, time) pairs.

    Per step, layer and direction: ``gates x hidden x (input + hidden)``
    multiply-adds (2 FLOPs each). FlopCounterMode does not see inside the
    fused RNN kernels, so they are counted here.
    """
    total, size_in = 0, rnn.input_size
    directions = 2 if rnn.bidirectional else 1
    for _ in range(rnn.num_layers):
        total += directions * GATES[rnn.mode.split("_")[0]] * rnn.hidden_size * (
            size_in + rnn.hidden_size) * 2
        size_in = rnn.hidden_size * directions
    return total * steps


def step_flops(emb, X, batch_size: int) -> float:
    """FLOPs of one training step (forward, loss, backward) on ``batch_size`` rows, on the CPU.

    Matrix products and convolutions as FlopCounterMode counts them, plus the
    recurrent layers (forward by :func:`rnn_flops`, backward twice that).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from skmm.training import unwrap

    module = copy.deepcopy(unwrap(emb.net_.module_)).float().cpu().train()
    module.to(memory_format=torch.contiguous_format)
    batch = emb._prepare(X.iloc[:batch_size], fitting=False)
    recurrent = []

    def hook(rnn, inputs, output):
        data = inputs[0]
        if isinstance(data, torch.nn.utils.rnn.PackedSequence):
            steps = data.data.shape[0]
        else:
            steps = data.shape[0] * data.shape[1] if data.dim() == 3 else data.shape[0]
        recurrent.append(rnn_flops(rnn, steps))

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, torch.nn.RNNBase)]
    counter = FlopCounterMode(display=False)
    with counter:
        loss = module.loss_terms(module(**batch), batch)["loss"]
        loss.backward()
    for handle in handles:
        handle.remove()
    return float(counter.get_total_flops()) + 3 * sum(recurrent)
