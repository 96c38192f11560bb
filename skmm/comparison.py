"""The downstream comparison: multimodal embedders against single-modality baselines.

One question first: does the multimodal embedding beat what one would do with
one modality? :func:`run_comparison` answers it with cross-validation on one
table:

* **classification**: every contender is fitted inside each fold of a seeded
  :class:`~sklearn.model_selection.StratifiedKFold` and scored on the held-out
  fold (macro-F1 and accuracy, mean ± std over folds, fit and predict time).
  Contenders are classifiers (majority class, TF-IDF + LinearSVC, an image
  CNN, LSTM + CNN late fusion, early fusion of TF-IDF and pixel PCA with one
  LinearSVC, and what a user builds from the pretrained towers without
  skmm: a LogisticRegression on EfficientNet-Lite0 features, on
  Universal Sentence Encoder vectors, on both concatenated, and the soft
  vote of the two single-tower models) and embedders (among them the PCA of
  the concatenated tower features), each followed by a LinearSVC and a
  LogisticRegression (on standardised features) and, on the shapes, a
  random forest too. The supervised :class:`~skmm.CommonSpaceEmbedder` sees
  only the training fold's labels. The neural baselines train until they
  converge (early stopping on a validation split), because a weak baseline
  flatters the model.
* **clustering**: KMeans on each embedder's embedding of the held-out fold,
  with as many clusters as classes; NMI and ARI against the target
  (:func:`skmm.metrics.clustering_scores`).
* **retrieval**: mAP@50 on the held-out fold (each item queries the others,
  items of its class are relevant); for the CommonSpaceEmbedder also
  image -> text (:func:`skmm.metrics.mean_average_precision`).

:func:`make_contenders` builds the registry for a data set (``"emoji"`` or
``"shapes"``) in one of the configurations of :data:`CONFIGS`: ``"full"``
(every contender), ``"quick"`` (all but the slowest, :data:`QUICK_LEAVES_OUT`)
or ``"demo"`` (:data:`DEMO_CONTENDERS`: the embedders on the pretrained towers
against the towers' baselines); contenders whose module is not installed are
skipped and listed. :func:`run_comparison` says, as each contender and fold
starts, about how long is left. :func:`write_report` writes
``results.md``, ``results.csv`` (and the clustering, retrieval and per-fold
tables), a bar chart with error bars and a t-SNE map of each embedder;
:func:`verdict` says, for each multimodal embedder, which baselines it beats
and which beat it. ``python -m skmm benchmark`` and ``python -m skmm demo``
call these.

No linear head can learn the ``joint`` label of :func:`skmm.datasets.make_shapes`
(the XOR of the shape's parity and the mood's) from an additive
representation, one that puts an image part next to a text part (early
fusion, the classic late fusion, any concatenation of single-modality
features): a linear head's score is then an image score plus a text score,
``a(image) + b(text)``. Take a picture of an even and one of an odd shape
(``i0``, ``i1``) and a caption of an even and one of an odd mood (``t0``,
``t1``): label 0 needs ``a(i0) + b(t0) < 0`` and ``a(i1) + b(t1) < 0``, label 1
needs ``a(i0) + b(t1) > 0`` and ``a(i1) + b(t0) > 0``, yet both pairs of
scores add up to the same number. So on the shapes every embedding is
also reported with a non-linear head (a seeded
:class:`~sklearn.ensemble.RandomForestClassifier`), and the main target is
the ``pair`` label (shape and mood, 16 classes), which a linear head can
learn from both modalities while each modality alone tops out at 0.25
accuracy.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skmm.comparison_report import _pm, _Progress, verdict, write_report

__all__ = [
    "CONFIGS",
    "COST_S",
    "DEMO_CONTENDERS",
    "HEADS",
    "QUICK_LEAVES_OUT",
    "ComparisonResult",
    "Contender",
    "load_benchmark_data",
    "make_contenders",
    "run_comparison",
    "tower_contenders",
    "verdict",
    "write_report",
]

#: Classifier heads put after every embedder, by name: each builds a fresh
#: pipeline for a seed. The two linear heads (standardisation + linear model)
#: cannot learn a label that is an interaction of an image part and a text
#: part of the representation (the XOR of ``make_shapes(label="joint")``);
#: the random forest can.
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


# ---------------------------------------------------------------------------
# Data and contenders
# ---------------------------------------------------------------------------

#: Rough seconds of one fold of each contender on 2 quiet CPU cores (the emoji
#: quick run, 1,276 training rows), for :attr:`Contender.cost_s`: the progress
#: estimate's first guess, rescaled by the pace measured as the run goes. The
#: first tower contender of a run also pays the towers' features (about 15 s).
#: Unlisted contenders (the cheap linear ones) count 1 s.
COST_S = {
    "image CNN": 25.0, "LSTM + CNN late fusion": 25.0, "LSTM + CNN late fusion (wordllama)": 15.0,
    "EfficientNet-Lite0 + LR": 8.0, "USE + LR": 3.0, "towers concatenated + LR": 3.0,
    "towers late fusion": 6.0, "PCA of towers (32 dims)": 3.0,
    "CRVAE": 50.0, "CRVAE (wordllama)": 200.0, "MMEDA-II": 45.0, "MMEDA-II (wordllama)": 35.0,
    "ConvAE MF": 14.0, "common space (supervised)": 8.0, "common space (wordllama)": 8.0,
    "CRVAE (towers)": 18.0, "MMEDA-II (towers)": 18.0, "common space (towers)": 13.0,
}

#: The contenders of ``python -m skmm demo`` (configuration ``"demo"``): the
#: story in a few minutes. The three embedders on the pretrained towers against
#: what a user builds from the same towers without skmm (each tower + a
#: LogisticRegression, both side by side, their late fusion, their PCA to the
#: embedders' width), the cheapest classic baseline (TF-IDF) and the floor
#: (majority class). The towers' features are computed once per process, so
#: these contenders share one pass of each tower.
DEMO_CONTENDERS = (
    "majority class", "TF-IDF + LinearSVC",
    "EfficientNet-Lite0 + LR", "USE + LR", "towers concatenated + LR", "towers late fusion",
    "PCA of towers (32 dims)",
    "CRVAE (towers)", "MMEDA-II (towers)", "common space (towers)",
)

#: The contenders the ``"quick"`` configuration leaves out (the full comparison
#: runs them): the slowest to train, each of which a kept contender stands for.
#: CRVAE and MMEDA-II with wordllama's vectors (CRVAE (wordllama) alone took
#: 20 of the 47 minutes of the emoji quick run; the common space keeps its
#: wordllama row), the LSTM + CNN late fusion over Word2Vec trained on the
#: fold (its wordllama twin is the stronger baseline and stays), the image CNN
#: (EfficientNet-Lite0 + LR and pixel PCA are the image-only baselines) and
#: ConvAE MF (collective MF is the matrix-factorization baseline).
QUICK_LEAVES_OUT = (
    "CRVAE (wordllama)", "MMEDA-II (wordllama)", "LSTM + CNN late fusion", "image CNN",
    "ConvAE MF",
)

#: Settings of each configuration, by name: image side, training epochs of the
#: CNN, the late fusion, CRVAE and MMEDA-II (``"auto"``: a cap of about 1,000
#: optimiser steps and a plateau rule, see :func:`skmm._params.auto_epochs`;
#: a mapping: epochs per data set),
#: the autoencoders and the common space, folds, rows of the shapes data set,
#: embedding dimensions, whether the secondary targets (emoji subgroups,
#: shapes' shape and mood) are scored, the contenders run (``None``: all of
#: them; else the names kept, in registry order) and those left out. The two neural baselines
#: train until they converge: ``cnn_epochs`` and ``fusion_epochs`` are upper
#: bounds, and they stop when the validation loss has not improved for
#: ``patience`` epochs (keeping the best epoch's weights).
#:
#: ``"full"`` is the comparison of record; ``"quick"`` (``benchmark --quick``)
#: has 32-pixel images, 3 folds, 600 shapes, the main targets and every
#: contender but :data:`QUICK_LEAVES_OUT`; ``"demo"`` (``python -m skmm demo``)
#: the emoji at 128 pixels (the image tower's input size), 3 folds, the main
#: target and :data:`DEMO_CONTENDERS`.
CONFIGS = {
    "full": {"image_size": 64, "cnn_epochs": 100, "fusion_epochs": 100, "epochs": "auto",
             "ae_epochs": 30, "common_epochs": 40, "patience": 10, "cv": 5, "shape_rows": 1500,
             "n_components": 32, "all_targets": True, "contenders": None, "leave_out": ()},
    # quick: "auto" (the plateau rule within 1,000 steps) too; a fixed cap of 80 epochs on
    # the shapes cost CRVAE 49 s of CPU per fold against 33 s with "auto"
    "quick": {"image_size": 32, "cnn_epochs": 100, "fusion_epochs": 100, "epochs": "auto",
              "ae_epochs": 30, "common_epochs": 40, "patience": 8, "cv": 3, "shape_rows": 600,
              "n_components": 32, "all_targets": False, "contenders": None,
              "leave_out": QUICK_LEAVES_OUT},
    "demo": {"image_size": 128, "cnn_epochs": 100, "fusion_epochs": 100, "epochs": "auto",
             "ae_epochs": 30, "common_epochs": 40, "patience": 8, "cv": 3, "shape_rows": 600,
             "n_components": 32, "all_targets": False, "contenders": DEMO_CONTENDERS,
             "leave_out": ()},
}


def _config(config) -> dict:
    """The settings of ``config`` (a key of :data:`CONFIGS`), with a clear error."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}; got {config!r}")
    return CONFIGS[config]


