"""A user's image module (frozen or fine-tuned) and precomputed image vectors, in every embedder.

The modules are built here (no torchvision): a conv layer, batch normalisation,
dropout and a pooling layer, a pretrained backbone in miniature.
"""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from torch import nn

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
from skmm._encoding import PROBE_ROWS
from skmm.datasets import make_shapes
from skmm.encoders import ModuleEncoder
from skmm.exceptions import EncoderError, InvalidRowsError
from skmm.nn.encoders import ImageFeatureEncoder

EMBEDDERS = {"crvae": CRVAEEmbedder, "mmeda": MMEDAEmbedder, "common_space": CommonSpaceEmbedder}
#: small sizes; the text goes through the sentence tower (the default)
SIZES = {"crvae": dict(n_components=4, fusion_size=16, max_epochs=3, batch_size=16,
                       random_state=0),
         "mmeda": dict(n_components=4, image_code=8, text_code=8, hidden_size=16, fusion_size=16,
                       max_epochs=3, batch_size=16, random_state=0),
         "common_space": dict(n_components=8, hidden_size=16, max_epochs=3, batch_size=32,
                              random_state=0)}


class Backbone(nn.Module):
    """Float RGB in [0, 1] to (N, 6, 1, 1) features (flattened by skmm)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, stride=2)
        self.norm = nn.BatchNorm2d(6)
        self.drop = nn.Dropout(0.5)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        assert x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
        return self.pool(self.drop(torch.relu(self.norm(self.conv(x)))))


def user_module():
    torch.manual_seed(1)
    module = Backbone()
    module.conv.bias.requires_grad_(False)  # the user froze a parameter
    return module


def module_encoder(module, **settings):
    """The user's module as the image encoder, at the 16 pixels of the test images."""
    return ModuleEncoder(module, image_size=16, **settings)


def make(name, image_encoder=None, **params):
    """Embedder ``name`` with ``image_encoder`` (a module is wrapped by
    :func:`module_encoder`); in the common space it encodes the modality "image"."""
    if isinstance(image_encoder, nn.Module):
        image_encoder = module_encoder(image_encoder)
    params = {**SIZES[name], **params}
    if image_encoder is not None and name == "common_space":
        modalities = params.pop("modalities", {"image": "image", "text": "text"})
        params["modalities"] = {m: ((spec, image_encoder) if m == "image" else spec)
                                for m, spec in modalities.items()}
    elif image_encoder is not None:
        params["image_encoder"] = image_encoder
    return EMBEDDERS[name](**params)


def fit_transform(est, X):
    return est.fit_transform(X, X["label"]) if isinstance(est, CommonSpaceEmbedder) \
        else est.fit_transform(X)


