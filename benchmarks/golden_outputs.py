"""Record (or compare) every public estimator's output on one fixed small input.

A refactoring tool: before moving code, record; after, compare. Each estimator
is fitted on ``make_shapes(48, image_size=16, random_state=0)`` with a tiny
configuration, a fixed seed and one torch thread, and its outputs (transform,
predict, score, loss history) are saved to an ``.npz`` file.

    python benchmarks/golden_outputs.py record before.npz
    python benchmarks/golden_outputs.py compare before.npz

``compare`` prints, per estimator and output, "identical" or the largest
absolute difference, and exits non-zero when anything differs.

The three embedders are pinned to the trained CNN and word-based text
encoders, as encoder objects (CRVAE's: a ``ConvEncoder`` and a
``RecurrentTextEncoder`` over Word2Vec; MMEDA's: a ``ConvEncoder`` and
``TextMatrix()``, TF-IDF; the common space's per modality: a ``ConvEncoder``
and a ``MeanWordEncoder``), the defaults before the pretrained towers became
them, so that files recorded before that change still compare.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
from skmm.baselines import (
    AutoencoderMF,
    CollectiveMF,
    ConvAutoencoder,
    EarlyFusion,
    ImageCNNClassifier,
    ImageFeatures,
    LateFusionClassifier,
    TextSVMClassifier,
)
from skmm.baselines.neural import LSTM_SETTINGS
from skmm.datasets import make_shapes
from skmm.encoders import ConvEncoder, MeanWordEncoder, RecurrentTextEncoder, TextMatrix
from skmm.inputs import ImageLoader, MeanWordVectors, TextEncoder, TextFeatures

NET = dict(max_epochs=2, batch_size=16, random_state=0)
#: The factorization baselines' blocks: 5 pixel PCs and 8 Word2Vec dimensions.
SMALL = dict(n_image_components=5, text_encoder=TextMatrix("word2vec", vector_size=8),
             random_state=0)
#: The encoders recorded: the trained CNN and the word-based text encoders
#: (not the defaults, the frozen pretrained towers).
#: CRVAE's: the CNN and the recurrent net over Word2Vec.
CRVAE_CLASSIC = dict(image_encoder=ConvEncoder(image_size=16, channels=4),
                     text_encoder=RecurrentTextEncoder(hidden_size=8, vector_size=8))
#: The common space's, per modality: the CNN and the mean of the word vectors.
CLASSIC_SPACE = {"image": ("image", ConvEncoder(image_size=16, channels=4)),
                 "text": ("text", MeanWordEncoder(vector_size=8))}
MMEDA_CLASSIC = dict(image_encoder=ConvEncoder(image_size=16, channels=4),
                     text_encoder=TextMatrix())  # MMEDA: the CNN and TF-IDF


def estimators():
    """(name, estimator, kind) of every public estimator, tiny and seeded."""
    return [
        ("CRVAEEmbedder", CRVAEEmbedder(n_components=4, fusion_size=16, **CRVAE_CLASSIC, **NET),
         "embedder"),
        ("CRVAEEmbedder-valid", CRVAEEmbedder(n_components=4, fusion_size=16,
                                              validation_fraction=0.25, **CRVAE_CLASSIC, **NET),
         "embedder"),
        ("MMEDAEmbedder-II", MMEDAEmbedder(n_components=4, image_code=8, text_code=8,
                                           hidden_size=16, fusion_size=16, **MMEDA_CLASSIC,
                                           **NET),
         "embedder"),
        ("MMEDAEmbedder-I-valid", MMEDAEmbedder(n_components=4, image_code=8, text_code=8,
                                                hidden_size=16, fusion_size=16, variant="I",
                                                validation_fraction=0.25, **MMEDA_CLASSIC,
                                                **NET),
         "embedder"),
        ("CommonSpaceEmbedder", CommonSpaceEmbedder(CLASSIC_SPACE, n_components=8,
                                                    hidden_size=16,
                                                    **{**NET, "batch_size": 32}),
         "supervised"),
        ("CommonSpaceEmbedder-mcvs", CommonSpaceEmbedder(
            CLASSIC_SPACE, n_components=8, hidden_size=16, strategy="mcvs",
            **{**NET, "batch_size": 32}), "supervised"),
        ("TextSVMClassifier", TextSVMClassifier(), "classifier"),
        ("ImageCNNClassifier", ImageCNNClassifier(image_size=16, channels=(4, 8), hidden_size=16,
                                                  **NET), "classifier"),
        ("LateFusionClassifier", LateFusionClassifier(
            image_size=16, channels=(4, 8), dense_size=8,
            text_encoder=RecurrentTextEncoder(**{**LSTM_SETTINGS, "hidden_size": 8,
                                                 "vector_size": 8}), **NET), "classifier"),
        ("ConvAutoencoder", ConvAutoencoder(image_size=16, n_components=4, conv_channels=4,
                                            **NET), "embedder"),
        ("ImageFeatures", ImageFeatures(n_image_components=5, random_state=0), "embedder"),
        ("EarlyFusion", EarlyFusion(**SMALL), "embedder"),
        ("CollectiveMF", CollectiveMF(n_components=4, **SMALL), "embedder"),
        ("AutoencoderMF", AutoencoderMF(image_size=16, n_components=4, n_image_components=5,
                                        text_encoder=TextMatrix("word2vec", vector_size=8),
                                        hidden_size=16, **NET), "embedder"),
        ("TextFeatures", TextFeatures(vector_size=8, random_state=0), "embedder"),
        ("MeanWordVectors", MeanWordVectors(vector_size=8, random_state=0), "text"),
        ("TextEncoder", TextEncoder(vector_size=8, random_state=0), "encoder"),
        ("ImageLoader", ImageLoader(image_size=16), "embedder"),
    ]


def outputs(name, est, kind, X, X_new, y):
    out = {}
    if kind == "encoder":
        est.fit(X["text"])
        tokens, lengths = est.encode(X_new["text"], column="text")
        return {"tokens": tokens, "lengths": lengths, "vectors": est.vectors_}
    if kind == "text":
        return {"transform": est.fit_transform(X), "new": est.transform(X_new)}
    if kind == "classifier":
        est.fit(X, y)
        out["predict"] = np.asarray(est.predict(X_new)).astype(str)
        if hasattr(est, "predict_proba"):
            out["proba"] = est.predict_proba(X_new)
    elif kind == "supervised":
        out["fit_transform"] = est.fit_transform(X, y)
        out["transform"] = est.transform(X_new)
        out["score"] = np.float64(est.score(X_new, y[: len(X_new)]))
    else:
        out["fit_transform"] = np.asarray(est.fit_transform(X))
        out["transform"] = np.asarray(est.transform(X_new))
        if hasattr(est, "score"):
            out["score"] = np.float64(est.score(X_new))
    net = getattr(est, "net_", None)
    if net is not None:
        for key in net.history[0]:
            if key.startswith(("train_", "valid_")):
                out[f"history_{key}"] = np.array(net.history[:, key], dtype=np.float64)
    return out


def record() -> dict:
    torch.set_num_threads(1)
    X = make_shapes(48, image_size=16, random_state=0)
    X_new = make_shapes(16, image_size=16, random_state=1)
    y = X["shape"].to_numpy()
    result = {}
    for name, est, kind in estimators():
        for key, value in outputs(name, est, kind, X, X_new, y).items():
            result[f"{name}/{key}"] = np.asarray(value)
        print(f"recorded {name}", file=sys.stderr)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["record", "compare"])
    parser.add_argument("path")
    args = parser.parse_args(argv)
    now = record()
    if args.mode == "record":
        np.savez(args.path, **now)
        return 0
    before = dict(np.load(args.path))
    bad = 0
    for key in sorted(set(before) | set(now)):
        if key not in now or key not in before:
            print(f"{key}: only {'before' if key in before else 'now'}")
            bad += 1
            continue
        a, b = before[key], now[key]
        if a.shape == b.shape and np.array_equal(a, b):
            print(f"{key}: identical")
        else:
            bad += 1
            diff = (np.abs(a.astype(float) - b.astype(float)).max()
                    if a.shape == b.shape and a.dtype.kind in "fiu" else "different")
            print(f"{key}: DIFFERS (max abs {diff})")
    print(f"{bad} outputs differ")
    return int(bad > 0)


if __name__ == "__main__":
    sys.exit(main())
