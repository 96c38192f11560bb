"""Labels and pairs: a supervised common space that also keeps which name goes with which glyph.

    python benchmarks/labels_and_pairs.py [--only NAME,...]

(``--only``: the named rows (prefixes) are measured and replaced in the
results file.)

The protocol of the labels-and-pairs issue: ``load_emoji(image_size=224)``
(1,914 glyphs, their English and Chinese names, 9 groups), 3-fold
``StratifiedKFold(shuffle=True, random_state=0)`` on the groups, 2 torch
threads. Each space is ``CommonSpaceEmbedder(...).fit(X, group)`` on two
folds (its modalities' default encoders: ``ImageTower`` and ``TextTower``),
at its defaults unless the row says otherwise. In the same fitted space:
macro-F1 of the better (by its fold mean) of a LogisticRegression and a
LinearSVC on the standardised embedding (``transform``: both modalities)
of the held-out rows (the heads of ``python -m skmm benchmark``); then
every held-out glyph ranks the ~638 held-out English names (``embed``:
each modality on its own) and the rank of its own name gives R@1 and R@10
(chance R@10 = 0.016); "R@10, both names": a hit on the glyph's English or
Chinese name (the gallery holds both, ~1,276 names: chance 0.031). "fit"
is the mean fit time of a fold with the towers' features already cached
(computed once per process, before the table). Baseline: the towers'
features side by side, standardised, with a LogisticRegression (F1 only).
Writes ``benchmarks/results/labels_and_pairs.md`` with the machine line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import write_results  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from skmm import CommonSpaceEmbedder  # noqa: E402
from skmm._comparison_runner import HEADS, LINEAR_HEADS  # noqa: E402
from skmm.datasets import load_emoji  # noqa: E402
from skmm.encoders import ImageTower, TextTower  # noqa: E402
from skmm.metrics import recall_at_k  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
#: The common space's seed and threads; its modalities' default encoders are the towers.
SEEDED = dict(random_state=0, n_threads=THREADS)
#: The image read from the tower's head alone (``ImageTower(layers="head")``, the default
#: before the stages).
HEAD = {"image": ("image", ImageTower(layers="head")), "text": "text"}


def contenders():
    """(name, the space's factory or None for the towers' baseline, target)."""
    target = "F1 >= 0.84, R@10 >= 0.45"
    return [
        ("towers side by side + LR", None, "0.838 (issue)"),
        ("common space (labels), pair_weight=0", lambda: CommonSpaceEmbedder(
            pair_weight=0, **SEEDED), "-"),
        ("common space (labels), pair_weight=0, ImageTower(layers='head')",
         lambda: CommonSpaceEmbedder(modalities=HEAD, pair_weight=0, **SEEDED),
         "before: 0.830 / 0.123 (issue)"),
        ("common space (labels + pairs), defaults", lambda: CommonSpaceEmbedder(**SEEDED),
         target),
        ("common space (labels + pairs), pair_weight=1", lambda: CommonSpaceEmbedder(
            pair_weight=1, **SEEDED), target),
        ("common space (labels + pairs), pair_weight=4", lambda: CommonSpaceEmbedder(
            pair_weight=4, **SEEDED), target),
        ("common space (labels + pairs), pair_weight=2, lr=3e-4", lambda: CommonSpaceEmbedder(
            pair_weight=2, lr=3e-4, **SEEDED), target),
        ("common space (labels + pairs), hidden_size=512", lambda: CommonSpaceEmbedder(
            hidden_size=512, **SEEDED), target),
        ("common space (labels + pairs), ImageTower(layers='head')",
         lambda: CommonSpaceEmbedder(modalities=HEAD, **SEEDED), target),
        ("common space (pairs only: fit(X), no labels)", lambda: Unlabelled(**SEEDED), "-"),
        ("common space (pairs only), ImageTower(layers='head')",
         lambda: Unlabelled(modalities=HEAD, **SEEDED), "-"),
    ]


class Unlabelled(CommonSpaceEmbedder):
    """The common space fitted on the pairs alone (``fit(X)``: y is dropped)."""

    def fit(self, X, y=None):
        return super().fit(X)


def towers_features(X):
    """The two towers' features side by side (cached per cell after the first call)."""
    return np.hstack([ImageTower("image", n_threads=THREADS).fit_transform(X),
                      TextTower("text", n_threads=THREADS).fit_transform(X)])


def f1_of_heads(Z_train, y_train, Z_test, y_test, heads=LINEAR_HEADS) -> dict:
    return {h: f1_score(y_test, HEADS[h](0).fit(Z_train, y_train).predict(Z_test),
                        average="macro") for h in heads}


def evaluate(make, X, y, folds) -> dict:
    """Fold means: F1 per head, image -> name R@1 / R@10, R@10 with both names, fit seconds."""
    records = []
    for train, test in folds:
        train_X, held = X.iloc[train], X.iloc[test]
        if make is None:
            Z = towers_features(X)
            records.append({**f1_of_heads(Z[train], y[train], Z[test], y[test],
                                          heads=("LogisticRegression",)), "fit": 0.0})
            continue
        start = time.perf_counter()
        space = make().fit(train_X, y[train])
        seconds = time.perf_counter() - start
        record = {**f1_of_heads(space.transform(train_X), y[train], space.transform(held),
                                y[test]), "fit": seconds}
        image, en = space.embed(held, "image"), space.embed(held, "text")
        zh = space.embed(held.assign(text=held["text_zh"]), "text")
        ids = np.arange(len(held))
        record.update({"R@1": recall_at_k(image, en, k=1), "R@10": recall_at_k(image, en, k=10),
                       "R@10 both": recall_at_k(image, np.vstack([en, zh]), k=10,
                                                query_items=ids,
                                                gallery_items=np.concatenate([ids, ids]))})
        records.append(record)
        print(f"    fold: {record}", flush=True)
    return {k: float(np.mean([r[k] for r in records])) for k in records[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names (prefixes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    X = load_emoji(image_size=224)
    y = X["group"].to_numpy(dtype=object)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    start = time.perf_counter()
    towers_features(X)
    ImageTower("image", layers="head", n_threads=THREADS).fit_transform(X)
    first = time.perf_counter() - start
    rows = ["| method | macro-F1 (better head) | LR | LinearSVC | image → name R@1 | R@10 "
            "| R@10, both names | target | fit per fold |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for name, make, target in contenders():
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        print(name, flush=True)
        r = evaluate(make, X, y, folds)
        heads = {h: r[h] for h in LINEAR_HEADS if h in r}

        def cell(key, r=r):
            return f"{r[key]:.3f}" if key in r else "-"

        rows.append(f"| {name} | {max(heads.values()):.3f} | {cell('LogisticRegression')} | "
                    f"{cell('LinearSVC')} | {cell('R@1')} | {cell('R@10')} | "
                    f"{cell('R@10 both')} | {target} | "
                    + (f"{r['fit']:.1f} s |" if make is not None else "- |"))
        print(rows[-1], flush=True)
    write_results(RESULTS / "labels_and_pairs.md",
                  "Labels and pairs: the supervised space's classes and pairing", __doc__,
                  [f"The towers' features of the 1,914 glyphs (the image's at both `layers`), "
                   f"computed once before the table: {first:.0f} s."],
                  rows, [c[0] for c in contenders()], args.only)


if __name__ == "__main__":
    main()
