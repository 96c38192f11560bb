"""The downstream protocol of the MMEDA paper on the bundled emoji dataset.

    python benchmarks/mmeda_protocol.py [--quick] [--image-size 32] [--epochs 15]
                                        [--conv-epochs 10] [--rows N]

Every representation is fitted on the training rows only (an inductive
transformer), then three downstream models are trained on its output:

* classification of the emoji ``group`` (9 classes) with
  ``RandomForestClassifier(max_depth=2, random_state=0)`` and with
  ``LinearSVC`` (after ``StandardScaler``): F1 (macro), accuracy, precision
  (macro), recall (macro), and how many distinct classes the model predicts
  (a shallow forest that predicts one class shows as such);
* regression of the Emoji ``version`` with ``LinearRegression``: MSE.

Two protocols: an 80/20 stratified split, and stratified 5-fold
cross-validation (mean ± standard deviation over the folds). Rows:
majority class / mean predictor, a supervised MLP on the concatenated inputs
(pixels + mean word vectors; the paper's baseline, its own classifier and
regressor), each single modality, early fusion, collective MF, AE MF,
ConvAE MF, MMEDA-I, MMEDA-II. The MMEDA rows train their own CNN over the
pixels and read the word-based text matrix (``image_encoder="cnn",
text_encoder="auto"``, pinned: the embedder's defaults are now the frozen
pretrained towers, which the baselines here do not get).

Writes ``benchmarks/results/mmeda_protocol.md`` and ``mmeda_protocol.png``
(``mmeda_protocol_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_squared_error,
    precision_score,
    recall_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skmm.baselines import AutoencoderMF, CollectiveMF, ConvAutoencoder, EarlyFusion, ImageFeatures
from skmm.datasets import load_emoji
from skmm.embedders.mmeda import MMEDAEmbedder
from skmm.encoders import ConvEncoder, TextMatrix
from skmm.inputs import TextFeatures

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SEED = 0


def representations(size: int, epochs: int, conv_epochs: int) -> dict:
    """Name -> factory of an unfitted, seeded representation transformer."""
    n = 50  # the paper's representation width
    conv = dict(image_size=size, n_components=n, max_epochs=conv_epochs, random_state=SEED)
    # the CNN and word-based text path, not the defaults (the frozen pretrained towers)
    mmeda = dict(image_encoder=ConvEncoder(image_size=size), text_encoder=TextMatrix(),
                 n_components=n, max_epochs=epochs, random_state=SEED)
    return {
        "text only: mean word vectors": lambda: TextFeatures(random_state=SEED),
        "image only: PCA of pixels": lambda: ImageFeatures(image_size=size, random_state=SEED),
        "early fusion (PCA pixels + mean word vectors)":
            lambda: EarlyFusion(image_size=size, random_state=SEED),
        "collective MF (PCA pixels, word vectors)":
            lambda: CollectiveMF(n_components=n, image_size=size, random_state=SEED),
        "AE MF (PCA pixels + word vectors)":
            lambda: AutoencoderMF(image_features="pca", image_size=size, n_components=n,
                                  max_epochs=epochs, random_state=SEED),
        "ConvAE MF": lambda: AutoencoderMF(image_features=ConvAutoencoder(**conv),
                                           n_components=n, max_epochs=epochs,
                                           random_state=SEED),
        "MMEDA-I": lambda: MMEDAEmbedder(variant="I", **mmeda),
        "MMEDA-II": lambda: MMEDAEmbedder(variant="II", **mmeda),
    }


def classification_metrics(y_true, y_pred) -> dict:
    """F1, accuracy, precision, recall (macro) and the number of classes predicted."""
    return {"F1 macro": f1_score(y_true, y_pred, average="macro", zero_division=0),
            "accuracy": accuracy_score(y_true, y_pred),
            "precision": precision_score(y_true, y_pred, average="macro", zero_division=0),
            "recall": recall_score(y_true, y_pred, average="macro", zero_division=0),
            "classes predicted": len(np.unique(y_pred))}


def downstream(Z_train, Z_test, g_train, g_test, v_train, v_test):
    """Train the protocol's three models on a representation; return metric rows."""
    rows = []
    classifiers = {
        "RandomForest(max_depth=2)": RandomForestClassifier(max_depth=2, random_state=0),
        "LinearSVC": make_pipeline(StandardScaler(), LinearSVC(max_iter=5000, random_state=0)),
    }
    for name, clf in classifiers.items():
        pred = clf.fit(Z_train, g_train).predict(Z_test)
        rows.append(("classification", name, classification_metrics(g_test, pred)))
    reg = LinearRegression().fit(Z_train, v_train)
    rows.append(("regression", "LinearRegression",
                 {"MSE": mean_squared_error(v_test, reg.predict(Z_test))}))
    return rows


