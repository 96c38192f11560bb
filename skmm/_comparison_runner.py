"""The comparison runner behind :mod:`skmm.comparison`: the heads, the contender
record, the cross-validation (:func:`run_comparison`) and its result.

Everything here is public through :mod:`skmm.comparison` and documented there;
the registry of contenders and the configurations are in that module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skmm.comparison_report import _pm, _Progress

# The classifier heads by name (documented as skmm.comparison.HEADS).
HEADS: dict[str, Callable[[int], Pipeline]] = {
    "LinearSVC": lambda seed: make_pipeline(
        StandardScaler(), LinearSVC(C=0.1, max_iter=10000, random_state=seed)),
    "LogisticRegression": lambda seed: make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=3000)),
    "RandomForest": lambda seed: make_pipeline(
        RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=1,
                               random_state=seed)),
}

#: The heads of every embedder on the emoji, and on the shapes (with a
#: non-linear head, for the XOR ``joint`` target).
LINEAR_HEADS = ("LinearSVC", "LogisticRegression")
SHAPES_HEADS = (*LINEAR_HEADS, "RandomForest")


@dataclass
class Contender:
    """One entry of the comparison.

    Parameters
    ----------
    name : str
        Row label, e.g. ``"CRVAE"`` (an embedder's rows add ``" + <head>"``).
    modality : str
        ``"image"``, ``"text"``, ``"image + text"`` or ``"-"`` (majority class).
    estimator : estimator
        An unfitted classifier (``kind="classifier"``) or transformer
        (``kind="embedder"``); cloned for every fold.
    kind : {"classifier", "embedder"}
    heads : sequence of str, default=("LinearSVC", "LogisticRegression")
        Keys of :data:`HEADS` evaluated after an embedder.
    baseline : bool, default=False
        A baseline (single-modality, late or early fusion, factorization)
        rather than a multimodal embedder under test: :func:`verdict`
        compares each non-baseline embedder with the baselines.
    supervised : bool, default=False
        The embedder uses ``y`` in ``fit`` (fitted once per fold and target).
    cross_modal : (str, str) or None, default=None
        Modalities ``(query, gallery)`` for cross-modal mAP with the
        embedder's ``embed(X, modality)`` method.
    cost_s : float, default=1.0
        Rough seconds of one fold on 2 CPU cores: the first guess of the
        progress estimate of :func:`run_comparison`, which rescales it by the
        pace measured so far. It changes no result.
    """

    name: str
    modality: str
    estimator: object
    kind: str = "embedder"
    heads: Sequence[str] = LINEAR_HEADS
    baseline: bool = False
    supervised: bool = False
    cross_modal: tuple | None = None
    cost_s: float = 1.0

    def pipeline(self, head: str, random_state: int = 0) -> Pipeline:
        """The scikit-learn Pipeline this contender stands for with ``head``.

        Parameters
        ----------
        head : str
            A key of :data:`HEADS`.
        random_state : int, default=0

        Returns
        -------
        sklearn.pipeline.Pipeline
            ``embed`` (a clone of the embedder) then ``head``.
        """
        return Pipeline([("embed", clone(self.estimator)), ("head", HEADS[head](random_state))])


@dataclass
class ComparisonResult:
    """Tables and embeddings produced by :func:`run_comparison`.

    Attributes
    ----------
    classification : pandas.DataFrame
        One row per target and model: ``target``, ``model``, ``embedder``
        (the contender's name for an embedder + head, else missing),
        ``baseline`` (see :class:`Contender`), ``modality``, ``f1_mean``,
        ``f1_std``, ``accuracy_mean``, ``accuracy_std``, ``fit_s``,
        ``predict_s`` (mean seconds per fold).
    clustering : pandas.DataFrame
        One row per target and embedder: ``nmi_mean``, ``nmi_std``,
        ``ari_mean``, ``ari_std``.
    retrieval : pandas.DataFrame
        One row per target and embedder: ``map_mean``, ``map_std`` (same-class
        retrieval within the held-out fold) and, for cross-modal embedders,
        ``cross_map_mean``, ``cross_map_std``.
    folds : pandas.DataFrame
        Every per-fold score.
    maps : dict of str to (ndarray, ndarray)
        Per embedder, the first fold's held-out embedding and its labels of the
        first target (for t-SNE maps).
    skipped : dict of str to str
        Contenders left out, and why.
    info : dict
        Data set, rows, folds, seed, duration (``seconds``) and the
        process's CPU time (``cpu_seconds``: on a machine shared with other
        jobs, the wall time says little and the CPU time what the run cost).
    """

    classification: pd.DataFrame
    clustering: pd.DataFrame
    retrieval: pd.DataFrame
    folds: pd.DataFrame
    maps: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def main_table(self, target: str | None = None) -> pd.DataFrame:
        """Classification of one target with the clustering and retrieval columns.

        Parameters
        ----------
        target : str or None, default=None
            ``None`` takes the first target.

        Returns
        -------
        pandas.DataFrame
            Columns ``model``, ``modality``, ``macro-F1``, ``accuracy``
            (``"mean ± std"`` strings), ``NMI``, ``mAP@50``, ``fit s``,
            ``predict s``; sorted by mean macro-F1, best first.
        """
        if target is None:
            target = self.classification["target"].iloc[0]
        cls = self.classification[self.classification["target"] == target]
        clu = self.clustering[self.clustering["target"] == target].set_index("embedder")
        ret = self.retrieval[self.retrieval["target"] == target].set_index("embedder")
        rows = []
        for _, r in cls.sort_values("f1_mean", ascending=False).iterrows():
            emb = r["embedder"]
            rows.append({
                "model": r["model"],
                "modality": r["modality"],
                "macro-F1": _pm(r["f1_mean"], r["f1_std"]),
                "accuracy": _pm(r["accuracy_mean"], r["accuracy_std"]),
                "NMI": f"{clu.loc[emb, 'nmi_mean']:.3f}" if emb in clu.index else "",
                "mAP@50": f"{ret.loc[emb, 'map_mean']:.3f}" if emb in ret.index else "",
                "fit s": f"{r['fit_s']:.1f}",
                "predict s": f"{r['predict_s']:.2f}",
            })
        return pd.DataFrame(rows)


def _scores(y_true, y_pred) -> dict:
    return {"f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
            "accuracy": accuracy_score(y_true, y_pred)}


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def run_comparison(X: pd.DataFrame, targets: Mapping[str, np.ndarray],
                   contenders: Sequence[Contender], *, cv: int = 5, random_state: int = 0,
                   map_k: int = 50, verbose: int = 0) -> ComparisonResult:
    """Cross-validate every contender on every target.

    The folds are a seeded :class:`~sklearn.model_selection.StratifiedKFold`
    of the first target, shared by all targets and contenders, so every row
    of the tables is scored on the same held-out rows. In each fold an
    embedder is fitted once on the training rows (with that target's labels
    when it is supervised, else once for all targets) and every head is then
    fitted on its training embedding: the same result as fitting each
    ``Contender.pipeline(head)`` in the fold, without training the embedder
    once per head. Its fit time is added to each head's.

    Parameters
    ----------
    X : pandas.DataFrame
        The rows (columns ``image`` and ``text`` for the default contenders).
    targets : mapping of str to array-like of shape (n_samples,)
        Classification targets; the first one stratifies the folds.
    contenders : sequence of Contender
        See :func:`make_contenders`.
    cv : int, default=5
        Number of folds.
    random_state : int, default=0
        Seeds the folds, the heads and k-means.
    map_k : int, default=50
        K of the retrieval mAP.
    verbose : int, default=0
        0 prints nothing; 1 prints a line as each contender and fold starts,
        with an estimate of the time left (``[7/24] CRVAE (towers), fold 2/3,
        about 3 min left``), the time of each contender's folds, and the
        total.

    Returns
    -------
    ComparisonResult
    """
    if not targets:
        raise ValueError("targets is empty")
    targets = {name: np.asarray(y) for name, y in targets.items()}
    for name, y in targets.items():
        if len(y) != len(X):
            raise ValueError(f"target {name!r} has {len(y)} labels for {len(X)} rows")
    from skmm.metrics import clustering_scores, mean_average_precision

    first = next(iter(targets))
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    folds = list(splitter.split(np.zeros(len(X)), targets[first]))
    records, clusters, retrievals, maps = [], [], [], {}
    t_start, cpu_start = time.perf_counter(), time.process_time()
    progress = _Progress(contenders, cv, verbose)
    for index, contender in enumerate(contenders):
        for f, (train, test) in enumerate(folds):
            progress.start(index, f)
            X_train, X_test = X.iloc[train], X.iloc[test]
            t0 = time.perf_counter()
            if contender.kind == "classifier":
                for target, y in targets.items():
                    est = clone(contender.estimator)
                    _, fit_s = _timed(est.fit, X_train, y[train])
                    pred, predict_s = _timed(est.predict, X_test)
                    records.append({"target": target, "model": contender.name,
                                    "embedder": None, "baseline": contender.baseline,
                                    "modality": contender.modality,
                                    "fold": f, "fit_s": fit_s, "predict_s": predict_s,
                                    **_scores(y[test], pred)})
            else:
                fitted = {}
                for target, y in targets.items():
                    key = target if contender.supervised else None
                    if key not in fitted:
                        est = clone(contender.estimator)
                        Z_train, fit_s = _timed(est.fit_transform, X_train, y[train])
                        Z_test, tr_s = _timed(est.transform, X_test)
                        fitted[key] = (est, np.asarray(Z_train, dtype=np.float64),
                                       np.asarray(Z_test, dtype=np.float64), fit_s, tr_s)
                    est, Z_train, Z_test, fit_s, tr_s = fitted[key]
                    for head in contender.heads:
                        model = HEADS[head](random_state)
                        _, head_fit = _timed(model.fit, Z_train, y[train])
                        pred, head_pred = _timed(model.predict, Z_test)
                        records.append({"target": target, "model": f"{contender.name} + {head}",
                                        "embedder": contender.name,
                                        "baseline": contender.baseline,
                                        "modality": contender.modality, "fold": f,
                                        "fit_s": fit_s + head_fit, "predict_s": tr_s + head_pred,
                                        **_scores(y[test], pred)})
                    scores = clustering_scores(Z_test, y[test], random_state=random_state)
                    clusters.append({"target": target, "embedder": contender.name, "fold": f,
                                     "nmi": scores["nmi"], "ari": scores["ari"]})
                    ret = {"target": target, "embedder": contender.name, "fold": f,
                           "map": mean_average_precision(Z_test, y[test], Z_test, y[test],
                                                         k=map_k, exclude_self=True)}
                    if contender.cross_modal is not None:
                        q, g = contender.cross_modal
                        ret["cross_map"] = mean_average_precision(
                            est.embed(X_test, q), y[test], est.embed(X_test, g), y[test],
                            k=map_k)
                    retrievals.append(ret)
                    if f == 0 and target == first:
                        maps[contender.name] = (Z_test.astype(np.float32), y[test])
            progress.done(index, f, time.perf_counter() - t0)
    progress.finish()

    folds_df = pd.DataFrame(records)
    classification = (
        folds_df.groupby(["target", "model"], sort=False, dropna=False)
        .agg(embedder=("embedder", "first"), baseline=("baseline", "first"),
             modality=("modality", "first"),
             f1_mean=("f1", "mean"), f1_std=("f1", "std"),
             accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
             fit_s=("fit_s", "mean"), predict_s=("predict_s", "mean"))
        .reset_index())
    clustering = _summarise(pd.DataFrame(clusters), ["nmi", "ari"])
    retrieval = _summarise(pd.DataFrame(retrievals), ["map", "cross_map"])
    info = {"rows": len(X), "cv": cv, "random_state": random_state, "map_k": map_k,
            "targets": {t: int(len(pd.unique(y))) for t, y in targets.items()},
            "seconds": time.perf_counter() - t_start,
            "cpu_seconds": time.process_time() - cpu_start}
    return ComparisonResult(classification, clustering, retrieval, folds_df, maps, {}, info)


def _summarise(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Mean and std over folds of ``columns`` per target and embedder."""
    if frame.empty:
        return pd.DataFrame(columns=["target", "embedder"])
    columns = [c for c in columns if c in frame]
    aggs = {}
    for c in columns:
        aggs[f"{c}_mean"] = (c, "mean")
        aggs[f"{c}_std"] = (c, "std")
    return frame.groupby(["target", "embedder"], sort=False).agg(**aggs).reset_index()
