"""skmm.metrics latent diagnostics: kl_per_dimension, active_units, modality_probe."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from skmm.exceptions import MissingColumnError
from skmm.metrics import (
    PROBE_COLUMNS,
    active_units,
    kl_per_dimension,
    modality_probe,
    modality_references,
)

# --- kl_per_dimension ---------------------------------------------------------------


def test_kl_is_zero_at_the_prior():
    kl = kl_per_dimension(np.zeros((5, 3)), np.zeros((5, 3)))
    assert kl.shape == (3,) and kl.dtype == np.float64
    np.testing.assert_array_equal(kl, 0.0)


def test_kl_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    expected = np.zeros(4)
    for i in range(7):
        for j in range(4):
            var = np.exp(logvar[i, j])
            expected[j] += 0.5 * (mu[i, j] ** 2 + var - 1 - logvar[i, j]) / 7
    np.testing.assert_allclose(kl_per_dimension(mu, logvar), expected, rtol=1e-12)


def test_kl_known_values():
    # variance 2, mean 0: 0.5 * (2 - 1 - log 2); mean 3, variance 1: 0.5 * 9
    mu = np.array([[0.0, 3.0]])
    logvar = np.array([[np.log(2.0), 0.0]])
    np.testing.assert_allclose(kl_per_dimension(mu, logvar),
                               [0.5 * (1 - np.log(2.0)), 4.5])


def test_kl_is_accurate_near_the_prior_and_accepts_float32():
    logvar = np.full((2, 1), 1e-9, dtype=np.float32)
    kl = kl_per_dimension(np.zeros((2, 1), np.float32), logvar)
    assert kl.dtype == np.float64 and 0 <= kl[0] < 1e-17  # 0.25 * lv², not cancellation noise


@pytest.mark.parametrize("mu, logvar, name", [
    (np.zeros((4, 3)), np.zeros((4, 2)), "logvar"),
    (np.zeros((4, 3)), np.zeros((5, 3)), "logvar"),
    (np.zeros(3), np.zeros(3), "mu"),
    (np.zeros((4, 3)), np.zeros((4, 3, 1)), "logvar"),
    (np.full((4, 3), np.nan), np.zeros((4, 3)), "mu"),
])
def test_kl_rejects_bad_shapes_naming_the_argument(mu, logvar, name):
    with pytest.raises(ValueError, match=name):
        kl_per_dimension(mu, logvar)


# --- active_units -------------------------------------------------------------------


def _mu_with_variances(variances, n=400, seed=0):
    z = np.random.default_rng(seed).normal(size=(n, len(variances)))
    z = (z - z.mean(0)) / z.std(0)  # exactly unit variance
    return z * np.sqrt(variances) + 5.0  # an offset changes nothing


def test_active_units_counts_dimensions_above_the_threshold():
    mu = _mu_with_variances([0.0, 0.005, 0.02, 1.0, 3.0])
    assert active_units(mu) == 3
    assert active_units(mu, threshold=0.0) == 4
    assert active_units(mu, threshold=2.0) == 1
    assert active_units(mu, 10.0) == 0
    n, variance = active_units(mu, return_variance=True)
    assert n == 3 and isinstance(n, int)
    np.testing.assert_allclose(variance, [0.0, 0.005, 0.02, 1.0, 3.0], atol=1e-12)


def test_active_units_of_a_collapsed_latent_is_zero():
    mu = np.random.default_rng(1).normal(scale=1e-3, size=(100, 8))
    assert active_units(mu) == 0


def test_active_units_threshold_is_strict():
    mu = np.array([[0.0], [0.25]])  # variance exactly 0.015625
    assert active_units(mu, threshold=0.015625) == 0
    assert active_units(mu, threshold=0.0156) == 1


@pytest.mark.parametrize("mu, kwargs, match", [
    (np.zeros((1, 3)), {}, "mu"),
    (np.zeros(5), {}, "mu"),
    (np.zeros((5, 2)), {"threshold": -0.1}, "threshold"),
    (np.zeros((5, 2)), {"threshold": np.nan}, "threshold"),
    (np.zeros((5, 2)), {"threshold": "high"}, "threshold"),
])
def test_active_units_validates(mu, kwargs, match):
    with pytest.raises(ValueError, match=match):
        active_units(mu, **kwargs)


# --- modality_probe -----------------------------------------------------------------


@pytest.fixture(scope="module")
def linear_image_embedding():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(240, 6)) * np.array([3.0, 2.0, 1.5, 1.0, 0.5, 0.3])
    text = rng.normal(size=(240, 5))  # independent of the image
    Z = image @ rng.normal(size=(6, 8)) + 0.5  # linear in the image, rank 6
    return Z, image, text


def test_probe_knows_which_modality_an_embedding_keeps(linear_image_embedding):
    Z, image, text = linear_image_embedding
    probe = modality_probe(Z, {"image": image, "text": text})
    assert isinstance(probe, pd.DataFrame)
    assert list(probe.columns) == list(PROBE_COLUMNS)
    assert list(probe.index) == ["image", "text"] and probe.index.name == "reference"
    assert probe.loc["image", "r2"] > 0.99
    assert abs(probe.loc["text", "r2"]) < 0.1
    # the chance level says what "keeps nothing" looks like: about 0, slightly below
    assert (probe["r2_chance"].abs() < 0.15).all()
    assert abs(probe.loc["text", "r2"] - probe.loc["text", "r2_chance"]) < 0.1
    assert probe.loc["image", "r2_std"] < 0.01
    assert probe["n_features"].tolist() == [6, 5]
    assert (probe["n_components"] == 8).all() and (probe["n_samples"] == 240).all()


def test_probe_sees_both_modalities_in_a_fused_embedding(linear_image_embedding):
    _, image, text = linear_image_embedding
    Z = np.hstack([image, text[:, :2]])  # all of the image, part of the text
    probe = modality_probe(Z, {"image": image, "text": text})
    assert probe.loc["image", "r2"] > 0.99
    assert 0.2 < probe.loc["text", "r2"] < 0.7


def test_probe_is_deterministic_and_takes_a_splitter(linear_image_embedding):
    Z, image, text = linear_image_embedding
    refs = {"text": text, "image": image}
    a = modality_probe(Z, refs, random_state=3)
    pd.testing.assert_frame_equal(a, modality_probe(Z, refs, random_state=3))
    assert list(a.index) == ["text", "image"]  # the order given
    b = modality_probe(Z, refs, cv=KFold(4), random_state=3)
    assert b.loc["image", "r2"] > 0.99
    c = modality_probe(Z, refs, cv=5, alpha=1e-3)
    assert c.loc["image", "r2"] > 0.999


def test_probe_accepts_a_1d_reference_and_dataframes(linear_image_embedding):
    Z, image, _ = linear_image_embedding
    probe = modality_probe(pd.DataFrame(Z), {"first": image[:, 0],
                                             "all": pd.DataFrame(image)})
    assert probe.loc["first", "n_features"] == 1 and probe.loc["first", "r2"] > 0.99


@pytest.mark.parametrize("references, kwargs, match", [
    ({"image": np.zeros((10, 3))}, {}, r"references\['image'\] has 10 rows but Z has 240"),
    ({}, {}, "references"),
    (np.zeros((240, 3)), {}, "references must be a non-empty dict"),
    ({"image": np.full((240, 3), np.nan)}, {}, "references"),
    ({"image": np.zeros((240, 3))}, {"cv": 1}, "cv"),
    ({"image": np.zeros((240, 3))}, {"cv": "five"}, "cv"),
    ({"image": np.zeros((240, 3))}, {"alpha": -1.0}, "alpha"),
])
def test_probe_validates(linear_image_embedding, references, kwargs, match):
    Z = linear_image_embedding[0]
    with pytest.raises(ValueError, match=match):
        modality_probe(Z, references, **kwargs)


def test_probe_names_a_bad_embedding():
    with pytest.raises(ValueError, match="Z"):
        modality_probe(np.zeros(10), {"image": np.zeros((10, 2))})


# --- modality_references ------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes():
    from skmm.datasets import make_shapes

    return make_shapes(60, image_size=16, label="pair", random_state=0)


def test_references_of_a_table(shapes):
    refs = modality_references(shapes, n_components=6, image_size=12)
    assert list(refs) == ["image", "text"]
    for ref in refs.values():
        assert ref.shape == (60, 6) and ref.dtype == np.float64 and np.isfinite(ref).all()
    again = modality_references(shapes, n_components=6, image_size=12)
    for name in refs:
        np.testing.assert_allclose(refs[name], again[name])


def test_an_image_only_embedding_keeps_the_image_not_the_text(shapes):
    refs = modality_references(shapes, n_components=8, image_size=16)
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    Z = refs["image"] @ rotation  # what a linear pixel autoencoder might give
    probe = modality_probe(Z, refs)
    assert probe.loc["image", "r2"] > 0.95
    assert probe.loc["text", "r2"] < 0.3


def test_references_read_chinese_with_jieba_and_several_columns():
    from skmm.datasets import make_frames

    X = make_frames(24, image_size=(24, 40), random_state=0)
    refs = modality_references(X, text_col=["text", "text_zh"], n_components=4,
                               image_size=(12, 20))
    assert list(refs) == ["image", "text", "text_zh"]
    assert all(ref.shape == (24, 4) for ref in refs.values())
    only_text = modality_references(X, image_col=None, text_col="text_zh", n_components=4)
    assert list(only_text) == ["text_zh"]


def test_references_cap_the_number_of_components(shapes):
    refs = modality_references(shapes.iloc[:5], n_components=50, image_size=8)
    assert refs["image"].shape == (5, 5) and refs["text"].shape[0] == 5
    assert refs["text"].shape[1] <= 5


def test_references_validate(shapes):
    with pytest.raises(MissingColumnError, match="caption"):
        modality_references(shapes, text_col="caption")
    with pytest.raises(ValueError, match="both None"):
        modality_references(shapes, image_col=None, text_col=None)
    with pytest.raises(ValueError, match="n_components"):
        modality_references(shapes, n_components=0)
    with pytest.raises(TypeError, match="DataFrame"):
        modality_references(shapes.to_numpy())
    bad = shapes.copy()
    bad.loc[3, "text"] = None
    with pytest.raises(ValueError, match="text"):
        modality_references(bad, image_col=None)


def test_metrics_never_import_torch():
    code = ("import sys, numpy as np; import skmm.metrics as m; "
            "m.modality_probe(np.eye(6), {'a': np.eye(6)}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
