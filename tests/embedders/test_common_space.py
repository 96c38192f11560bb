"""CommonSpaceEmbedder: contracts, missing modalities, stages (M-CVS, RVS), retrieval."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmm.datasets import make_shapes
from skmm.embedders.common_space import CommonSpaceEmbedder
from skmm.encoders import ConvEncoder, MeanWordEncoder, TextTower
from skmm.exceptions import InvalidRowsError, MissingColumnError, NonFiniteLossError
from skmm.metrics import mean_average_precision
from skmm.nn.common_space import AlignedAttention
from skmm.nn.losses import semihard_triplet_loss
from skmm.training import ClassBalancedLoader, TensorDict


def cnn(channels=4):
    return ConvEncoder(image_size=16, channels=channels)


def words(**params):
    return MeanWordEncoder(vector_size=8, **params)


def mods(**extra):
    """The trained CNN and mean word vectors on image and text, and ``extra`` modalities."""
    return {"image": ("image", cnn()), "text": ("text", words()), **extra}


TINY = dict(modalities=mods(), n_components=8, hidden_size=16, max_epochs=2, batch_size=32,
            random_state=0)


def with_vectors(X, seed=0):
    """Add a 'vec' column: a noisy one-hot of the colour, and a second text column."""
    rng = np.random.default_rng(seed)
    codes = pd.factorize(X["color"])[0]
    vec = np.eye(5, dtype=np.float32)[codes] + rng.normal(scale=0.1, size=(len(X), 5))
    X = X.copy()
    X["vec"] = pd.Series(list(vec.astype(np.float32)), index=X.index, dtype=object)
    X["caption"] = ("it is " + X["color"].astype(str)).astype(object)
    return X


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def y(X):
    return X["label"].to_numpy()


@pytest.fixture(scope="module")
def fitted(X, y):
    return CommonSpaceEmbedder(**TINY).fit(X, y)


# ---- contracts ---------------------------------------------------------------
# The shared contracts (shape and dtype, clone, pickle, set_output, feature names,
# not fitted, missing columns, repeatability, verbose=0 ...) are in tests/test_common.py.
def test_classes_deterministic_transform_and_unit_modality_embeddings(X, y, fitted):
    np.testing.assert_array_equal(fitted.transform(X), fitted.transform(X))
    assert set(fitted.classes_) == set(y)
    for m in ("image", "text"):
        E = fitted.embed(X, m)
        assert E.shape == (len(X), 8) and E.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, rtol=1e-5)


def test_fit_transform_equals_fit_then_transform(X, y, fitted):
    Z = CommonSpaceEmbedder(**TINY).fit_transform(X, y)
    np.testing.assert_array_equal(Z, fitted.transform(X))


def test_history_records_each_loss_term(fitted):
    h = fitted.history_
    assert len(h) == 2
    last = h[-1]
    for key in ["train_loss", "train_ce", "train_fused", "train_intra", "train_inter",
                "train_pairs", "train_temperature", "dur"]:
        assert np.isfinite(last[key]), key
    assert last["train_fused"] > 0  # the mean embedding of the two modalities is trained
    assert fitted.pair_weight_ == 2.0  # "auto" with labels and two modalities
    assert last["train_loss"] == pytest.approx(
        last["train_ce"] + last["train_fused"] + last["train_intra"]
        + 0.5 * last["train_inter"] + 2.0 * last["train_pairs"], rel=1e-4)
    assert fitted.stages_[0]["added"] == ["image", "text"]


def test_validation_fraction_records_valid_terms(X, y):
    emb = CommonSpaceEmbedder(**{**TINY, "max_epochs": 1}, validation_fraction=0.25).fit(X, y)
    assert np.isfinite(emb.history_[-1, "valid_ce"])


@pytest.mark.slow
def test_grid_search_uses_retrieval_score(X, y):
    grid = GridSearchCV(CommonSpaceEmbedder(**{**TINY, "max_epochs": 1}),
                        {"n_components": [4, 8]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["n_components"] in (4, 8)
    assert 0 <= grid.best_score_ <= 1


# ---- errors ------------------------------------------------------------------
def test_y_is_validated_before_training(X, y):
    emb = CommonSpaceEmbedder(**TINY)
    with pytest.raises(ValueError, match="48 rows but y has 47"):
        emb.fit(X, y[:-1])
    bad = y.astype(object)
    bad[[3, 5]] = None
    with pytest.raises(ValueError, match=r"missing labels for rows \[3, 5\]"):
        emb.fit(X, bad)
    assert not hasattr(emb, "net_")


def test_bad_cells_name_column_rows_and_reason(X, y):
    Xb = X.copy()
    Xb["text"] = Xb["text"].astype(object)
    Xb.loc[2, "text"] = "   "
    Xb["image"] = Xb["image"].astype(object)
    Xb.loc[4, "image"] = "/no/such/file.png"
    with pytest.raises(InvalidRowsError) as err:
        CommonSpaceEmbedder(**TINY).fit(Xb, y)
    msg = str(err.value)
    assert "'text'" in msg and "[2]" in msg and "empty text" in msg
    assert "'image'" in msg and "[4]" in msg


def test_row_without_any_modality_and_missing_column(X, y):
    Xb = X.copy()
    Xb["text"] = Xb["text"].astype(object)
    Xb["image"] = Xb["image"].astype(object)
    Xb.loc[7, ["image", "text"]] = None
    with pytest.raises(InvalidRowsError, match=r"\[7\].*no modality present"):
        CommonSpaceEmbedder(**TINY).fit(Xb, y)
    with pytest.raises(MissingColumnError, match="caption"):
        CommonSpaceEmbedder(**{**TINY, "modalities": mods(text=("caption", words()))}
                            ).fit(X, y)


def test_failed_fit_keeps_previous_state(X, y, fitted):
    emb = pickle.loads(pickle.dumps(fitted))
    Z = emb.transform(X)
    with pytest.raises(ValueError):
        emb.fit(X, y[:10])
    with pytest.raises(NonFiniteLossError):
        emb.set_params(lr=1e30, max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(emb.transform(X), Z)


def test_transform_errors(X, y, fitted):
    with pytest.raises(ValueError, match="unknown modality"):
        fitted.embed(X, "audio")
    Xb = X.copy()
    Xb["text"] = Xb["text"].astype(object)
    Xb.loc[1, "text"] = None
    with pytest.raises(InvalidRowsError, match=r"\[1\].*missing value"):
        fitted.embed(Xb, "text")
    # embedding one modality needs only its column
    assert fitted.embed(X[["image"]], "image").shape == (len(X), 8)


def test_bad_modalities_specs(X, y):
    with pytest.raises(ValueError, match="'audio' is neither a kind"):
        CommonSpaceEmbedder(modalities={"a": ("image", "audio")}).fit(X, y)
    with pytest.raises(ValueError, match=r"\(column, kind\) or \(column, encoder\)"):
        CommonSpaceEmbedder(modalities={"a": ("text", "text", {"tokenizer": "jieba"})}).fit(X, y)


# ---- modalities --------------------------------------------------------------
def test_vector_modality_and_bad_vectors(X, y):
    Xv = with_vectors(X)
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": {"image": ("image", cnn()),
                                                        "v": "vec"}}).fit(Xv, y)
    assert emb.vector_sizes_ == {"v": 5}
    assert emb.embed(Xv, "v").shape == (len(X), 8)
    Xb = Xv.copy()
    Xb.at[3, "vec"] = np.array([1.0, np.nan, 0, 0, 0], dtype=np.float32)
    Xb.at[6, "vec"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(InvalidRowsError) as err:
        emb.transform(Xb)
    assert "non-finite" in str(err.value) and "length 3, expected 5" in str(err.value)


def test_unpaired_rows_train_and_missing_modalities_give_no_loss(X, y):
    # first half: images only; second half: texts only (two unpaired collections)
    Xu = X.copy()
    Xu["image"] = Xu["image"].astype(object)
    Xu["text"] = Xu["text"].astype(object)
    Xu.loc[X.index[:24], "text"] = np.nan
    Xu.loc[X.index[24:], "image"] = None
    emb = CommonSpaceEmbedder(**TINY).fit(Xu, y)
    Z = emb.transform(Xu)
    assert np.isfinite(Z).all()
    # a row with one modality is embedded as that modality alone
    np.testing.assert_allclose(Z[:24], emb.embed(X.iloc[:24], "image"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Z[24:], emb.embed(X.iloc[24:], "text"), rtol=1e-5, atol=1e-6)
    assert np.isfinite(emb.history_[-1, "train_inter"])
    # a batch that holds no text: no text terms, and no inter-modal term at all
    module = emb.net_.module_.train()
    data = emb._prepare_fitted(Xu.iloc[:24], ["image", "text"])
    data["y"] = torch.tensor([list(emb.classes_).index(v) for v in y[:24]])
    out = module(**data)
    assert set(out) == {"image", "image__alone"}  # alone: what the pairing term reads
    terms = module.loss_terms(out, data)
    assert terms["inter"] == 0 and terms["ce"] > 0
    assert terms["fused"] == 0  # one modality: its mean is itself, already in "ce"


def test_paired_rows_transform_is_mean_without_attention(X, y):
    emb = CommonSpaceEmbedder(**TINY, attention=False).fit(X, y)
    expected = (emb.embed(X, "image") + emb.embed(X, "text")) / 2
    np.testing.assert_allclose(emb.transform(X), expected, rtol=1e-5, atol=1e-6)
    assert emb.attention_blocks_ == [] and len(emb.net_.module_.blocks) == 0


def test_paired_rows_attend_to_each_other_with_attention(X, fitted):
    # with attention a paired row uses its partner's real features (fusion);
    # alone, a modality uses the partner's running mean
    alone = (fitted.embed(X, "image") + fitted.embed(X, "text")) / 2
    assert not np.allclose(fitted.transform(X), alone)


# ---- building blocks ---------------------------------------------------------
def test_aligned_attention_formula():
    torch.manual_seed(0)
    block = AlignedAttention(6)
    gi, gs = torch.randn(4, 6), torch.randn(4, 6)
    e = torch.tanh(gi @ block.w_i.weight.T + gs @ block.w_s.weight.T
                   + (gi * gs) @ block.w_is.weight.T) @ block.w_e.weight.T + block.w_e.bias
    alpha = torch.softmax(e, dim=-1)
    zi, zs = block(gi, gs)
    torch.testing.assert_close(zi, torch.nn.functional.normalize(gi + alpha * gi, dim=-1))
    torch.testing.assert_close(zs, torch.nn.functional.normalize(gs + alpha * gs, dim=-1))
    torch.testing.assert_close(alpha.sum(-1), torch.ones(4))


def test_semihard_triplet_loss_matches_pytorch_metric_learning():
    from pytorch_metric_learning import losses, miners

    torch.manual_seed(0)
    z = torch.randn(40, 8, requires_grad=True)
    labels = torch.arange(10).repeat_interleave(4)
    ref = torch.randn(36, 8)
    ref_labels = torch.randint(0, 10, (36,))
    miner, loss = miners.TripletMarginMiner(0.5, "semihard"), losses.TripletMarginLoss(0.5)
    expected = loss(z, labels, miner(z, labels))
    got = semihard_triplet_loss(z, labels, margin=0.5)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got, z)[0],
                               torch.autograd.grad(expected, z)[0])
    expected = loss(z, labels, miner(z, labels, ref, ref_labels), ref, ref_labels)
    torch.testing.assert_close(semihard_triplet_loss(z, labels, ref, ref_labels, 0.5), expected)
    # no positive at all: zero, not NaN
    assert semihard_triplet_loss(z[:10], labels[::4][:10]) == 0


def test_class_balanced_loader_groups_classes():
    y = torch.tensor([0] * 9 + [1] * 6 + [2] * 5 + [3] * 1)
    data = TensorDict({"y": y, "i": torch.arange(len(y))})
    gen = torch.Generator().manual_seed(0)
    loader = ClassBalancedLoader(data, batch_size=8, items_per_class=4, generator=gen)
    batches = [b["i"] for b, _ in loader]
    seen = torch.cat(batches)
    assert sorted(seen.tolist()) == list(range(len(y)))  # every row once
    assert len(batches) == len(loader) == 3
    order = seen.tolist()
    # each class comes in contiguous groups of 4 (the last one smaller):
    # at most ceil(n_class / 4) runs of consecutive rows of the class
    runs = {}
    for i, row in enumerate(order):
        if i == 0 or y[order[i - 1]] != y[row]:
            runs[int(y[row])] = runs.get(int(y[row]), 0) + 1
    counts = torch.bincount(y)
    for cls, n_runs in runs.items():
        assert n_runs <= -(-int(counts[cls]) // 4), (cls, runs)
    again = ClassBalancedLoader(data, batch_size=8, items_per_class=4,
                                generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([b["i"] for b, _ in again]), seen)


# ---- stages ------------------------------------------------------------------
@pytest.fixture(scope="module")
def Xv(X):
    return with_vectors(X)


def test_mcvs_adding_a_modality_keeps_earlier_embeddings_bit_identical(Xv, y):
    emb = CommonSpaceEmbedder(**TINY, strategy="mcvs").fit(Xv, y)
    before = {m: emb.embed(Xv, m) for m in ("image", "text")}
    state = {k: v.clone() for k, v in emb.net_.module_.state_dict().items()}
    emb.set_params(modalities=mods(v="vec"))  # equal encoders: the same modalities
    emb.partial_fit(Xv, y)
    for m in ("image", "text"):
        np.testing.assert_array_equal(emb.embed(Xv, m), before[m])
    new_state = emb.net_.module_.state_dict()
    for k, v in state.items():
        if not k.startswith("classifier"):
            assert torch.equal(new_state[k], v), k
    assert [b[:2] for b in emb.attention_blocks_] == [("image", "text"), ("image", "v"),
                                                      ("text", "v")]
    assert emb.attention_blocks_[1][2] == ("v",)
    assert [s["added"] for s in emb.stages_] == [["image", "text"], ["v"]]
    assert emb.stages_[1]["trainable"] == ["v"]
    assert emb.transform(Xv).shape == (len(Xv), 8)
    assert np.isfinite(emb.history_[-1, "train_inter"])
    # the new modality was trained: its history has inter-modal terms towards both
    assert emb.net_.module_.inter_pairs == [("image", "v"), ("text", "v")]


def test_rvs_and_cvs_block_counts(Xv, y):
    four = mods(v="vec", cap=("caption", words()))
    cvs = CommonSpaceEmbedder(**{**TINY, "max_epochs": 1, "modalities": four}).fit(Xv, y)
    assert len(cvs.attention_blocks_) == 4 * 3 // 2
    # the first modality is the reference
    text_first = {"text": four["text"], **four}
    rvs = CommonSpaceEmbedder(**{**TINY, "max_epochs": 1, "modalities": text_first},
                              strategy="rvs").fit(Xv, y)
    assert len(rvs.attention_blocks_) == 4
    assert rvs.attention_blocks_[0] == ("text", "text", ("text",))
    assert all(a == "text" for a, _, _ in rvs.attention_blocks_)


def test_rvs_stagewise_freezes_the_reference(Xv, y):
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": {"image": ("image", cnn()),
                                                        "v": "vec"}},
                              strategy="rvs").fit(Xv, y)
    assert emb.reference_ == "image" and len(emb.attention_blocks_) == 2
    ref = emb.embed(Xv, "image")
    vec = emb.embed(Xv, "v")
    emb.partial_fit(Xv, y)  # after the first stage the reference is frozen
    np.testing.assert_array_equal(emb.embed(Xv, "image"), ref)
    assert not np.array_equal(emb.embed(Xv, "v"), vec)
    emb.set_params(modalities={"image": ("image", cnn()), "v": "vec",
                               "text": ("text", words())})
    emb.partial_fit(Xv, y)
    assert len(emb.attention_blocks_) == 3
    assert emb.attention_blocks_[-1] == ("image", "text", ("text",))
    np.testing.assert_array_equal(emb.embed(Xv, "image"), ref)
    assert emb.net_.module_.inter_pairs == [("image", "text")]
    # more training (stage-wise class learning) never touches the reference
    emb.partial_fit(Xv, y)
    np.testing.assert_array_equal(emb.embed(Xv, "image"), ref)


def test_partial_fit_rules(X, y, fitted):
    emb = pickle.loads(pickle.dumps(fitted))
    emb.set_params(modalities=mods(c=("color", words())))
    with pytest.raises(ValueError, match="strategy='cvs'"):
        emb.partial_fit(X, y)
    # a trained modality's encoder settings cannot change: they would not act
    emb.set_params(modalities=mods(text=("text", words(tokenizer="jieba"))))
    with pytest.raises(ValueError, match="'text' changed .* cannot change"):
        emb.partial_fit(X, y)
    emb.set_params(modalities=mods(text=("caption", words())))
    with pytest.raises(ValueError, match="cannot change"):
        emb.partial_fit(X.assign(caption=X["text"]), y)
    # unfitted: partial_fit is fit
    fresh = CommonSpaceEmbedder(**TINY).partial_fit(X, y)
    np.testing.assert_array_equal(fresh.transform(X), fitted.transform(X))


def test_partial_fit_with_new_classes_grows_the_classifier(X, y):
    first = np.isin(y, ["blue", "green", "orange"])
    emb = CommonSpaceEmbedder(**TINY).fit(X[first], y[first])
    assert list(emb.classes_) == ["blue", "green", "orange"]
    w = emb.net_.module_.classifier.weight.detach().clone()
    emb.partial_fit(X[~first], y[~first])
    assert list(emb.classes_) == ["blue", "green", "orange", "purple", "red"]
    assert emb.net_.module_.classifier.out_features == 5
    assert not torch.equal(emb.net_.module_.classifier.weight[:3], w)  # it kept training
    assert len(emb.stages_) == 2 and emb.stages_[1]["added"] == []
    assert 0 <= emb.score(X, y) <= 1


# ---- retrieval ---------------------------------------------------------------
def test_retrieve_and_score(X, y, fitted):
    idx, sim = fitted.retrieve(X.iloc[:5], "image", X, "text", k=7)
    assert idx.shape == sim.shape == (5, 7) and idx.dtype == np.int64
    assert (np.diff(sim, axis=1) <= 1e-6).all()
    full = fitted.embed(X.iloc[:5], "image") @ fitted.embed(X, "text").T
    np.testing.assert_allclose(sim, np.take_along_axis(full, idx, 1), rtol=1e-5)
    np.testing.assert_allclose(sim[:, 0], full.max(1), rtol=1e-5)
    s = fitted.score(X, y)
    q, g = fitted.embed(X, "image"), fitted.embed(X, "text")
    expected = (mean_average_precision(q, y, g, y, k=50)
                + mean_average_precision(g, y, q, y, k=50)) / 2
    assert s == pytest.approx(expected)
    with pytest.raises(ValueError, match="k must be"):
        fitted.retrieve(X, "image", X, "text", k=0)


@pytest.mark.slow
def test_cross_modal_retrieval_far_above_chance():
    X = make_shapes(240, image_size=16, label="color", random_state=0)
    X_test = make_shapes(120, image_size=16, label="color", random_state=1)
    emb = CommonSpaceEmbedder(**{**TINY, "max_epochs": 12, "n_components": 16, "lr": 3e-3,
                                 "hidden_size": 32, "modalities": mods(image=("image", cnn(8)))}
                              ).fit(X, X["label"])
    y_test = X_test["label"].to_numpy()
    q, g = emb.embed(X_test, "image"), emb.embed(X_test, "text")
    rng = np.random.default_rng(0)
    chance = np.mean([mean_average_precision(q, rng.permutation(y_test), g, y_test, k=10)
                      for _ in range(5)])
    assert mean_average_precision(q, y_test, g, y_test, k=10) > chance + 0.3
    assert mean_average_precision(g, y_test, q, y_test, k=10) > chance + 0.3


def test_paper_preset():
    from skmm.embedders.common_space import PAPER_PRESET

    emb = CommonSpaceEmbedder.paper(max_epochs=1)
    params = emb.get_params()
    assert params["n_components"] == 512 and params["batch_size"] == 128
    assert params["gammas"] == (0.25, 0.25, 0.5) and params["margins"] == (1.0, 1.0)
    assert params["lr"] == 1e-3 and params["max_epochs"] == 1
    # the thesis' encoders: the CNN and the mean of the word vectors, cloned
    image, text = params["modalities"]["image"][1], params["modalities"]["text"][1]
    assert isinstance(image, ConvEncoder) and isinstance(text, MeanWordEncoder)
    assert image is not PAPER_PRESET["modalities"]["image"][1]


# ---- modality kinds inferred from the cells ------------------------------------
def test_captions_ending_in_jpg_are_text_and_a_wrong_guess_says_how_to_override(
        X, y, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    captions = X.assign(text=X["text"] + ".jpg")
    inferred = {**TINY, "modalities": {"image": ("image", cnn()), "text": "text"}}
    with pytest.warns(UserWarning, match="taken as text"):
        emb = CommonSpaceEmbedder(**inferred).fit(captions, y)
    assert emb.modalities_["text"] == {"column": "text", "kind": "text"}
    assert isinstance(emb.encoders_["text"], TextTower)  # the default encoder of texts
    # one-word names ending in .jpg look like files: the error says what was guessed
    named = X.assign(name=[f"item{i}.jpg" for i in range(len(X))])
    with pytest.raises(InvalidRowsError, match=r"modality 'name' was taken as images .*"
                                               r"modalities=\{'name': \('name', 'text'\)"):
        CommonSpaceEmbedder(**{**TINY, "modalities": {"image": ("image", cnn()),
                                                       "name": "name"}}).fit(named, y)
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": {"image": ("image", cnn()),
                                                         "name": ("name", words())}})
    emb.fit(named, y)
    # the input features are the columns read; transform takes any other column
    assert emb.feature_names_in_.tolist() == ["image", "name"] and emb.n_features_in_ == 2
    assert emb.transform(named.assign(extra=1.0)).shape == (len(X), 8)


def test_fused_cross_entropy_is_that_of_the_rows_mean_embedding():
    from skmm.nn.common_space import CommonSpaceNet, ModalityBranch, VectorEncoder

    torch.manual_seed(0)
    branches = {m: ModalityBranch("vector", VectorEncoder(4), 8, 6) for m in ("a", "b")}
    net = CommonSpaceNet(branches, 6, 3)
    net.connect(["a", "b"], strategy="cvs")
    za, zb = (torch.nn.functional.normalize(torch.randn(n, 6), dim=-1) for n in (4, 3))
    out = {"a": (torch.arange(4), za), "b": (torch.tensor([0, 2, 3]), zb)}
    y = torch.tensor([0, 1, 2, 1])
    fused = torch.stack([(za[0] + zb[0]) / 2, za[1], (za[2] + zb[1]) / 2, (za[3] + zb[2]) / 2])
    expected = torch.nn.functional.cross_entropy(
        net.logits(torch.nn.functional.normalize(fused, dim=-1)), y)
    assert torch.allclose(net._fused_cross_entropy(out, y), expected, atol=1e-6)


@pytest.mark.parametrize(("modalities", "labelled", "pair_weight", "lr_"), [
    (mods(), True, 0, 1e-3),  # trained encoders
    (mods(text=("text", "use")), True, 0, 3e-4),  # a frozen tower, labels and no pairing
    (mods(text=("text", "use")), True, "auto", 1e-3),  # ... with the pairing term
    (mods(text=("text", "use")), False, "auto", 1e-3),  # ... without labels
])
def test_lr_auto_is_lower_with_a_tower_and_labels_alone(X, y, modalities, labelled,
                                                        pair_weight, lr_):
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": modalities, "max_epochs": 1},
                              pair_weight=pair_weight)
    emb.fit(X, y) if labelled else emb.fit(X)
    assert emb.lr_ == lr_ and emb.net_.lr == lr_
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": modalities, "max_epochs": 1}, lr=0.01)
    assert emb.fit(X, y).net_.lr == 0.01


# ---- one encoder per modality ----------------------------------------------------
ZH = {"red": "红色的", "green": "绿色的", "blue": "蓝色的", "orange": "橙色的",
      "purple": "紫色的"}


@pytest.fixture(scope="module")
def bilingual(X):
    shapes = {"circle": "圆形", "square": "正方形", "triangle": "三角形"}
    return X.assign(text_zh=[ZH[c] + shapes.get(s, "形状") for c, s in zip(X["color"],
                                                                          X["shape"])])


def test_the_issue_example_one_encoder_per_modality(bilingual, y):
    from skmm.encoders import ImageTower, RecurrentTextEncoder

    zh = RecurrentTextEncoder(tokenizer="jieba", vector_size=8, hidden_size=8, num_layers=1)
    emb = CommonSpaceEmbedder(
        modalities={"image": ("image", ImageTower(image_size=32)), "en": ("text", TextTower()),
                    "zh": ("text_zh", zh)}, **{k: v for k, v in TINY.items()
                                                if k != "modalities"}).fit(bilingual, y)
    fitted = emb.encoders_
    assert isinstance(fitted["image"], ImageTower) and fitted["image"].image_size_ == (32, 32)
    assert isinstance(fitted["en"], TextTower) and fitted["zh"] is not zh  # a fitted clone
    assert fitted["zh"].mean_pooling_ is False  # "auto": Word2Vec trained in fit
    assert emb.vector_sizes_ == {"image": 2768, "en": 512}
    assert set(emb.tokenizers_) == {"zh"} and "红色" in emb.tokenizers_["zh"].vocabulary_.stoi
    assert emb.modalities_["zh"] == {"column": "text_zh", "kind": "text"}
    assert emb.lr_ == 1e-3  # towers, with labels and the pairing term
    assert emb.pair_weight_ == 2.0
    assert emb.embed(bilingual, "zh").shape == (len(bilingual), 8)
    idx, _ = emb.retrieve(bilingual.iloc[:3], "zh", bilingual, "image", k=2)
    assert idx.shape == (3, 2)


def test_a_word_encoder_splitting_chinese_as_english_is_refused(bilingual, y):
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(zh=("text_zh", words()))})
    with pytest.raises(ValueError, match=r"modality 'zh': most texts of column 'text_zh' are "
                                         r"Chinese.*MeanWordEncoder\(tokenizer='english'\)"
                                         r".*tokenizer='jieba'"):
        emb.fit(bilingual, y)
    assert not hasattr(emb, "net_")


def test_recurrent_encoder_settings_act_and_its_decoder_settings_raise(X, y):
    from skmm.encoders import RecurrentTextEncoder

    text = RecurrentTextEncoder(vector_size=8, cell="lstm", hidden_size=6, num_layers=3,
                                bidirectional=False, mean_pooling=True, fine_tune=True)
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(text=("text", text)),
                                 "max_epochs": 1}).fit(X, y)
    encoder = emb.net_.module_.branches["text"].encoder
    rnn = encoder.rnn
    assert isinstance(rnn, torch.nn.LSTM) and rnn.hidden_size == 6 and rnn.num_layers == 3
    assert not rnn.bidirectional and encoder.mean_pooling
    assert encoder.out_features == 6 + 8 and encoder.embedding.weight.requires_grad
    for setting in (dict(bow_weight=0.5), dict(text_loss="mse"), dict(word_dropout=0.1),
                    dict(mean_vector_weight=1.0)):
        name = next(iter(setting))
        bad = RecurrentTextEncoder(vector_size=8, **setting)
        with pytest.raises(ValueError, match=rf"modalities\['text'\]=RecurrentTextEncoder\("
                                             rf"{name}=.*does not act on .*{name}"):
            CommonSpaceEmbedder(**{**TINY, "modalities": mods(text=("text", bad))}).fit(X, y)


def test_encoder_settings_act(X, y):
    base = CommonSpaceEmbedder(**{**TINY, "max_epochs": 1}).fit(X, y).transform(X)
    for changed in (mods(image=("image", cnn(channels=3))),
                    mods(image=("image", ConvEncoder(image_size=12, channels=4))),
                    mods(text=("text", words(fine_tune=False))),
                    mods(text=("text", words(max_length=2)))):
        Z = CommonSpaceEmbedder(**{**TINY, "max_epochs": 1, "modalities": changed}
                                ).fit(X, y).transform(X)
        assert not np.allclose(Z, base)


@pytest.mark.parametrize(("modalities", "match"), [
    ({"text": ("text", "tfidf")}, r"modalities\['text'\]=TextMatrix\(...\) is not taken by "
                                  r"CommonSpaceEmbedder; it takes TextTower, MeanWordEncoder, "
                                  r"RecurrentTextEncoder"),
    ({"image": ("image", TextTower())}, "the encoder TextTower reads text cells, but column "
                                        "'image' holds image cells"),
    ({"image": ("image", "passthrough")}, "the encoder 'passthrough' reads vector cells"),
    ({"image": ("image", 42)}, "the second item must be a kind"),
])
def test_a_wrong_encoder_for_a_column_is_refused(X, y, modalities, match):
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(**modalities)})
    with pytest.raises(ValueError, match=match):
        emb.fit(X, y)


def test_two_towers_on_one_column_must_agree(X, y):
    from skmm.encoders import ImageTower

    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(
        a=("image", ImageTower()), b=("image", ImageTower(image_size=32)))})
    with pytest.raises(ValueError, match="'a' and 'b' read column 'image' through different"):
        emb.fit(X, y)


def test_modalities_is_one_parameter_for_clone_pickle_and_grid_search(X, y, fitted):
    emb = CommonSpaceEmbedder(**TINY)
    params = emb.get_params(deep=True)
    assert params["modalities"] is TINY["modalities"]
    assert not any(k.startswith("modalities__") for k in params)  # a dict: no nested params
    copy = clone(emb)
    image = copy.get_params()["modalities"]["image"][1]
    assert image is not TINY["modalities"]["image"][1] and image.get_params() == cnn().get_params()
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    assert again.encoders_["image"].get_params() == fitted.encoders_["image"].get_params()
    candidates = [mods(), mods(image=("image", cnn(channels=2)))]
    grid = GridSearchCV(CommonSpaceEmbedder(**{**TINY, "max_epochs": 1}),
                        {"modalities": candidates}, cv=2).fit(X, y)
    assert grid.best_params_["modalities"] in candidates
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_a_users_module_per_modality_pickles(X, y):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=4), torch.nn.AdaptiveAvgPool2d(1),
                                 torch.nn.Flatten())
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(image=("image", module))}).fit(X, y)
    assert emb.encoders_["image"].fine_tune is False  # a module is a frozen ModuleEncoder
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(again.transform(X), emb.transform(X))
    assert isinstance(clone(emb).modalities["image"][1], torch.nn.Sequential)


def test_a_fine_tuned_module_trains_at_its_own_rate(X, y):
    from skmm.encoders import ModuleEncoder

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=4),
                                 torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    tuned = ModuleEncoder(module, image_size=16, fine_tune=True, lr=1e-4)
    emb = CommonSpaceEmbedder(**{**TINY, "modalities": mods(image=("image", tuned))}).fit(X, y)
    rates = sorted(g["lr"] for g in emb.net_.optimizer_.param_groups)
    assert rates == [1e-4, emb.lr_]
    copy = emb.net_.module_.branches["image"].encoder.backbone
    assert not torch.equal(copy[0].weight.detach().cpu(), module[0].weight)


# ---- every setting acts, or the fit says why not -----------------------------------
@pytest.mark.parametrize(("params", "match"), [
    (dict(attention=False, partner_dropout=0.2), "attention=False builds none"),
    (dict(triplet_weight=0.0, gammas=(0.5, 0.25, 0.5)), "triplet_weight=0 switches them off"),
    (dict(modalities={"image": ("image", cnn())}, gammas=(0.25, 0.5, 0.5)),
     "modalities has one"),
    (dict(modalities={"image": ("image", cnn())}, attention=False),
     "one modality has no attention block"),
    (dict(gammas=(0.5, 0.5)), r"gammas must be a tuple of 3 non-negative numbers"),
    (dict(margins=(1.0, -1.0)), r"margins must be a tuple of 2 non-negative numbers"),
])
def test_a_setting_that_would_not_act_is_refused(X, y, params, match):
    with pytest.raises(ValueError, match=match):
        CommonSpaceEmbedder(**{**TINY, **params}).fit(X, y)


@pytest.mark.slow
def test_every_parameter_acts(X, y):
    """Each non-infrastructure parameter, set to another valid value, changes the output."""
    def output(**params):
        emb = CommonSpaceEmbedder(**{**TINY, "max_epochs": 3, **params}).fit(X, y)
        return np.concatenate([emb.transform(X).ravel(), [emb.score(X, y)]])

    base = output()
    changes = dict(n_components=6, hidden_size=12, dropout=0.1, attention=False,
                   partner_dropout=0.0, ce_weight=0.5, triplet_weight=2.0,
                   gammas=(1.0, 0.25, 0.5), margins=(0.2, 0.3), items_per_class=2, map_k=3,
                   max_epochs=2, batch_size=16, lr=0.01, validation_fraction=0.2,
                   random_state=1, strategy="rvs",
                   modalities=mods(text=("text", MeanWordEncoder(vector_size=6))))
    for name, value in changes.items():
        Z = output(**{name: value})
        assert Z.shape != base.shape or not np.allclose(Z, base), name


def test_stages_train_with_the_loss_settings_of_the_time(Xv, y):
    emb = CommonSpaceEmbedder(**TINY, strategy="mcvs").fit(Xv, y)
    emb.set_params(modalities=mods(v="vec"), ce_weight=0.5, margins=(0.5, 0.5))
    emb.partial_fit(Xv, y)
    module = emb.net_.module_
    assert module.ce_weight == 0.5 and module.margin_inter == 0.5
    emb.set_params(n_components=4, modalities=mods(v="vec", c=("caption", words())))
    with pytest.raises(ValueError, match="n_components=4 differs from the trained space's 8"):
        emb.partial_fit(Xv, y)
    assert list(emb.modalities_) == ["image", "text", "v"]


@pytest.mark.parametrize(("modalities", "steps"), [
    ({"v": ("vec", "vector"), "t": ("text", "use")}, "vectors"),  # fixed vectors only
    ({"v": ("vec", "passthrough"), "t": ("text", words())}, None),  # a trained encoder
    (mods(), None),
])
def test_auto_cap_and_lr_read_the_encoders_of_the_modalities(modalities, steps):
    from skmm._params import AUTO_VECTOR_STEPS

    emb = CommonSpaceEmbedder(**{**TINY, "modalities": modalities, "max_epochs": "auto"},
                              pair_weight=0)
    emb._fit_state = emb._resolve_auto()  # the kinds given: resolved before the data
    try:
        assert emb._auto_steps() == (AUTO_VECTOR_STEPS if steps else None)
        assert emb._learning_rate() == (3e-4 if "t" in modalities and steps else 1e-3)
    finally:
        del emb._fit_state
