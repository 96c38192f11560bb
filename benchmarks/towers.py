"""The pretrained towers on the emoji groups: what five lines give, and what skmm adds.

    python benchmarks/towers.py [--only NAME,...] [--sizes]

(``--only``: the named rows are measured and replaced in the results file;
``--sizes``: only the input-size table, written to ``towers_sizes.md``.)

The protocol of the towers issue: ``load_emoji(image_size=224)`` (1,914
glyphs, the 9 ``group`` labels), 3-fold stratified cross-validation
(shuffled, seed 0), 2 torch threads. Baselines: StandardScaler +
LogisticRegression on the frozen towers' features (EfficientNet-Lite0 of the
glyphs, the multilingual USE of the English or Chinese names), their
concatenation, the mean of the two single-tower models' probabilities (late
fusion), an RBF SVC on both (each L2-normalised) and a PCA of the
standardised concatenation to the embedders' width. Embedders: each with
``image_encoder="efficientnet_lite0", text_encoder="use"``, scored by the
better of LogisticRegression and LinearSVC on the standardised embedding of
the held-out fold (both are reported); the supervised common space learns
from the training folds' groups. NMI: KMeans (9 clusters, seeded) on the
held-out fold's representation. "fit per fold" is the mean time to fit on
two folds and embed the third, with the towers' features already cached
(they are computed once per process, before the first row). Writes
``benchmarks/results/towers.md`` with the machine line.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine, refresh_rows  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score, normalized_mutual_info_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import Normalizer, StandardScaler  # noqa: E402
from sklearn.svm import SVC, LinearSVC  # noqa: E402

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder  # noqa: E402
from skmm.datasets import load_emoji  # noqa: E402
from skmm.encoders import ImageTower, TextTower
from skmm.towers import feature_cache  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
TOWERS = dict(image_encoder="efficientnet_lite0", text_encoder="use", random_state=0,
              n_threads=THREADS)
#: The common space's: each modality's default encoder is the tower of its kind.
SPACE = {k: v for k, v in TOWERS.items() if k not in ("image_encoder", "text_encoder")}
K = 32


def _features(X, text_col="text"):
    image = ImageTower("image", n_threads=THREADS).fit_transform(X)
    text = TextTower(text_col, n_threads=THREADS).fit_transform(X)
    return image, text


def _lr():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


def _svc():
    return make_pipeline(StandardScaler(), LinearSVC(max_iter=5000))


def contenders():
    """(name, kind, how, target): kind "features" (a function of the two feature
    blocks), "late" (late fusion) or "embedder" (an estimator, supervised or not)."""
    both = lambda im, tx: np.hstack([im, tx])  # noqa: E731
    return [
        ("USE of the English names + LR", "features", (lambda im, tx: tx, _lr), "0.835 (issue)"),
        ("USE of the Chinese names + LR", "features_zh", (lambda im, tx: tx, _lr),
         "0.76-0.77 (issue)"),
        ("EfficientNet-Lite0 + LR", "features", (lambda im, tx: im, _lr), "0.678 (issue)"),
        ("towers concatenated + LR", "features", (both, _lr), "0.837 (issue)"),
        ("towers late fusion (mean of the two LR's probabilities)", "late", None,
         "0.840 (issue)"),
        ("RBF SVC on both (each L2-normalised)", "features",
         (lambda im, tx: np.hstack([Normalizer().transform(im), Normalizer().transform(tx)]),
          lambda: SVC()), "0.867 (issue)"),
        (f"PCA of the towers concatenated, {K} dims + LR", "features",
         (both, lambda: make_pipeline(StandardScaler(), PCA(K, random_state=0), _lr())),
         "0.758 (issue)"),
        ("common space (towers)", "embedder",
         (CommonSpaceEmbedder(modalities={"image": "image", "en": "text"}, **SPACE), True),
         ">= 0.88"),
        ("common space (towers, Chinese names)", "embedder",
         (CommonSpaceEmbedder(modalities={"image": "image", "zh": "text_zh"}, **SPACE), True),
         ">= 0.85"),
        (f"CRVAE (towers, {K} dims)", "embedder",
         (CRVAEEmbedder(n_components=K, **TOWERS), False), ">= 0.80, NMI >= 0.50"),
        (f"MMEDA-II (towers, {K} dims)", "embedder",
         (MMEDAEmbedder(n_components=K, **TOWERS), False), ">= 0.80, NMI >= 0.50"),
    ]


def _nmi(Z, y):
    labels = KMeans(len(np.unique(y)), n_init=10, random_state=0).fit_predict(Z)
    return normalized_mutual_info_score(y, labels)


def evaluate(kind, how, X, y, blocks, folds):
    """Per fold: {"f1": best head, "lr", "svc", "nmi", "seconds"}."""
    out = []
    for train, test in folds:
        start = time.perf_counter()
        record = {}
        if kind == "embedder":
            est, supervised = how
            est = clone(est)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                Z_train = (est.fit_transform(X.iloc[train], y[train]) if supervised
                           else est.fit_transform(X.iloc[train]))
            Z_test = est.transform(X.iloc[test])
            for head, make in (("lr", _lr), ("svc", _svc)):
                pred = make().fit(Z_train, y[train]).predict(Z_test)
                record[head] = f1_score(y[test], pred, average="macro")
            record["f1"] = max(record["lr"], record["svc"])
            record["nmi"] = _nmi(Z_test, y[test])
        elif kind == "late":
            image, text = blocks["text"]
            probs = [_lr().fit(F[train], y[train]).predict_proba(F[test]) for F in (image, text)]
            classes = np.unique(y[train])
            record["f1"] = f1_score(y[test], classes[np.mean(probs, 0).argmax(1)],
                                    average="macro")
        else:
            select, make = how
            F = select(*blocks["text_zh" if kind == "features_zh" else "text"])
            model = make().fit(F[train], y[train])
            record["f1"] = f1_score(y[test], model.predict(F[test]), average="macro")
            # clustered: what the linear head reads (standardised features, or their PCA)
            scaled = (model[:-1].transform(F[test]) if hasattr(model, "steps")
                      else StandardScaler().fit(F[train]).transform(F[test]))
            record["nmi"] = _nmi(scaled, y[test])
        record["seconds"] = time.perf_counter() - start
        out.append(record)
    return out


def _cell(records, key):
    values = [r[key] for r in records if r.get(key) is not None]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "—"


def sizes(X, y, folds):
    """Image features of the 1,914 glyphs at a few input sizes: time and quality."""
    rows = ["| input size | precision | image features (1,914 glyphs) | EfficientNet + LR "
            "| concatenated with USE + LR |", "| ---: | --- | ---: | ---: | ---: |"]
    text = TextTower("text", n_threads=THREADS).fit_transform(X)
    for size, precision in [(96, "bf16"), (128, "bf16"), (160, "bf16"), (224, "bf16"),
                            (128, "float32"), (224, "float32")]:
        feature_cache.clear()
        tower = ImageTower("image", image_size=size, precision=precision, n_threads=THREADS)
        tower.fit(X.iloc[:2]).transform(X.iloc[:2])  # the weights load once, outside the timing
        feature_cache.clear()
        start = time.perf_counter()
        image = tower.transform(X)
        seconds = time.perf_counter() - start
        f1 = [np.mean([f1_score(y[te], _lr().fit(F[tr], y[tr]).predict(F[te]),
                                average="macro") for tr, te in folds])
              for F in (image, np.hstack([image, text]))]
        rows.append(f"| {size} px | {tower.precision_} | {seconds:.1f} s | {f1[0]:.3f} "
                    f"| {f1[1]:.3f} |")
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names (prefixes)")
    parser.add_argument("--sizes", action="store_true", help="only the input-size table")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    X = load_emoji(image_size=224)
    y = X["group"].to_numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    if args.sizes:
        rows = sizes(X, y, folds)
        text = "\n".join(["# Image tower input size: time against quality", "",
                          f"`python benchmarks/towers.py --sizes` on {machine()}.", "",
                          "EfficientNet-Lite0 features of the 1,914 emoji glyphs (rendered at "
                          "224 px, resized by the tower), the cache emptied before each row "
                          "and the weights already loaded; macro-F1 of StandardScaler + "
                          "LogisticRegression, 3 folds (the protocol of towers.md).", "",
                          *rows, ""])
        print(text)
        (RESULTS / "towers_sizes.md").write_text(text)
        return
    start = time.perf_counter()
    blocks = {"text": _features(X)}
    first = time.perf_counter() - start
    blocks["text_zh"] = _features(X, "text_zh")
    rows = ["| representation | macro-F1 (best head) | LogisticRegression | LinearSVC "
            "| KMeans NMI | target | fit per fold |",
            "| --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    for name, kind, how, target in contenders():
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        records = evaluate(kind, how, X, y, blocks, folds)
        rows.append(f"| {name} | {_cell(records, 'f1')} | {_cell(records, 'lr')} | "
                    f"{_cell(records, 'svc')} | {_cell(records, 'nmi')} | {target} | "
                    f"{np.mean([r['seconds'] for r in records]):.1f} s |")
        print(rows[-1], flush=True)
    text = "\n".join(["# The pretrained towers on the emoji groups", "",
                      f"`python benchmarks/towers.py` on {machine()}.", "",
                      __doc__.split("\n\n")[3].replace("\n", " "), "",
                      f"Both towers' features of the 1,914 rows, computed once before the "
                      f"table (weights loaded, images decoded, EfficientNet-Lite0 at 128 px "
                      f"and USE): {first:.0f} s.", "", *rows, ""])
    print(text)
    path = RESULTS / "towers.md"
    if args.only and path.exists():  # refresh the rows run, keep the others
        text = refresh_rows(path, text, rows[2:], [c[0] for c in contenders()])
    path.write_text(text)


if __name__ == "__main__":
    main()
