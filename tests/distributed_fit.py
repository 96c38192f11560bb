"""Fit skmm embedders in every process of a ``torchrun`` launch, on the CPU.

The script of ``tests/training/test_distributed.py`` and of the command in
``docs/scaling.md``::

    torchrun --standalone --nproc_per_node 2 tests/distributed_fit.py OUT crvae mmeda common pairs

Each process builds an ``accelerate.Accelerator(cpu=True)`` (gloo), fits each
named embedder (``crvae``, ``mmeda``, ``common``, ``pairs``: CRVAEEmbedder,
MMEDAEmbedder, CommonSpaceEmbedder with the pair label as ``y``, without and
with its pairing term) on
:func:`make_data` with :func:`params` and writes ``OUT/<name>-rank<r>.json``:
the process index and count, the training batches and rows of every epoch,
the history's ``train_loss``, a checksum of the final weights. Process 0 also
pickles the fitted estimator to ``OUT/<name>.pkl`` and saves its transform of
the data to ``OUT/<name>-transform.npy``. Run with plain ``python`` it fits in
one process.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np

#: Rows of the shapes data: a multiple of twice every batch size below, so
#: that no process drops a batch.
N_ROWS = 96

TINY = dict(lr=3e-3, max_epochs=4, batch_size=8, random_state=0, n_threads=1, verbose=0)


def params(name: str) -> dict:
    """Each embedder's parameters, on the trained CNN and word encoders; ``batch_size``
    is per process."""
    from skmm.encoders import ConvEncoder, MeanWordEncoder, RecurrentTextEncoder, TextMatrix

    cnn = ConvEncoder(image_size=16, channels=4)
    return {
        "crvae": dict(TINY, n_components=8, fusion_size=16, image_encoder=cnn,
                      text_encoder=RecurrentTextEncoder(hidden_size=16, vector_size=8)),
        "mmeda": dict(TINY, n_components=8, image_code=8, text_code=8, hidden_size=16,
                      fusion_size=16, image_encoder=cnn, text_encoder=TextMatrix()),
        # the class terms alone (pair_weight=0), whose one-process twin is exact up to
        # batch statistics; "pairs": with the pairing term, its negatives gathered from
        # both processes
        "common": dict(TINY, n_components=8, hidden_size=16, pair_weight=0,
                       modalities={"image": ("image", cnn),
                                   "text": ("text", MeanWordEncoder(vector_size=8))}),
        "pairs": dict(TINY, n_components=8, hidden_size=16, pair_weight=2.0,
                      modalities={"image": ("image", cnn),
                                  "text": ("text", MeanWordEncoder(vector_size=8))}),
    }[name]


def make_data():
    """The shapes data every process fits: ``(X, y)``, y the 16-class pair label."""
    from skmm.datasets import make_shapes

    X = make_shapes(N_ROWS, image_size=16, label="pair", random_state=0)
    return X, X["label"].to_numpy()


def estimator(name: str, **overrides):
    """The embedder ``name`` with :func:`params` updated by ``params``."""
    from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder

    cls = {"crvae": CRVAEEmbedder, "mmeda": MMEDAEmbedder, "common": CommonSpaceEmbedder,
           "pairs": CommonSpaceEmbedder}[name]
    return cls(**{**params(name), **overrides})


def fit(emb, X, y):
    """Fit ``emb`` (``y`` only for the supervised CommonSpaceEmbedder)."""
    from skmm import CommonSpaceEmbedder

    return emb.fit(X, y) if isinstance(emb, CommonSpaceEmbedder) else emb.fit(X)


def epoch_batches(history) -> list[dict]:
    """Training batches and rows of every epoch of a skorch history."""
    out = []
    for epoch in history:
        sizes = [b["train_batch_size"] for b in epoch["batches"] if "train_batch_size" in b]
        out.append({"batches": len(sizes), "rows": int(sum(sizes))})
    return out


def main(out: Path, names: list[str]):
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    rank, world = accelerator.process_index, accelerator.num_processes
    X, y = make_data()
    for name in names:
        emb = fit(estimator(name, accelerator=accelerator), X, y)
        weights = torch.cat([p.detach().flatten() for p in emb.net_.module_.parameters()])
        record = {"rank": rank, "world": world, "epochs": epoch_batches(emb.history_),
                  "train_loss": [float(v) for v in emb.history_[:, "train_loss"]],
                  "module": type(emb.net_.module_).__name__,
                  "weights_sum": float(weights.double().sum())}
        Z = emb.transform(X)
        record["finite"] = bool(np.isfinite(Z).all())
        if rank == 0:
            # unwrapped after training: the estimator pickles as a one-process one
            (out / f"{name}.pkl").write_bytes(pickle.dumps(emb))
            np.save(out / f"{name}-transform.npy", Z)
        (out / f"{name}-rank{rank}.json").write_text(json.dumps(record))
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR NAME [NAME ...] "
                 "(names: crvae, mmeda, common, pairs)")
    main(Path(sys.argv[1]), sys.argv[2:])
