"""pytest-benchmark timings of CRVAEEmbedder on a fixed subset (``make benchmark``).

Keep a reference with ``pytest benchmarks --benchmark-only --benchmark-json
benchmarks/results/benchmark.json`` and compare a change against it with
``--benchmark-compare``. The model is the trained CNN and recurrent text path
(``ConvEncoder(image_size=32)`` and ``RecurrentTextEncoder()``), pinned: the defaults are now
the frozen pretrained towers, which these timings do not follow.
"""

import pytest

from skmm import CRVAEEmbedder
from skmm.datasets import make_shapes
from skmm.encoders import ConvEncoder, RecurrentTextEncoder

PARAMS = dict(image_encoder=ConvEncoder(image_size=32), text_encoder=RecurrentTextEncoder(),
              n_components=16, max_epochs=2, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(512, image_size=32, random_state=0)


@pytest.fixture(scope="module")
def fitted(X):
    return CRVAEEmbedder(**PARAMS).fit(X)


def test_fit_two_epochs(benchmark, X):
    benchmark.pedantic(lambda: CRVAEEmbedder(**PARAMS).fit(X), rounds=3, iterations=1)


def test_transform_512_rows(benchmark, X, fitted):
    Z = benchmark(fitted.transform, X)
    assert Z.shape == (512, 16)
