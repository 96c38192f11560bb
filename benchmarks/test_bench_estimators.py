"""pytest-benchmark: fit and transform/predict timings of every estimator and baseline.

All on one fixed subset (``make_shapes(128, image_size=32, random_state=0)``)
with small models and 2 epochs, so that a regression shows as a number::

    pytest benchmarks --benchmark-only -p no:randomly
    pytest benchmarks --benchmark-only --benchmark-json benchmarks/results/benchmark_reference.json
    pytest benchmarks --benchmark-only --benchmark-compare   # against a saved run

Estimators whose module is not installed are skipped. The three embedders are
pinned to the trained CNN at 32 pixels and word-based text encoders
(``RecurrentTextEncoder`` for CRVAE, ``"tfidf"`` for MMEDA, ``"mean"`` for the
common space), what the saved reference timed: their defaults are now the
frozen pretrained towers.
"""

import importlib

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm.datasets import make_shapes

SEED = 0
EPOCHS = dict(max_epochs=2, random_state=SEED)
#: The embedders' encoders timed: the trained CNN and the word-based text
#: encoders (not the defaults, the frozen pretrained towers).
#: CRVAE's: the CNN at 32 pixels (ConvEncoder()) and the recurrent net over Word2Vec.
CRVAE_CLASSIC = dict(image_encoder="cnn", text_encoder="recurrent")
#: The common space's, per modality: the CNN at 32 pixels and mean word vectors.
CLASSIC_SPACE = {"image": ("image", "cnn"), "en": ("text", "mean")}
#: MMEDA's: the CNN at 32 pixels and TF-IDF (the shortcuts of ConvEncoder() and TextMatrix()).
MMEDA_CLASSIC = dict(image_encoder="cnn", text_encoder="tfidf")


def _get(module, name):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is not available")


def _pixel_pca():
    from sklearn.decomposition import PCA

    from skmm.inputs import ImageLoader

    return make_pipeline(ImageLoader(image_size=32, mode="L"), StandardScaler(),
                         PCA(16, svd_solver="randomized", random_state=SEED))


#: name -> (factory, kind): "classifier" (fit with y, predict) or "embedder"
#: (fit, transform); supervised embedders take y too.
ESTIMATORS = {
    "TextSVMClassifier": (lambda: _get("skmm.baselines.classifiers", "TextSVMClassifier")(),
                          "classifier"),
    "ImageCNNClassifier": (lambda: _get("skmm.baselines.classifiers", "ImageCNNClassifier")(
        image_size=32, validation_fraction=None, **EPOCHS), "classifier"),
    "LateFusionClassifier": (lambda: _get("skmm.baselines.classifiers",
                                          "LateFusionClassifier")(
        image_size=32, validation_fraction=None, **EPOCHS), "classifier"),
    "pixel PCA": (_pixel_pca, "embedder"),
    "MeanWordVectors": (lambda: _get("skmm.inputs", "MeanWordVectors")(random_state=SEED),
                        "embedder"),
    "CRVAEEmbedder": (lambda: _get("skmm.embedders.crvae", "CRVAEEmbedder")(
        n_components=16, **CRVAE_CLASSIC, **EPOCHS), "embedder"),
    "MMEDAEmbedder": (lambda: _get("skmm.embedders.mmeda", "MMEDAEmbedder")(
        n_components=16, **MMEDA_CLASSIC, **EPOCHS), "embedder"),
    "ConvAutoencoder": (lambda: _get("skmm.baselines.autoencoders", "ConvAutoencoder")(
        image_size=32, n_components=16, **EPOCHS), "embedder"),
    "CollectiveMF": (lambda: _get("skmm.baselines.factorization", "CollectiveMF")(
        n_components=16, random_state=SEED), "embedder"),
    "AutoencoderMF": (lambda: _get("skmm.baselines.factorization", "AutoencoderMF")(
        image_features=_get("skmm.baselines.autoencoders", "ConvAutoencoder")(
            image_size=32, n_components=16, **EPOCHS),
        n_components=16, **EPOCHS), "embedder"),
    "EarlyFusion": (lambda: _get("skmm.baselines.factorization", "EarlyFusion")(
        random_state=SEED), "embedder"),
    "CommonSpaceEmbedder": (lambda: _get("skmm.embedders.common_space", "CommonSpaceEmbedder")(
        modalities=CLASSIC_SPACE, n_components=16, **EPOCHS),
        "supervised"),
}


@pytest.fixture(scope="module")
def data():
    X = make_shapes(128, image_size=32, random_state=SEED)
    return X, X["label"].to_numpy()


@pytest.fixture(scope="module")
def fitted(data):
    cache = {}

    def get(name):
        if name not in cache:
            factory, kind = ESTIMATORS[name]
            X, y = data
            cache[name] = factory().fit(X, y if kind != "embedder" else None)
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_fit(benchmark, data, name):
    factory, kind = ESTIMATORS[name]
    X, y = data
    template = factory()
    benchmark.group = "fit (128 rows, 32 px, 2 epochs)"
    benchmark.extra_info["kind"] = kind
    est = benchmark.pedantic(lambda: clone(template).fit(X, y if kind != "embedder" else None),
                             rounds=2, iterations=1, warmup_rounds=0)
    assert est is not None


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_transform_or_predict(benchmark, data, fitted, name):
    _, kind = ESTIMATORS[name]
    X, _ = data
    est = fitted(name)
    method = est.predict if kind == "classifier" else est.transform
    benchmark.group = "transform / predict (128 rows)"
    out = benchmark.pedantic(method, args=(X,), rounds=5, iterations=1, warmup_rounds=1)
    assert len(out) == len(X)
    if kind != "classifier":
        assert np.isfinite(np.asarray(out, dtype=float)).all()