def copies(est):
    """The encoders around the user's module inside a fitted embedder."""
    return [m for m in est.net_.module_.modules() if isinstance(m, ImageFeatureEncoder)]


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def frozen(X):
    """Per embedder: (fitted with a frozen module, the user's module, rows through it in
    fit, fit_transform's output)."""
    out = {}
    for name in EMBEDDERS:
        module = user_module()
        rows = []
        handle = module.register_forward_hook(lambda m, i, o, rows=rows: rows.append(len(o)))
        est = make(name, image_encoder=module)
        before = state(module)
        Z = fit_transform(est, X)
        n_fit = sum(rows)
        handle.remove()  # a hook (a local function) would not pickle
        for copy_ in copies(est):
            copy_.backbone._forward_hooks.clear()
        out[name] = est, module, before, n_fit, Z
    return out


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_frozen_module_runs_once_per_row_and_is_left_as_given(name, X, frozen):
    est, module, before, n_fit, Z = frozen[name]
    # the features are computed once per fit, not once per epoch (3 epochs here), after
    # a probe of the first PROBE_ROWS rows; the hook is copied with the module, so it
    # counts the rows through skmm's copy
    assert n_fit == PROBE_ROWS + len(X)
    assert_same_state(state(module), before)
    assert [p.requires_grad for p in module.parameters()] == [True, False, True, True]
    assert module.training  # still in the mode the user left it
    (encoder,) = copies(est)
    assert encoder.backbone is not module
    assert not any(p.requires_grad for p in encoder.parameters())
    assert_same_state(state(encoder.backbone), before)  # frozen: not trained, no BN update
    # transform computes the features again, batch by batch, the same way
    np.testing.assert_allclose(est.transform(X), Z, rtol=1e-5, atol=1e-6)
    assert np.isfinite(est.score(X, X["label"]) if name == "common_space" else est.score(X))


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_fine_tuning_trains_the_copy_at_its_own_rate(name, X):
    module = user_module()
    before = state(module)
    est = make(name, module_encoder(module, fine_tune=True, lr=0.05), max_epochs=2)
    fit_transform(est, X)
    assert_same_state(state(module), before)
    (encoder,) = copies(est)
    tuned = state(encoder.backbone)
    assert not torch.equal(tuned["conv.weight"], before["conv.weight"])
    torch.testing.assert_close(tuned["conv.bias"], before["conv.bias"])  # frozen by the user
    lrs = sorted(group["lr"] for group in est.net_.optimizer_.param_groups)
    assert lrs == [est._learning_rate(), 0.05]  # the model's rate ("auto" resolved)
    # by default a tenth of the model's rate
    est = make(name, module_encoder(user_module(), fine_tune=True), max_epochs=1)
    fit_transform(est, X)
    lrs = sorted(group["lr"] for group in est.net_.optimizer_.param_groups)
    assert lrs == [pytest.approx(est._learning_rate() / 10), est._learning_rate()]


def test_fine_tuning_computes_features_in_every_step(X):
    module = user_module()
    rows = []
    module.register_forward_hook(lambda m, i, o: rows.append(len(o)))
    make("crvae", module_encoder(module, fine_tune=True), max_epochs=2).fit(X)
    # a probe of the first 2 images, then every epoch: the training rows and the
    # latent diagnostics (the eval-mode posterior of every row)
    assert sum(rows) == 2 + 2 * (len(X) + len(X))


def test_clone_copies_the_module_and_get_params_returns_it():
    module = user_module()
    est = make("crvae", image_encoder=module)
    assert est.get_params()["image_encoder__module"] is module
    twin = clone(est)
    assert twin.image_encoder.module is not module
    assert_same_state(state(twin.image_encoder.module), state(module))
    # a module given as is: a frozen ModuleEncoder at its default size
    bare = CRVAEEmbedder(image_encoder=module)
    assert bare.get_params()["image_encoder"] is module
    assert_same_state(state(clone(bare).image_encoder), state(module))


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_pickle_keeps_the_module_and_the_transform(name, X, frozen):
    est, module, *_ = frozen[name]
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))
    given = (lambda e: e.encoders_["image"]) if name == "common_space" \
        else (lambda e: e.image_encoder_)
    assert isinstance(given(restored).module, Backbone)
    assert_same_state(state(given(restored).module), state(module))
    assert_same_state(state(given(copy.deepcopy(est)).module), state(module))


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_saved_from_cuda_loads_and_transforms_on_a_cpu_only_machine(name, X, frozen,
                                                                    monkeypatch):
    est, module, *_ = frozen[name]
    expected = est.transform(X)
    # A pickle made on a GPU: the storages of the net's module and optimizer and of
    # the user's module tagged CUDA (the shuffling generator stays on the CPU), the
    # net's device "cuda".
    tensors = [*est.net_.module_.state_dict().values(), *module.state_dict().values(),
               *(v for s in est.net_.optimizer_.state.values() for v in s.values()
                 if isinstance(v, torch.Tensor))]
    on_gpu = {t.untyped_storage().data_ptr() for t in tensors}
    tag = torch.serialization.location_tag
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag",
                  lambda s: "cuda:0" if s.data_ptr() in on_gpu else tag(s))
        m.setattr(est.net_, "device", "cuda")
        payload = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning: loaded on the CPU instead
        restored = pickle.loads(payload)
    assert str(restored.net_.device) == "cpu"
    assert restored.net_.module is restored.net_.module_  # pickled as one module, mapped
    assert all(t.device.type == "cpu" for t in restored.net_.module_.state_dict().values())
    given = restored.encoders_["image"] if name == "common_space" else restored.image_encoder_
    assert all(t.device.type == "cpu" for t in given.module.state_dict().values())
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_streamed_images_go_through_the_frozen_module_once(X):
    module = user_module()
    rows = []
    module.register_forward_hook(lambda m, i, o: rows.append(len(o)))
    make("crvae", image_encoder=module, cache="none", num_workers=0).fit(X)
    assert sum(rows) == PROBE_ROWS + len(X)


