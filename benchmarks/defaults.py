"""The embedders at their defaults, before and after the defaults became the towers.

    python benchmarks/defaults.py [--only NAME,...]

(``--only``: the named rows are measured and replaced in the results file.)

Each embedder twice, in one run: with the encoders that were its defaults
until the towers issue (the trained CNN, and CRVAE's recurrent encoder,
MMEDA's TF-IDF matrix, the common space's mean Word2Vec vectors, all
trained in fit) and at today's defaults (the frozen pretrained towers,
``image_encoder="efficientnet_lite0", text_encoder="use"``, with
``max_epochs="auto"`` capped at 400 optimiser steps on them). Every other
parameter is at its default but ``n_components=32`` (the comparison's
width) and ``random_state=0``. The protocol of ``towers.py`` (whose
``evaluate`` this script calls): ``load_emoji(image_size=128)``, the 9
groups, 3-fold stratified cross-validation (shuffled, seed 0), 2 torch
threads; macro-F1 of the better of LogisticRegression and LinearSVC on the
standardised held-out embedding, KMeans NMI. "fit per fold" is the mean
time to fit on two folds and embed the third; the towers' features are
computed once per process before the first row (the time is reported
apart: a second fit, a cross-validation fold or a grid-search candidate
reads them from the cache). Writes ``benchmarks/results/defaults.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine, refresh_rows  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from towers import _cell, _features, evaluate  # noqa: E402

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder  # noqa: E402
from skmm.datasets import load_emoji  # noqa: E402
from skmm.encoders import ConvEncoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
COMMON = dict(n_components=32, random_state=0, n_threads=THREADS)
SPACE = dict(modalities={"image": "image", "en": "text"}, **COMMON)


def contenders():
    """(name, estimator, supervised)."""
    return [
        ("CRVAE, before (CNN + GRU, trained)",  # its CNN read 64 pixels
         CRVAEEmbedder(image_encoder=ConvEncoder(image_size=64), text_encoder="recurrent",
                       **COMMON), False),
        ("CRVAE, today (towers)", CRVAEEmbedder(**COMMON), False),
        ("MMEDA-II, before (CNN + TF-IDF)",
         MMEDAEmbedder(image_encoder="cnn", text_encoder="tfidf", **COMMON), False),
        ("MMEDA-II, today (towers)", MMEDAEmbedder(**COMMON), False),
        ("common space, before (CNN + mean Word2Vec)",
         CommonSpaceEmbedder(**{**SPACE, "modalities": {"image": ("image", "cnn"),
                                                        "en": ("text", "mean")}}), True),
        ("common space, today (towers)", CommonSpaceEmbedder(**SPACE), True),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names (prefixes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    X = load_emoji(image_size=128)
    y = X["group"].to_numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    start = time.perf_counter()
    _features(X)  # fills the per-process cache that every tower row reads
    first = time.perf_counter() - start
    print(f"towers' features of {len(X)} rows: {first:.1f} s", flush=True)
    only = None if args.only is None else [s.strip() for s in args.only.split(",")]
    rows, names = [], []
    for name, est, supervised in contenders():
        names.append(name)
        if only is not None and not any(name.startswith(o) for o in only):
            continue
        records = evaluate("embedder", (est, supervised), X, y, None, folds)
        seconds = np.mean([r["seconds"] for r in records])
        rows.append(f"| {name} | {_cell(records, 'f1')} | {_cell(records, 'lr')} "
                    f"| {_cell(records, 'nmi')} | {seconds:.1f} s |")
        print(rows[-1], flush=True)
    header = ["# The embedders' defaults: before and after the towers", "",
              f"`python benchmarks/defaults.py` on {machine()}.", "",
              "Emoji groups, 3 folds, `n_components=32`, every other parameter at its "
              "default but the encoders (see the script's docstring). The towers' "
              f"features of the {len(X):,} rows took {first:.1f} s once, before the first "
              "row; each tower row's fit reads them from the cache.", "",
              "| embedder | macro-F1 (better head) | LogisticRegression | KMeans NMI "
              "| fit per fold |", "| --- | ---: | ---: | ---: | ---: |"]
    text = "\n".join([*header, *rows, ""])
    path = RESULTS / "defaults.md"
    if only is not None:
        text = refresh_rows(path, text, rows, names)
    path.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
