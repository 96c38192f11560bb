"""Emoji groups with wordllama's pretrained token vectors: the embedders against the baselines.

    python benchmarks/pretrained_encoders.py [--only NAME,...] [--exact NAME;...]

(``--only``: the rows whose names start with one of the comma-separated
prefixes are measured and replaced in the results file; ``--exact``: the
rows named exactly, separated by semicolons, for names that hold commas.)

The protocol of the "pretrained encoders" issue: ``load_emoji(image_size=32)``
(1,914 rows), the 9 ``group`` labels, 3-fold stratified cross-validation
(shuffled, seed 0), macro-F1 of ``StandardScaler + LinearSVC`` on each
embedding (the embedders at their defaults but for the trained CNN and the
word-vector text encoders, the defaults before the pretrained towers:
``ConvEncoder(image_size=32)`` with a ``RecurrentTextEncoder`` for CRVAE, a
``TextMatrix`` for MMEDA, a ``MeanWordEncoder`` for the common space, each
with ``word_vectors="wordllama"``; one torch thread; a row that changes
another parameter names it). The supervised common space learns from the training
folds' groups. The last column is the time of the whole cross-validation
and, for an embedder, the epochs each fold trained of the most allowed
(``n_epochs_/max_epochs_``: fewer when ``max_epochs="auto"`` stopped on a
plateau of the loss). The PCA rows are the unsupervised linear reference: the same
two inputs (50 pixel principal components next to the mean wordllama
vector, standardised) reduced by PCA to the embedders' widths. Writes
``benchmarks/results/pretrained_encoders.md`` with the machine line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import machine, refresh_rows  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder  # noqa: E402
from skmm.baselines import EarlyFusion, TextSVMClassifier  # noqa: E402
from skmm.datasets import load_emoji  # noqa: E402
from skmm.encoders import (  # noqa: E402
    ConvEncoder,
    MeanWordEncoder,
    RecurrentTextEncoder,
    TextMatrix,
)
from skmm.inputs import MeanWordVectors  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: Every embedder row trains its own CNN at 32 pixels (not the default
#: pretrained image tower) and a text encoder over wordllama's vectors (not
#: the default pretrained USE). CRVAE's rows: ``COMMON`` and a
#: RecurrentTextEncoder (``recurrent``).
COMMON = dict(image_encoder=ConvEncoder(image_size=32), random_state=0, n_threads=1)
WL = dict(word_vectors="wordllama")
MEAN_COLUMN = "text_wordllama"
#: MMEDA's rows: its own CNN at 32 pixels, and a TextMatrix over wordllama's vectors.
MMEDA = dict(image_encoder=ConvEncoder(image_size=32), random_state=0, n_threads=1)


def recurrent(**settings) -> RecurrentTextEncoder:
    """CRVAE's recurrent text encoder over wordllama's vectors."""
    return RecurrentTextEncoder(**WL, **settings)


def contenders():
    """(name, estimator, target) in table order."""
    def svc(step):
        return make_pipeline(step, StandardScaler(), LinearSVC(max_iter=5000))

    return [
        ("TF-IDF + LinearSVC (text)", TextSVMClassifier(random_state=0), "0.63 (issue)"),
        ("mean wordllama vectors (text)", svc(MeanWordVectors(**WL)), "0.64 (issue, LR)"),
        # the unsupervised linear reference: the same two inputs, squeezed to the
        # embedders' widths by PCA (50 pixel PCs next to the mean wordllama vector)
        *[(f"PCA of pixel PCs + mean wordllama vectors, {k} dims",
           svc(make_pipeline(EarlyFusion(image_size=32, random_state=0,
                                         text_encoder=TextMatrix("word2vec", **WL)),
                             StandardScaler(), PCA(k, random_state=0))), "—")
          for k in (32, 64)],
        ("CRVAE, wordllama", svc(CRVAEEmbedder(**COMMON, text_encoder=recurrent())),
         ">= 0.63"),
        # the earlier defaults: "auto" gives beta 1.0 and both mean-vector paths with wordllama
        ("CRVAE, wordllama, beta=0.05",
         svc(CRVAEEmbedder(**COMMON, text_encoder=recurrent(), beta=0.05)), "—"),
        ("CRVAE, wordllama, mean_pooling=False, mean_vector_weight=0, beta=0.05",
         svc(CRVAEEmbedder(**COMMON, text_encoder=recurrent(mean_pooling=False,
                                                            mean_vector_weight=0.0),
                           beta=0.05)), "—"),
        ("CRVAE, wordllama, n_components=64",
         svc(CRVAEEmbedder(**COMMON, text_encoder=recurrent(), n_components=64)), "—"),
        # the text modality as a column of mean wordllama vectors, rebuilt by MSE
        ("CRVAE with text_encoder=\"passthrough\" (mean wordllama vectors)",
         svc(CRVAEEmbedder(**COMMON, text_col=MEAN_COLUMN, text_encoder="passthrough")),
         "—"),
        ("MMEDA-II, wordllama (TF-IDF + mean vectors)",
         svc(MMEDAEmbedder(**MMEDA, text_encoder=TextMatrix(**WL))), ">= 0.63"),
        ("MMEDA-II, wordllama, text_code=128, n_components=64",
         svc(MMEDAEmbedder(**MMEDA, text_encoder=TextMatrix(**WL), text_code=128,
                           n_components=64)), "—"),
        ("MMEDA-II, wordllama, mean vectors only",
         svc(MMEDAEmbedder(**MMEDA, text_encoder=TextMatrix("word2vec", **WL))), "—"),
        ("common space, wordllama", svc(CommonSpaceEmbedder(
            modalities={"image": ("image", ConvEncoder(image_size=32)),
                        "en": ("text", MeanWordEncoder(**WL))}, random_state=0, n_threads=1)),
         ">= 0.70"),
    ]


def epochs(fitted) -> str:
    """`` (epochs a/b, ...)``: per fold, the embedder's ``n_epochs_/max_epochs_``, if any."""
    embedders = [est.steps[0][1] if hasattr(est, "steps") else est for est in fitted]
    if not all(hasattr(e, "n_epochs_") for e in embedders):
        return ""
    return " (epochs " + ", ".join(f"{e.n_epochs_}/{e.max_epochs_}" for e in embedders) + ")"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names (prefixes)")
    parser.add_argument("--exact", default=None, help="semicolon-separated whole names")
    args = parser.parse_args(argv)
    X = load_emoji(image_size=32)
    # row by row, so computed once for all folds: wordllama's mean over each name's pieces
    X[MEAN_COLUMN] = list(MeanWordVectors(**WL).fit_transform(X))
    y = X["group"].to_numpy()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    rows = ["| representation | macro-F1 (3 folds) | target | fit + predict |",
            "| --- | ---: | ---: | ---: |"]
    for name, est, target in contenders():
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        if args.exact and name not in args.exact.split(";"):
            continue
        start = time.perf_counter()
        result = cross_validate(est, X, y, cv=cv, scoring="f1_macro", return_estimator=True)
        seconds = time.perf_counter() - start
        scores = result["test_score"]
        rows.append(f"| {name} | {np.mean(scores):.3f} ± {np.std(scores):.3f} | {target} | "
                    f"{seconds:.0f} s{epochs(result['estimator'])} |")
        print(rows[-1], flush=True)
    text = "\n".join(["# Emoji groups with pretrained token vectors (wordllama)", "",
                      f"`python benchmarks/pretrained_encoders.py` on {machine()}.", "",
                      __doc__.split("\n\n")[3].replace("\n", " "), "", *rows, ""])
    print(text)
    path = RESULTS / "pretrained_encoders.md"
    if args.only or args.exact:  # refresh the rows run, keep the others
        text = refresh_rows(path, text, rows[2:], [c[0] for c in contenders()])
    path.write_text(text)


if __name__ == "__main__":
    main()