def test_partial_fit_caches_the_features_of_every_stage(X):
    module = user_module()
    rows = []
    module.register_forward_hook(lambda m, i, o: rows.append(len(o)))
    est = make("common_space", strategy="mcvs", modalities={"text": "text"},
               max_epochs=2).fit(X, X["label"])
    assert sum(rows) == 0
    est.set_params(modalities={"text": "text", "image": ("image", module_encoder(module))})
    est.partial_fit(X, X["label"])
    assert sum(rows) == PROBE_ROWS + len(X)  # the new modality's probe and features, once
    est.partial_fit(X, X["label"])
    assert sum(rows) == PROBE_ROWS + 2 * len(X)  # once more for the next stage


def test_a_module_with_another_output_is_refused(X):
    class Wrong(nn.Module):
        def forward(self, x):
            return x.mean((1, 2, 3))  # (N,): no feature axis

    with pytest.raises(EncoderError, match=r"image_encoder must map .* \(N, D\)"):
        make("mmeda", image_encoder=Wrong()).fit(X)


# ---- a user's module that fails ---------------------------------------------------


class Raises(nn.Module):
    def forward(self, x):
        raise KeyError("the user's bug")


class Gray(nn.Module):
    """Expects 1 channel: torch refuses the RGB images."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


class NaNs(nn.Module):
    def forward(self, x):
        return torch.full((len(x), 4), float("nan"))


class NotATensor(nn.Module):
    def forward(self, x):
        return x.mean((2, 3)).tolist()


class NaNAfterProbe(nn.Module):
    """Finite on the probe, NaN for the rows whose image is brightest later."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = x.mean((2, 3))
        if self.calls > 1:
            out[3] = float("nan")  # the 4th row of the first batch
        return out


FAILING = {"raises": (Raises, KeyError, "the user's bug"),
           "one_channel": (Gray, RuntimeError, "channels"),
           "nan": (NaNs, None, "non-finite"),
           "not_a_tensor": (NotATensor, ValueError, "returned a list")}


def fit(est, X):
    return est.fit(X, X["label"]) if isinstance(est, CommonSpaceEmbedder) else est.fit(X)


@pytest.mark.parametrize("case", list(FAILING))
@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_a_failing_module_is_reported_and_keeps_the_fitted_state(name, case, X, frozen):
    module_class, cause, text = FAILING[case]
    fitted, *_ = frozen[name]
    est = copy.deepcopy(fitted)
    net, expected = est.net_, est.transform(X)
    for fine_tune in (False, True):
        encoder = module_encoder(module_class(), fine_tune=fine_tune)
        if name == "common_space":
            est.set_params(modalities={"image": ("image", encoder), "text": "text"})
        else:
            est.set_params(image_encoder=encoder)
        with pytest.raises(EncoderError) as info:
            fit(est, X)
        message = str(info.value)
        assert isinstance(info.value, ValueError)
        assert "image_encoder" in message and type(est).__name__ in message
        assert module_class.__name__ in message
        assert "(2, 3, 16, 16)" in message and "torch.float32" in message  # the probe batch
        assert text in message
        if cause is None:
            assert info.value.__cause__ is None
        else:
            assert isinstance(info.value.__cause__, cause)
            assert str(info.value.__cause__).strip("'\"") in message or case == "one_channel"
        # the previous fit is untouched
        assert est.net_ is net
        np.testing.assert_array_equal(est.transform(X), expected)


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_non_finite_frozen_features_name_the_rows(name, X):
    Y = X.copy()
    Y.index = [f"item{i}" for i in range(len(X))]
    with pytest.raises(EncoderError, match=r"non-finite .* rows \['item3'\]") as info:
        fit(make(name, image_encoder=NaNAfterProbe()), Y)
    assert info.value.rows == ["item3"]