def run_split(X, train, test, reps, mlp_iter):
    """All rows of the table for one train/test split."""
    Xtr, Xte = X.iloc[train], X.iloc[test]
    g_train, g_test = Xtr["group"].to_numpy(), Xte["group"].to_numpy()
    v_train, v_test = Xtr["version"].to_numpy(), Xte["version"].to_numpy()
    out = []
    # majority class / mean predictor
    pred = DummyClassifier(strategy="most_frequent").fit(Xtr, g_train).predict(Xte)
    out.append(("majority class / mean", "classification", "most frequent class",
                classification_metrics(g_test, pred), 0.0))
    reg = DummyRegressor().fit(Xtr, v_train)
    out.append(("majority class / mean", "regression", "mean",
                {"MSE": mean_squared_error(v_test, reg.predict(Xte))}, 0.0))
    # the supervised MLP on the concatenated inputs (pixels + mean word vectors)
    t = time.perf_counter()
    inputs = EarlyFusion(image_features="pixels", image_size=X.attrs["size"], random_state=SEED)
    Ztr = inputs.fit_transform(Xtr)
    Zte = inputs.transform(Xte)
    mlp = dict(hidden_layer_sizes=(256,), max_iter=mlp_iter, early_stopping=True,
               random_state=SEED)
    pred = MLPClassifier(**mlp).fit(Ztr, g_train).predict(Zte)
    reg = TransformedTargetRegressor(MLPRegressor(**mlp), transformer=StandardScaler())
    reg.fit(Ztr, v_train)
    elapsed = time.perf_counter() - t
    out.append(("supervised MLP (pixels + word vectors)", "classification", "MLP",
                classification_metrics(g_test, pred), elapsed))
    out.append(("supervised MLP (pixels + word vectors)", "regression", "MLP",
                {"MSE": mean_squared_error(v_test, reg.predict(Zte))}, elapsed))
    for rep_name, factory in reps.items():
        t = time.perf_counter()
        rep = factory()
        Z_train = rep.fit_transform(Xtr)
        Z_test = rep.transform(Xte)
        elapsed = time.perf_counter() - t
        for task, model, metrics in downstream(Z_train, Z_test, g_train, g_test,
                                               v_train, v_test):
            out.append((rep_name, task, model, metrics, elapsed))
        print(f"  {rep_name}: {elapsed:.1f} s", flush=True)
    return out


