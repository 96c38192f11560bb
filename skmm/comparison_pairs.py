"""The comparison's paired-retrieval section: pairs without labels.

Where :mod:`skmm.comparison` asks how well each representation predicts a
label, this section asks what an unlabelled table of pictures and captions
supports: learned on the pairing of the training rows alone, does a held-out
picture find its own caption among the held-out captions, and the other way
round? Contenders: the common space fitted without ``y`` on the frozen
towers, against CCA of the same towers' features (:class:`~skmm.baselines.TowerCCA`).
Every contender is scored on the same folds (a seeded
:class:`~sklearn.model_selection.KFold`: no labels are read).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

__all__ = ["paired_contenders", "paired_retrieval_markdown", "run_paired_retrieval"]

#: The columns of :func:`run_paired_retrieval`'s summary, in order.
COLUMNS = ["R@1", "R@5", "R@10", "median rank", "MRR"]


def paired_contenders(*, random_state: int = 0) -> list[tuple[str, Callable]]:
    """``(name, factory)`` of the paired-retrieval contenders (image and text columns).

    Parameters
    ----------
    random_state : int, default=0
        Seeds the common space.

    Returns
    -------
    list of (str, callable)
        Each factory builds an unfitted estimator with ``fit(X)`` and
        ``embed(X, modality)`` for ``"image"`` and ``"text"``.
    """
    from skmm import CommonSpaceEmbedder
    from skmm.baselines import TowerCCA

    return [
        ("CCA of the towers (64 dims)", lambda: TowerCCA()),
        ("common space (pairs, towers)",
         lambda: CommonSpaceEmbedder(random_state=random_state)),  # the towers: the defaults
    ]


def run_paired_retrieval(X: pd.DataFrame, contenders: Sequence[tuple[str, Callable]], *,
                         cv: int = 3, random_state: int = 0, verbose: int = 0) -> pd.DataFrame:
    """Fit each contender on the training folds' pairs; rank the held-out pairs.

    Parameters
    ----------
    X : pandas.DataFrame
        Rows with an ``image`` and a ``text`` column, each cell present.
    contenders : sequence of (str, callable)
        See :func:`paired_contenders`.
    cv : int, default=3
        Number of folds.
    random_state : int, default=0
        Seeds the folds.
    verbose : int, default=0
        1 prints a line per contender and fold.

    Returns
    -------
    pandas.DataFrame
        One row per contender, fold and direction (``"image → text"``,
        ``"text → image"``): :data:`COLUMNS`, ``pairs`` (held-out rows
        ranked) and ``fit_s``.
    """
    from skmm.metrics import paired_retrieval_table

    if cv < 2:
        raise ValueError(f"cv must be at least 2, got {cv}")
    folds = list(KFold(cv, shuffle=True, random_state=random_state).split(np.zeros(len(X))))
    records = []
    for i, (name, make) in enumerate(contenders, 1):
        for f, (train, test) in enumerate(folds, 1):
            if verbose:
                print(f"[pairs {i}/{len(contenders)}] {name}, fold {f}/{cv}", flush=True)
            start = time.perf_counter()
            est = make().fit(X.iloc[train])
            seconds = time.perf_counter() - start
            held = X.iloc[test]
            table = paired_retrieval_table({m: est.embed(held, m) for m in ("image", "text")})
            for (query, gallery), row in table.iterrows():
                records.append({"contender": name, "fold": f,
                                "direction": f"{query} → {gallery}",
                                **{c: row[c] for c in COLUMNS}, "pairs": int(row["pairs"]),
                                "fit_s": seconds})
    return pd.DataFrame(records)


def paired_retrieval_markdown(frame: pd.DataFrame) -> str:
    """The fold means of :func:`run_paired_retrieval`'s result as a markdown table."""
    mean = frame.groupby(["contender", "direction"], sort=False)[[*COLUMNS, "fit_s"]].mean()
    lines = ["| contender | direction | " + " | ".join(COLUMNS) + " | fit per fold |",
             "| --- | --- |" + " ---: |" * (len(COLUMNS) + 1)]
    for (name, direction), row in mean.iterrows():
        cells = [f"{row[c]:.1f}" if c == "median rank" else f"{row[c]:.3f}" for c in COLUMNS]
        lines.append(f"| {name} | {direction} | " + " | ".join(cells)
                     + f" | {row['fit_s']:.0f} s |")
    pairs = int(frame["pairs"].mean())
    lines += ["", f"Held-out pairs per fold: {pairs} (chance: R@10 = {10 / pairs:.3f}, "
              f"median rank about {pairs / 2:.0f})."]
    return "\n".join(lines)
