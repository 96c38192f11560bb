"""The comparison's paired-retrieval section: what pairs of pictures and captions support.

Where :mod:`skmm.comparison` asks how well each representation predicts a
label, this section asks what a table of pictures and captions supports:
does a held-out picture find its own caption among the held-out captions,
and the other way round? Contenders: the common space fitted without ``y``
on the frozen towers, CCA of the same towers' features
(:class:`~skmm.baselines.TowerCCA`), and the common space fitted with the
labels (which also learns the pairing: ``pair_weight``). Every contender is
scored on the same folds (a seeded :class:`~sklearn.model_selection.KFold`).
With labels given, each is also scored on them (a linear probe, and for the
spaces learned without labels, classes from their names:
:class:`~skmm.ZeroShotClassifier`); with other caption columns, a hit on any
caption of the picture counts (several captions per item).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

__all__ = ["labels_and_pairs_markdown", "paired_contenders", "paired_retrieval_markdown",
           "run_paired_retrieval"]

#: The columns of :func:`run_paired_retrieval`'s summary, in order.
COLUMNS = ["R@1", "R@5", "R@10", "median rank", "MRR"]
#: The columns of the image → text rows with labels or other captions given.
EXTRA_COLUMNS = ["probe macro-F1", "zero-shot macro-F1", "R@10, any caption"]


def paired_contenders(*, random_state: int = 0) -> list[tuple[str, Callable, bool]]:
    """``(name, factory, learns_from_labels)`` of the paired-retrieval contenders.

    Parameters
    ----------
    random_state : int, default=0
        Seeds the common spaces.

    Returns
    -------
    list of (str, callable, bool)
        Each factory builds an unfitted estimator with ``fit(X[, y])`` and
        ``embed(X, modality)`` for ``"image"`` and ``"text"``; the flag says
        whether it is fitted with the labels (skipped without them).
    """
    from skmm import CommonSpaceEmbedder
    from skmm.baselines import TowerCCA

    # the common spaces: the towers are their defaults
    return [
        ("CCA of the towers (64 dims)", lambda: TowerCCA(), False),
        ("common space (pairs, towers)",
         lambda: CommonSpaceEmbedder(random_state=random_state), False),
        ("common space (labels + pairs, towers)",
         lambda: CommonSpaceEmbedder(random_state=random_state), True),
    ]


def run_paired_retrieval(X: pd.DataFrame, contenders: Sequence[tuple], *, y=None,
                         class_names=None, other_captions: Sequence[str] = (), cv: int = 3,
                         random_state: int = 0, verbose: int = 0) -> pd.DataFrame:
    """Fit each contender on the training folds; rank the held-out pairs.

    Parameters
    ----------
    X : pandas.DataFrame
        Rows with an ``image`` and a ``text`` column, each cell present (and
        the ``other_captions`` columns).
    contenders : sequence of (str, callable) or (str, callable, bool)
        See :func:`paired_contenders`; the flag (False if absent) fits the
        contender with the training rows' ``y``.
    y : array-like of shape (n_samples,) or None, default=None
        Labels: for the contenders that learn from them, and for the probe
        (a LogisticRegression on the standardised ``transform`` of the
        training rows, scored by macro-F1 on the held-out rows). None: the
        contenders that need labels are skipped.
    class_names : mapping or None, default=None
        ``{label: name}`` of every label of ``y``: the contenders fitted
        without labels also classify the held-out pictures by the nearest
        class name (:class:`~skmm.ZeroShotClassifier`, macro-F1).
    other_captions : sequence of str, default=()
        Columns holding other captions of each row's picture: "R@10, any
        caption" ranks every caption of the held-out rows (``text`` and
        these, each embedded as text) and counts a hit on any of the
        picture's own.
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
        ranked), ``fit_s``, ``labels`` (whether the contender learned from
        them), and on the image → text rows :data:`EXTRA_COLUMNS` (NaN where
        not measured).
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmm.metrics import paired_retrieval_table, recall_at_k
    from skmm.zero_shot import ZeroShotClassifier

    if cv < 2:
        raise ValueError(f"cv must be at least 2, got {cv}")
    y = None if y is None else np.asarray(y)
    contenders = [(c[0], c[1], bool(c[2]) if len(c) > 2 else False) for c in contenders]
    contenders = [c for c in contenders if y is not None or not c[2]]
    folds = list(KFold(cv, shuffle=True, random_state=random_state).split(np.zeros(len(X))))
    records = []
    for i, (name, make, labelled) in enumerate(contenders, 1):
        for f, (train, test) in enumerate(folds, 1):
            if verbose:
                print(f"[pairs {i}/{len(contenders)}] {name}, fold {f}/{cv}", flush=True)
            start = time.perf_counter()
            est = make().fit(X.iloc[train], y[train] if labelled else None)
            seconds = time.perf_counter() - start
            held = X.iloc[test]
            images = est.embed(held, "image")
            table = paired_retrieval_table({"image": images, "text": est.embed(held, "text")})
            extra = dict.fromkeys(EXTRA_COLUMNS, np.nan)
            if y is not None:
                probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
                probe.fit(est.transform(X.iloc[train]), y[train])
                extra["probe macro-F1"] = f1_score(y[test], probe.predict(est.transform(held)),
                                                   average="macro")
            if class_names is not None and not labelled:
                zero_shot = ZeroShotClassifier(FrozenEstimator(est), classes=class_names)
                extra["zero-shot macro-F1"] = f1_score(
                    y[test], zero_shot.fit(held).predict(held), average="macro")
            if other_captions:
                captions = np.vstack([est.embed(held.assign(text=held[c]), "text")
                                      for c in ["text", *other_captions]])
                items = np.arange(len(held))
                extra["R@10, any caption"] = recall_at_k(
                    images, captions, 10, query_items=items,
                    gallery_items=np.tile(items, 1 + len(other_captions)))
            for (query, gallery), row in table.iterrows():
                direction = f"{query} → {gallery}"
                records.append({"contender": name, "fold": f, "direction": direction,
                                **{c: row[c] for c in COLUMNS}, "pairs": int(row["pairs"]),
                                "fit_s": seconds, "labels": labelled,
                                **(extra if direction == "image → text"
                                   else dict.fromkeys(EXTRA_COLUMNS, np.nan))})
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


def labels_and_pairs_markdown(frame: pd.DataFrame) -> str:
    """One row per contender: what it learned from, the labels' scores and image → text
    retrieval (fold means of :func:`run_paired_retrieval`'s result; "-": not measured)."""
    rows = frame[frame["direction"] == "image → text"]
    columns = ["probe macro-F1", "zero-shot macro-F1", "R@1", "R@10", "R@10, any caption"]
    columns = [c for c in columns if c in rows and rows[c].notna().any()]
    mean = rows.groupby("contender", sort=False)[[*columns, "fit_s"]].mean()
    labelled = rows.groupby("contender", sort=False)["labels"].first()
    lines = ["| contender | learns from | " + " | ".join(columns) + " | fit per fold |",
             "| --- | --- |" + " ---: |" * (len(columns) + 1)]
    for name, row in mean.iterrows():
        cells = ["-" if np.isnan(row[c]) else f"{row[c]:.3f}" for c in columns]
        source = "labels + pairs" if labelled[name] else "pairs"
        lines.append(f"| {name} | {source} | " + " | ".join(cells)
                     + f" | {row['fit_s']:.0f} s |")
    return "\n".join(lines)