@pytest.mark.parametrize("name", list(EMBEDDERS))
def test_transform_probes_the_fitted_module(name, X, frozen):
    fitted, *_ = frozen[name]
    est = copy.deepcopy(fitted)
    (encoder,) = copies(est)
    encoder.backbone.forward = Raises().forward
    with pytest.raises(EncoderError, match=r"Backbone failed on a batch of shape \(2, 3, 16, 16\)"):
        est.transform(X)


@pytest.mark.parametrize("name, value", [("crvae", "resnet"), ("crvae", Backbone),
                                         ("mmeda", "vector")])
def test_invalid_image_encoder_is_refused(name, value, X):
    with pytest.raises(ValueError, match="image_encoder"):
        est = make(name, image_encoder=value)
        est.fit(X, X["label"])


# ---- precomputed image vectors ------------------------------------------------------


@pytest.fixture(scope="module")
def V(X):
    V = X.copy()
    rng = np.random.default_rng(0)
    V["image"] = list(rng.normal(size=(len(X), 7)).astype(np.float32) * 2.0)
    return V


@pytest.mark.parametrize("name", ["crvae", "mmeda"])
def test_a_column_of_vectors_is_the_image(name, V):
    est = make(name, image_encoder="passthrough")
    Z = est.fit_transform(V)
    assert Z.shape == (len(V), 4) and Z.dtype == np.float32
    assert est.image_vector_size_ == 7
    assert est.reconstruction_scale_["image"] == pytest.approx(
        np.var(np.stack(V["image"]).astype(np.float64)), rel=1e-6)
    assert np.isfinite(est.history_[-1, "train_image"])
    assert np.isfinite(est.score(V))
    np.testing.assert_allclose(est.transform(V), Z, rtol=1e-5, atol=1e-6)
    cells = list(V["image"])  # (pandas < 2.3 reads an array set by .loc as several cells)
    cells[2] = np.zeros(3, dtype=np.float32)
    short = V.assign(image=pd.Series(cells, index=V.index, dtype=object))
    with pytest.raises(InvalidRowsError, match="image"):
        est.transform(short)


def test_vectors_are_refused_where_images_are_expected_and_the_other_way(X, V):
    with pytest.raises(InvalidRowsError, match="image"):
        make("crvae", image_encoder="passthrough").fit(X)
    with pytest.raises(InvalidRowsError, match="image"):
        make("mmeda").fit(V)


def test_crvae_decodes_vectors_from_vectors(V):
    est = make("crvae", image_encoder="passthrough").fit(V)
    decoded = est.inverse_transform(est.transform(V))
    assert decoded["image"].iloc[0].shape == (7,)
    assert decoded["image"].iloc[0].dtype == np.float32


def test_partial_fit_names_the_rows_of_non_finite_features(X):
    Y = X.copy()
    Y.index = [f"item{i}" for i in range(len(X))]
    est = make("common_space", strategy="mcvs", modalities={"text": "text"},
               max_epochs=1).fit(Y, Y["label"])
    est.set_params(modalities={"text": "text", "image": ("image", module_encoder(NaNAfterProbe()))})
    with pytest.raises(EncoderError, match=r"modality 'image'.* rows \['item3'\]"):
        est.partial_fit(Y, Y["label"])  # the new branch: probed, then every row
    assert list(est.modalities_) == ["text"]  # the failed stage changed nothing
    est.set_params(modalities={"text": "text", "image": ("image", module_encoder(user_module()))})
    est.partial_fit(Y, Y["label"])
    (encoder,) = copies(est)
    encoder.backbone.forward = NaNs().forward  # the next stage's cached features
    with pytest.raises(EncoderError, match=r"non-finite .* rows \['item0', 'item1'"):
        est.partial_fit(Y, Y["label"])