def tables(records: list, protocol: str) -> list[str]:
    """Markdown tables (classification, regression) of one protocol."""
    frame = pd.DataFrame(records)
    lines = []
    for task, metrics in [("classification", ["F1 macro", "accuracy", "precision", "recall",
                                              "classes predicted"]),
                          ("regression", ["MSE"])]:
        sub = frame[frame["task"] == task]
        header = ["representation", "model", *metrics, "fit + transform s"]
        target = "emoji group (9 classes)" if task == "classification" else "Emoji version"
        lines += [f"**{protocol}: {target} {task}**", "",
                  "| " + " | ".join(header) + " |",
                  "| " + " | ".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + " |"]
        for (rep, model), group in sub.groupby(["representation", "model"], sort=False):
            cells = [rep, model]
            for m in metrics:
                values = np.array([r[m] for r in group["metrics"]], dtype=float)
                fmt = "{:.1f}" if m == "classes predicted" else "{:.3f}"
                cell = fmt.format(values.mean())
                if len(values) > 1:
                    cell += " ± " + fmt.format(values.std())
                cells.append(cell)
            cells.append(f"{group['seconds'].mean():.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def chart(records: list, path: Path, title: str) -> None:
    """Bar chart of cross-validated F1 (both classifiers) and version MSE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(records)
    reps = list(dict.fromkeys(frame["representation"]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [2, 1]})
    y = np.arange(len(reps))
    cls = frame[frame["task"] == "classification"]
    width = 0.8 / 2
    for j, model in enumerate(["RandomForest(max_depth=2)", "LinearSVC"]):
        means, errs = [], []
        for rep in reps:
            rows = cls[(cls["representation"] == rep) & (cls["model"] == model)]
            if not len(rows):  # majority / MLP have their own models
                rows = cls[cls["representation"] == rep]
            f1 = np.array([m["F1 macro"] for m in rows["metrics"]])
            means.append(f1.mean())
            errs.append(f1.std())
        ax1.barh(y + (j - 0.5) * width, means, width, xerr=errs, label=model)
    ax1.set_yticks(y, reps)
    ax1.invert_yaxis()
    ax1.set_xlabel("F1 macro (emoji group), 5-fold CV")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2)
    reg = frame[frame["task"] == "regression"]
    mse = [np.mean([m["MSE"] for m in reg[reg["representation"] == r]["metrics"]]) for r in reps]
    ax2.barh(y, mse, color="grey")
    ax2.set_yticks(y, [""] * len(reps))
    ax2.invert_yaxis()
    ax2.set_xlabel("MSE (Emoji version), 5-fold CV")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(args, X, results, wall) -> list[str]:
    """The markdown report of the results so far."""
    cols = ["representation", "task", "model", "metrics", "seconds", "fold"]
    command = "python benchmarks/mmeda_protocol.py " + " ".join(args.argv)
    lines = [
        "# MMEDA: the paper's downstream protocol on the emoji dataset", "",
        f"Machine: {machine()}", "",
        f"Command: `{command.strip()}`", "",
        f"Data: `load_emoji({args.image_size})`, {len(X):,} emoji, "
        f"{X['group'].nunique()} groups; representations of width 50 where the method has "
        f"one; MMEDA / AE MF {args.epochs} epochs, ConvAE {args.conv_epochs} epochs, "
        f"batch 64, Adam 1e-3, seed {SEED}. Every representation is fitted on the "
        "training rows of each split only; the last column is its fit + transform time "
        f"per split. Total wall time {wall / 60:.1f} min.", "",
    ]
    for protocol, recs in results.items():
        lines += tables([dict(zip(cols, r)) for r in recs], protocol)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="300 rows, 16-pixel images, 2 epochs: a smoke test")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=15, help="MMEDA and AE MF epochs")
    parser.add_argument("--conv-epochs", type=int, default=10,
                        help="epochs of the conv autoencoder of ConvAE MF")
    parser.add_argument("--rows", type=int, default=None, help="stratified subsample")
    parser.add_argument("--mlp-iter", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.image_size, args.epochs, args.conv_epochs = 16, 2, 2
        args.rows, args.mlp_iter = args.rows or 300, 30
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.perf_counter()
    X = load_emoji(args.image_size)
    if args.rows and args.rows < len(X):
        X, _ = train_test_split(X, train_size=args.rows, stratify=X["group"],
                                random_state=SEED)
    X = X.reset_index(drop=True)
    X.attrs["size"] = args.image_size
    reps = representations(args.image_size, args.epochs, args.conv_epochs)

    results = {}
    train, test = train_test_split(np.arange(len(X)), test_size=0.2, stratify=X["group"],
                                   random_state=SEED)
    print("80/20 split", flush=True)
    results["80/20 split"] = [(*r, 0) for r in run_split(X, train, test, reps, args.mlp_iter)]
    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    records = []
    suffix = "_quick" if args.quick else ""
    for fold, (train, test) in enumerate(cv.split(X, X["group"])):
        print(f"fold {fold}", flush=True)
        records += [(*r, fold) for r in run_split(X, train, test, reps, args.mlp_iter)]
        for key in [k for k in results if k.startswith("5-fold")]:
            results.pop(key)
        results["5-fold CV" if fold == 4 else f"5-fold CV (folds 0-{fold} of 5 only)"] = records
        lines = report(args, X, results, time.perf_counter() - start)
        out = RESULTS / f"mmeda_protocol{suffix}.md"
        RESULTS.mkdir(exist_ok=True)
        out.write_text("\n".join(lines) + "\n")  # after every fold: partial results survive
    cols = ["representation", "task", "model", "metrics", "seconds", "fold"]
    chart([dict(zip(cols, r)) for r in records], RESULTS / f"mmeda_protocol{suffix}.png",
          f"Emoji ({len(X):,} rows, {args.image_size}px): 5-fold CV")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
