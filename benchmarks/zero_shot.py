"""Zero-shot: the emoji groups from their names, in a space fitted on the pairs alone.

    python benchmarks/zero_shot.py [--only NAME,...]

(``--only``: the named rows (prefixes) are measured and replaced in the
results file.)

The protocol of the labels-and-pairs issue: ``load_emoji(image_size=224)``
(1,914 glyphs and their English names), 3-fold ``KFold(shuffle=True,
random_state=0)``, 2 torch threads. On each fold a
``CommonSpaceEmbedder()`` (its modalities' default encoders, the towers) is
fitted on the other two folds' pairs of glyph and name, without labels,
once per fold and shared by the rows of the table (each row a
``ZeroShotClassifier(FrozenEstimator(space), classes=..., template=...)``);
the held-out glyphs are classified into the 9 groups by the nearest group
name (``query="image"``), or their names are (``query="text"``: the
text-only scale the issue gives, 0.41 with the sentence tower alone).
Macro-F1 and accuracy over the held-out rows, fold means (chance: macro-F1
about 0.10, the majority class's accuracy 0.20). The group names are
Unicode's ("Smileys & Emotion", ...); "short names" replaces each by a few
words of what its glyphs show (written once from the group names, not
tuned on the scores). Writes ``benchmarks/results/zero_shot.md`` with the
machine line.
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
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from skmm import CommonSpaceEmbedder, ZeroShotClassifier  # noqa: E402
from skmm.datasets import EMOJI_GROUP_DESCRIPTIONS, load_emoji  # noqa: E402
from skmm.encoders import ImageTower, TextTower  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
SHORT_NAMES = EMOJI_GROUP_DESCRIPTIONS
ENSEMBLE = ["{}", "an emoji of {}", "a picture of {}", "a {} icon"]


def contenders():
    """(name, ZeroShotClassifier parameters but the space and classes' names, target)."""
    target = "macro-F1 >= 0.35"
    return [
        ('group names, template "{}"', dict(template="{}"), target),
        ('group names, template "an emoji of {}"', dict(template="an emoji of {}"), target),
        ("group names, 4 templates averaged", dict(template=ENSEMBLE), target),
        ('short names, template "{}"', dict(template="{}", names=SHORT_NAMES), target),
        ('short names, template "an emoji of {}"', dict(template="an emoji of {}",
                                                          names=SHORT_NAMES), target),
        ("short names, 4 templates averaged", dict(template=ENSEMBLE, names=SHORT_NAMES),
         target),
        ('names -> group names, template "{}" (text only)', dict(template="{}",
                                                                  query="text"), "0.41 (issue)"),
        ('names -> short names, template "{}" (text only)', dict(template="{}", query="text",
                                                                  names=SHORT_NAMES), "-"),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names (prefixes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    X = load_emoji(image_size=224)
    y = X["group"].to_numpy(dtype=object)
    groups = sorted(set(y))
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    start = time.perf_counter()
    ImageTower("image", n_threads=THREADS).fit_transform(X)
    TextTower("text", n_threads=THREADS).fit_transform(X)
    first = time.perf_counter() - start
    chosen = [c for c in contenders()
              if not args.only or any(c[0].startswith(p) for p in args.only.split(","))]
    scores = {name: [] for name, _, _ in chosen}
    fit_seconds = []
    for train, test in folds:
        start = time.perf_counter()
        space = CommonSpaceEmbedder(random_state=0, n_threads=THREADS).fit(X.iloc[train])
        fit_seconds.append(time.perf_counter() - start)
        held = X.iloc[test]
        for name, params, _ in chosen:
            params = dict(params)
            names = params.pop("names", None)
            classes = {g: names[g] for g in groups} if names else groups
            clf = ZeroShotClassifier(FrozenEstimator(space), classes=classes, **params)
            pred = clf.fit(held, y[test]).predict(held)
            scores[name].append((f1_score(y[test], pred, average="macro"),
                                 accuracy_score(y[test], pred)))
            print(f"  {name}: {scores[name][-1]}", flush=True)
    rows = ["| classes and template | macro-F1 | accuracy | target |",
            "| --- | ---: | ---: | --- |"]
    for name, _, target in chosen:
        f1, acc = np.mean(scores[name], axis=0)
        rows.append(f"| {name} | {f1:.3f} | {acc:.3f} | {target} |")
    write_results(RESULTS / "zero_shot.md", "Zero-shot: the emoji groups from their names",
                  __doc__,
                  [f"The towers' features, computed once before the table: {first:.0f} s; "
                   f"the space's fit (the pairs of two folds): "
                   f"{np.mean(fit_seconds):.1f} s a fold.", "",
                   "Short names (`skmm.datasets.EMOJI_GROUP_DESCRIPTIONS`): "
                   + "; ".join(f"{g} → \"{n}\"" for g, n in SHORT_NAMES.items()) + ".",
                   "Templates averaged: " + ", ".join(f'"{t}"' for t in ENSEMBLE) + "."],
                  rows, [c[0] for c in contenders()], args.only)


if __name__ == "__main__":
    main()
