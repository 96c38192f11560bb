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
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import _comparison_runner
from skmm._comparison_runner import (
    SHAPES_HEADS,
    ComparisonResult,
    Contender,
    run_comparison,
)
from skmm.comparison_report import verdict, write_report

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
HEADS = _comparison_runner.HEADS

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
    # "epochs": "auto" is the plateau rule within about 1,000 optimiser steps (400 on the
    # towers, the embedders' defaults: see skmm._params.AUTO_VECTOR_STEPS)
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
    from skmm.baselines.neural import LSTM_SETTINGS
    from skmm.embedders.crvae import CRVAEEmbedder
    from skmm.encoders import ConvEncoder, MeanWordEncoder, RecurrentTextEncoder, TextMatrix
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
                                       patience=patience, text_encoder=RecurrentTextEncoder(
                                           **{**LSTM_SETTINGS, "word_vectors": "wordllama"}),
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
        # the published encoders: the trained CNN and the recurrent encoder over word
        # vectors (with wordllama's, mean_pooling and the mean-vector term turn on)
        Contender("CRVAE", both,
                  CRVAEEmbedder(image_encoder=ConvEncoder(image_size=size),
                                text_encoder=RecurrentTextEncoder(), n_components=k,
                                max_epochs=epochs, random_state=seed)),
        Contender("CRVAE (wordllama)", both,
                  CRVAEEmbedder(image_encoder=ConvEncoder(image_size=size),
                                text_encoder=RecurrentTextEncoder(word_vectors="wordllama"),
                                n_components=k, max_epochs=epochs, random_state=seed)),
    ]
    mmeda = _optional("skmm.embedders.mmeda", "MMEDAEmbedder", skipped, "MMEDA")
    if mmeda is not None:
        # the trained CNN and the text matrix: TF-IDF, and with wordllama TF-IDF + the mean
        # of its vectors (TextMatrix's features="auto")
        for label, text in [("MMEDA-II", TextMatrix()),
                            ("MMEDA-II (wordllama)", TextMatrix(word_vectors="wordllama"))]:
            out.append(Contender(label, both,
                                 mmeda(variant="II", image_encoder=ConvEncoder(min(size, 32)),
                                       text_encoder=text, n_components=k, max_epochs=epochs,
                                       random_state=seed)))
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
         {"n_image_components": k // 2,
          "text_encoder": TextMatrix("word2vec", vector_size=k - k // 2)}),
    ]:
        cls = _optional("skmm.baselines", cls_name, skipped, label)
        if cls is not None:
            out.append(Contender(label, both, cls(random_state=seed, **kwargs), baseline=True))
    common = _optional("skmm.embedders.common_space", "CommonSpaceEmbedder", skipped,
                       "common space (supervised)")
    if common is not None:
        for label, words in [("common space (supervised)", "word2vec"),
                             ("common space (wordllama)", "wordllama")]:
            modalities = {"image": ("image", ConvEncoder(image_size=min(size, 32))),
                          "en": ("text", MeanWordEncoder(word_vectors=words))}
            out.append(Contender(label, both,
                                 common(modalities=modalities, n_components=k,
                                        max_epochs=cfg["common_epochs"], random_state=seed),
                                 supervised=True, cross_modal=("image", "en")))
    # the embedders' defaults: both pretrained towers (max_epochs="auto" caps CRVAE and
    # MMEDA at 400 optimiser steps on them)
    out += [Contender("CRVAE (towers)", both,
                      CRVAEEmbedder(n_components=k, max_epochs=epochs, random_state=seed))]
    if mmeda is not None:
        out.append(Contender("MMEDA-II (towers)", both,
                             mmeda(variant="II", n_components=k, max_epochs=epochs,
                                   random_state=seed)))
    if common is not None:
        out.append(Contender("common space (towers)", both,
                             common(modalities={"image": "image", "en": "text"},
                                    n_components=k, max_epochs=cfg["common_epochs"],
                                    random_state=seed),
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

    :class:`skmm.encoders.ImageTower` (EfficientNet-Lite0 features of the
    ``image`` column) and :class:`skmm.encoders.TextTower` (Universal Sentence
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
    from skmm.encoders import ImageTower, TextTower

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