def load_benchmark_data(dataset: str = "emoji", *, config: str = "full", random_state: int = 0,
                        verbose: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Load a comparison data set and its classification targets.

    Parameters
    ----------
    dataset : {"emoji", "shapes"}, default="emoji"
        ``"emoji"``: :func:`skmm.datasets.load_emoji` (1,914 rows), targets
        ``group`` and, in the full configuration, ``subgroup``. ``"shapes"``:
        :func:`skmm.datasets.make_shapes` with ``label="pair"`` (600 rows
        quick, 1,500 full), targets ``pair`` (shape and mood, 16 classes:
        the picture tells the shape, only the caption the mood, so each
        modality alone tops out at 0.25 accuracy), ``joint`` (the XOR of
        their parities: no linear head over an additive representation can
        learn it, hence the random-forest head) and, in the full
        configuration, ``shape`` (the image tells it) and ``mood`` (the text
        tells it).
    config : {"full", "quick", "demo"}, default="full"
        A key of :data:`CONFIGS`: the image side (64 pixels full, 32 quick,
        128 demo), the rows of the shapes and whether the secondary targets
        are scored.
    random_state : int, default=0
        Seed of ``make_shapes``.
    verbose : int, default=0
        Passed to ``load_emoji`` (a progress bar while the glyphs are drawn).

    Returns
    -------
    X : pandas.DataFrame
        With columns ``image`` and ``text``.
    targets : dict of str to ndarray
        The first is the main target.
    """
    cfg = _config(config)
    if dataset == "emoji":
        from skmm.datasets import load_emoji

        X = load_emoji(image_size=cfg["image_size"], verbose=verbose)
        targets = {"group": X["group"].to_numpy(dtype=object)}
        if cfg["all_targets"]:
            targets["subgroup"] = X["subgroup"].to_numpy(dtype=object)
    elif dataset == "shapes":
        from skmm.datasets import make_shapes

        def shapes(label):  # the same seed draws the same rows, whatever the label
            return make_shapes(cfg["shape_rows"], image_size=cfg["image_size"], label=label,
                               random_state=random_state)

        X = shapes("pair")
        targets = {"pair": X["label"].to_numpy(dtype=object),
                   "joint": shapes("joint")["label"].to_numpy()}
        if cfg["all_targets"]:
            targets["shape"] = X["shape"].to_numpy(dtype=object)
            targets["mood"] = X["mood"].to_numpy(dtype=object)
    else:
        raise ValueError(f"dataset must be 'emoji' or 'shapes'; got {dataset!r}")
    return X, targets


def _optional(module: str, name: str, skipped: dict, label: str):
    """Import ``module.name``; record ``label`` in ``skipped`` when it is unavailable."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        skipped[label] = f"{module}.{name} unavailable ({exc})"
        return None


def make_contenders(dataset: str = "emoji", *, config: str = "full", random_state: int = 0,
                    names: Sequence[str] | None = None,
                    skipped: dict | None = None) -> list[Contender]:
    """Build the registry of contenders for a data set and a configuration.

    Parameters
    ----------
    dataset : {"emoji", "shapes"}, default="emoji"
    config : {"full", "quick", "demo"}, default="full"
        A key of :data:`CONFIGS`. ``"full"``: every contender below.
        ``"quick"``: 32-pixel images and every contender but the slow ones
        of :data:`QUICK_LEAVES_OUT`. ``"demo"``: the contenders of
        :data:`DEMO_CONTENDERS` (the three embedders on the pretrained
        towers against the towers' baselines, TF-IDF and the majority class).
    random_state : int, default=0
        Seed of every estimator.
    names : sequence of str or None, default=None
        Keep only the contenders of the configuration with these names (all
        by default).
    skipped : dict or None, default=None
        Filled with the contenders that could not be built and why (a
        module not installed yet).

    Returns
    -------
    list of Contender
        The baselines: majority class, TF-IDF + LinearSVC, image CNN, LSTM +
        CNN late fusion (Word2Vec trained on the fold, and wordllama's
        pretrained token vectors), early fusion of TF-IDF and pixel PCA
        (:func:`skmm.baselines.make_tfidf_pca_fusion`), pixel PCA, mean word
        vectors (Word2Vec and wordllama), collective MF, ConvAE MF and the
        early fusion of pixel PCA and word vectors, and the pretrained towers'
        baselines (:func:`tower_contenders`: EfficientNet-Lite0 + LR, USE +
        LR, the towers concatenated + LR, their late fusion, the PCA of the
        towers to the embedders' width); the multimodal embedders: CRVAE,
        MMEDA and the supervised common space (each with Word2Vec, with
        wordllama and with the pretrained towers). The neural baselines stop
        early (validation loss, ``CONFIGS[config]["patience"]`` epochs) within
        at most ``cnn_epochs``/``fusion_epochs``. On the shapes every embedder
        has a random-forest head besides the two linear ones. Each has its
        ``cost_s`` from :data:`COST_S`.

    Raises
    ------
    ValueError
        If ``config`` is unknown, or ``names`` holds a name that is not a
        contender of this configuration.
    """
    from skmm.baselines.classifiers import (
        ImageCNNClassifier,
        LateFusionClassifier,
        TextSVMClassifier,
        make_tfidf_pca_fusion,
    )
    from skmm.embedders.crvae import CRVAEEmbedder
    from skmm.inputs import ImageLoader, MeanWordVectors

    skipped = {} if skipped is None else skipped
    cfg = _config(config)
    size, epochs, k, seed = cfg["image_size"], cfg["epochs"], cfg["n_components"], random_state
    if isinstance(epochs, Mapping):  # a cap per data set
        epochs = epochs[dataset]
    patience = cfg["patience"]
    both = "image + text"
    out = [
        Contender("majority class", "-", DummyClassifier(strategy="most_frequent"),
                  kind="classifier", baseline=True),
        Contender("TF-IDF + LinearSVC", "text", TextSVMClassifier(random_state=seed),
                  kind="classifier", baseline=True),
        Contender("image CNN", "image",
                  ImageCNNClassifier(image_size=size, max_epochs=cfg["cnn_epochs"],
                                     patience=patience, random_state=seed),
                  kind="classifier", baseline=True),
        Contender("LSTM + CNN late fusion", both,
                  LateFusionClassifier(image_size=size, max_epochs=cfg["fusion_epochs"],
                                       patience=patience, random_state=seed),
                  kind="classifier", baseline=True),
        Contender("LSTM + CNN late fusion (wordllama)", both,
                  LateFusionClassifier(image_size=size, max_epochs=cfg["fusion_epochs"],
                                       patience=patience, word_vectors="wordllama",
                                       random_state=seed),
                  kind="classifier", baseline=True),
        Contender("early fusion (TF-IDF + pixel PCA)", both,
                  make_tfidf_pca_fusion(random_state=seed), kind="classifier", baseline=True),
        Contender("pixel PCA", "image",
                  make_pipeline(ImageLoader(image_size=min(size, 32), mode="L"),
                                StandardScaler(), _pca(k, seed)), baseline=True),
        Contender("mean word vectors", "text", MeanWordVectors(random_state=seed),
                  baseline=True),
        Contender("mean wordllama vectors", "text", MeanWordVectors(word_vectors="wordllama"),
                  baseline=True),
        *tower_contenders(k, random_state=seed),
        Contender("CRVAE", both,
                  CRVAEEmbedder(image_size=size, n_components=k, max_epochs=epochs,
                                random_state=seed)),
        Contender("CRVAE (wordllama)", both,
                  CRVAEEmbedder(image_size=size, n_components=k, max_epochs=epochs,
                                word_vectors="wordllama", random_state=seed)),
    ]
    mmeda = _optional("skmm.embedders.mmeda", "MMEDAEmbedder", skipped, "MMEDA")
    if mmeda is not None:
        # the default text matrix: TF-IDF, and with wordllama TF-IDF + the mean of its vectors
        for label, text in [("MMEDA-II", {}),
                            ("MMEDA-II (wordllama)", {"word_vectors": "wordllama"})]:
            out.append(Contender(label, both,
                                 mmeda(variant="II", image_size=min(size, 32), n_components=k,
                                       max_epochs=epochs, random_state=seed, **text)))
    convae = _optional("skmm.baselines.autoencoders", "ConvAutoencoder", {}, "")
    ae_kwargs = {"n_components": k, "max_epochs": cfg["ae_epochs"]}
    if convae is not None:  # the image codes of the paper's ConvAE MF, trained as long
        ae_kwargs["image_features"] = convae(image_size=min(size, 32), n_components=50,
                                             max_epochs=cfg["ae_epochs"], random_state=seed)
    for cls_name, label, kwargs in [
        ("CollectiveMF", "collective MF", {"n_components": k}),
        ("AutoencoderMF", "ConvAE MF", ae_kwargs),
        ("EarlyFusion", "early fusion (PCA + word vectors)", {}),
        # the same number of dimensions as the embedders (k/2 + k/2)
        ("EarlyFusion", f"early fusion (PCA + word vectors, {k} dims)",
         {"n_image_components": k // 2, "vector_size": k - k // 2}),
    ]:
        cls = _optional("skmm.baselines", cls_name, skipped, label)
        if cls is not None:
            out.append(Contender(label, both, cls(random_state=seed, **kwargs), baseline=True))
    common = _optional("skmm.embedders.common_space", "CommonSpaceEmbedder", skipped,
                       "common space (supervised)")
    if common is not None:
        for label, words in [("common space (supervised)", "word2vec"),
                             ("common space (wordllama)", "wordllama")]:
            out.append(Contender(label, both,
                                 common(modalities={"image": "image", "en": "text"},
                                        image_size=min(size, 32), n_components=k,
                                        max_epochs=cfg["common_epochs"], word_vectors=words,
                                        random_state=seed),
                                 supervised=True, cross_modal=("image", "en")))
    towers = {"image_encoder": "efficientnet_lite0", "text_encoder": "use"}
    out += [Contender("CRVAE (towers)", both,
                      CRVAEEmbedder(n_components=k, max_epochs=epochs, random_state=seed,
                                    **towers))]
    if mmeda is not None:
        out.append(Contender("MMEDA-II (towers)", both,
                             mmeda(variant="II", n_components=k, max_epochs=epochs,
                                   random_state=seed, **towers)))
    if common is not None:
        out.append(Contender("common space (towers)", both,
                             common(modalities={"image": "image", "en": "text"},
                                    n_components=k, max_epochs=cfg["common_epochs"],
                                    random_state=seed, **towers),
                             supervised=True, cross_modal=("image", "en")))
    if dataset == "shapes":  # a non-linear head for the XOR target (see the module doc)
        out = [replace(c, heads=SHAPES_HEADS) if c.kind == "embedder" else c for c in out]
    out = [replace(c, cost_s=COST_S.get(c.name, c.cost_s)) for c in out]
    kept = cfg["contenders"]
    if kept is not None:
        out = [c for c in out if c.name in kept]
    out = [c for c in out if c.name not in cfg["leave_out"]]
    if names is not None:
        unknown = set(names) - {c.name for c in out} - set(skipped)
        if unknown:
            raise ValueError(f"unknown contenders {sorted(unknown)} in the {config!r} "
                             f"configuration; known: {[c.name for c in out]}")
        out = [c for c in out if c.name in names]
    return out


def tower_contenders(n_components: int = 32, *, random_state: int = 0) -> list[Contender]:
    """The yardstick a user builds without skmm: linear models on the pretrained towers.

    :class:`skmm.towers.ImageTower` (EfficientNet-Lite0 features of the
    ``image`` column) and :class:`skmm.towers.TextTower` (Universal Sentence
    Encoder vectors of the ``text`` column) compute each cell once per
    process, so the folds and the five contenders share one pass of each
    tower. All are baselines: ``"EfficientNet-Lite0 + LR"``, ``"USE + LR"``
    and ``"towers concatenated + LR"`` (standardised features, then
    ``LogisticRegression(max_iter=2000)``), ``"towers late fusion"`` (the
    mean of the two single-tower models' probabilities, a soft
    ``VotingClassifier``) and the embedder ``"PCA of towers (<n_components>
    dims)"`` (the PCA of the standardised concatenation, seeded by
    ``random_state``), followed by the embedders' heads.
    """
    from skmm.towers import ImageTower, TextTower

    def towers():
        return ColumnTransformer([("image", ImageTower("image"), ["image"]),
                                  ("text", TextTower("text"), ["text"])])

    image = make_pipeline(ImageTower("image"), StandardScaler(), LogisticRegression(max_iter=2000))
    text = make_pipeline(TextTower("text"), StandardScaler(), LogisticRegression(max_iter=2000))
    both, k = "image + text", n_components
    return [
        Contender("EfficientNet-Lite0 + LR", "image", image, kind="classifier", baseline=True),
        Contender("USE + LR", "text", text, kind="classifier", baseline=True),
        Contender("towers concatenated + LR", both,
                  make_pipeline(towers(), StandardScaler(), LogisticRegression(max_iter=2000)),
                  kind="classifier", baseline=True),
        Contender("towers late fusion", both,
                  VotingClassifier([("image", clone(image)), ("text", clone(text))],
                                   voting="soft"), kind="classifier", baseline=True),
        Contender(f"PCA of towers ({k} dims)", both,
                  make_pipeline(towers(), StandardScaler(), _pca(k, random_state)),
                  baseline=True),
    ]


def _pca(n_components: int, seed: int):
    """A PCA of ``n_components`` (randomized solver, seeded)."""
    from sklearn.decomposition import PCA

    return PCA(n_components, svd_solver="randomized", random_state=seed)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


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
