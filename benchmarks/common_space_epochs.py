"""How many epochs the common space on the towers needs: the emoji against small shapes tables.

    python benchmarks/common_space_epochs.py

The supervised common space at its defaults (both pretrained towers) but
``n_components=32`` (the comparison's width) and ``max_epochs`` 10, 20 and 40
(the default), on the emoji groups (``load_emoji(image_size=128)``, 1,914
rows) and on the pair label of ``make_shapes(n, image_size=32)`` for n = 300,
800 and 1,500; 3-fold stratified cross-validation (shuffled, seed 0), 2
torch threads, the protocol and ``evaluate`` of ``towers.py``: macro-F1 of
StandardScaler + LogisticRegression on the held-out embedding, and KMeans NMI
of the held-out embedding. Writes ``benchmarks/results/common_space_epochs.md``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from towers import _cell, _features, evaluate  # noqa: E402

from skmm import CommonSpaceEmbedder  # noqa: E402
from skmm.datasets import load_emoji, make_shapes  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
EPOCHS = (10, 20, 40)


def tables():
    emoji = load_emoji(image_size=128)
    _features(emoji)  # the towers' features once, outside the timings
    yield "emoji groups (1,914 rows)", emoji, emoji["group"].to_numpy()
    for n in (300, 800, 1500):
        shapes = make_shapes(n, image_size=32, label="pair", random_state=0)
        yield f"shapes pair label ({n:,} rows)", shapes, shapes["label"].to_numpy()


def main():
    torch.set_num_threads(THREADS)
    rows = ["| table | max_epochs | macro-F1 (LogisticRegression) | KMeans NMI | fit per fold |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for name, X, y in tables():
        folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
        for epochs in EPOCHS:
            est = CommonSpaceEmbedder(modalities={"image": "image", "en": "text"},
                                      n_components=32, max_epochs=epochs, random_state=0,
                                      n_threads=THREADS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                records = evaluate("embedder", (est, True), X, y, None, folds)
            seconds = np.mean([r["seconds"] for r in records])
            rows.append(f"| {name} | {epochs} | {_cell(records, 'lr')} | {_cell(records, 'nmi')} "
                        f"| {seconds:.1f} s |")
            print(rows[-1], flush=True)
    text = "\n".join(["# The common space on the towers: epochs against table size", "",
                      f"`python benchmarks/common_space_epochs.py` on {machine()}.", "",
                      "The supervised common space at its defaults (both towers) but "
                      "`n_components=32` and `max_epochs`; 3 folds; see the script's "
                      "docstring.", "", *rows, ""])
    (RESULTS / "common_space_epochs.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
