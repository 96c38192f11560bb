"""CRVAEEmbedder: sklearn contracts, input errors, training behaviour."""

import copy
import io
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skmm import CRVAEEmbedder, MMEDAEmbedder
from skmm.datasets import make_shapes
from skmm.embedders.crvae import PAPER_PRESET
from skmm.encoders import ConvEncoder, RecurrentTextEncoder
from skmm.exceptions import InvalidRowsError, NonFiniteLossError


def words(**settings):
    """A small recurrent text encoder (Word2Vec of 8 dimensions unless vectors are given)."""
    small = {"hidden_size": 8} if "word_vectors" in settings else {"hidden_size": 8,
                                                                    "vector_size": 8}
    return RecurrentTextEncoder(**{**small, **settings})


TINY = dict(image_encoder=ConvEncoder(image_size=16, channels=4), text_encoder=words(),
            n_components=4, fusion_size=16, max_epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_shapes(48, image_size=16, random_state=0)


@pytest.fixture(scope="module")
def fitted(X):
    return CRVAEEmbedder(**TINY).fit(X)


# The shared contracts (shape and dtype, clone, pickle, set_output, feature names,
# not fitted, missing columns, repeatability ...) are in tests/test_common.py.


def test_transform_is_deterministic_and_every_word_has_a_vector(X, fitted):
    assert len(fitted.word_vectors_) == len(fitted.vocabulary_)
    # transform is deterministic (eval mode: the latent mean, no sampling)
    np.testing.assert_array_equal(fitted.transform(X), fitted.transform(X))


def test_history_records_each_loss_term(fitted):
    h = fitted.history_
    assert len(h) == 2
    for key in ["train_loss", "train_image", "train_text", "train_kl", "dur"]:
        assert np.isfinite(h[-1, key]), key
    last = h[-1]
    scale = fitted.reconstruction_scale_  # normalize_terms=True: each term over its scale
    assert last["train_loss"] == pytest.approx(
        last["train_image"] / scale["image"] + 3.0 * last["train_text"] / scale["text"]
        + 0.05 * last["train_kl"] + 1.0 * last["train_bow"] / scale["text"], rel=1e-4)
    # the per-epoch latent diagnostics
    assert len(last["kl_per_dim"]) == 4 and 0 <= last["active_units"] <= 4


def test_paper_losses_sum_the_raw_terms(X):
    emb = CRVAEEmbedder(**{**TINY, "text_encoder": words(text_loss="mse", bow_weight=0)},
                        normalize_terms=False).fit(X)
    last = emb.history_[-1]
    assert "train_bow" not in last
    assert last["train_loss"] == pytest.approx(
        last["train_image"] + 3.0 * last["train_text"] + 0.05 * last["train_kl"], rel=1e-4)


def test_validation_fraction_records_valid_terms(X):
    emb = CRVAEEmbedder(**{**TINY, "max_epochs": 1}, validation_fraction=0.25).fit(X)
    assert np.isfinite(emb.history_[-1, "valid_text"])


def test_pipeline_with_kmeans(X):
    pipe = make_pipeline(CRVAEEmbedder(**TINY), KMeans(3, n_init=2, random_state=0))
    labels = pipe.fit_predict(X)
    assert labels.shape == (len(X),) and set(labels) <= {0, 1, 2}


@pytest.mark.slow
def test_grid_search_and_cross_val_score_without_labels(X):
    grid = GridSearchCV(CRVAEEmbedder(**{**TINY, "max_epochs": 1}),
                        {"n_components": [2, 3]}, cv=2)
    grid.fit(X)
    assert grid.best_params_["n_components"] in (2, 3)
    assert grid.best_estimator_.transform(X).shape[1] == grid.best_params_["n_components"]
    scores = cross_val_score(CRVAEEmbedder(**{**TINY, "max_epochs": 1}), X, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all() and (scores < 0).all()


def test_score_is_the_relative_reconstruction_error_not_the_objective(X, fitted):
    from skmm.training import TensorDict

    data = fitted._prepare(X, fitting=False)
    terms = fitted.net_.evaluate_terms(TensorDict(data))
    scale = fitted.reconstruction_scale_
    pixels = data["image"].numpy() / 255.0
    assert scale["image"] == pytest.approx(pixels.var(), rel=1e-6)  # 48 rows: all sampled
    expected = -(terms["image"] / scale["image"] + terms["text"] / scale["text"]) / 2
    assert fitted.score(X) == pytest.approx(expected, rel=1e-6)
    assert fitted.score(X) != pytest.approx(-terms["loss"], rel=1e-3)  # not the objective
    # the weights of the objective do not redefine the score
    changed = copy.deepcopy(fitted).set_params(beta=10.0, text_weight=0.01)
    assert changed.score(X) == fitted.score(X)


@pytest.mark.parametrize("rnn", ["rnn", "lstm"])
def test_other_cells(X, rnn):
    emb = CRVAEEmbedder(**{**TINY, "max_epochs": 1,
                           "text_encoder": words(cell=rnn, bidirectional=False, num_layers=1)})
    assert emb.fit_transform(X).shape == (len(X), 4)


def test_inverse_transform_gives_images_and_vocabulary_words(X, fitted):
    Z = fitted.transform(X.iloc[:5])
    back = fitted.inverse_transform(Z)
    assert list(back.columns) == ["image", "text"] and len(back) == 5
    assert back["image"].iloc[0].shape == (16, 16, 3) and back["image"].iloc[0].dtype == np.uint8
    words = set(fitted.vocabulary_.itos[3:])
    for text in back["text"]:
        assert isinstance(text, str)
        assert set(text.split()) <= words
    with pytest.raises(ValueError, match="shape"):
        fitted.inverse_transform(np.zeros((2, 3)))


@pytest.mark.slow
def test_loss_goes_down_and_embedding_knows_the_colour():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score as cvs

    X = make_shapes(240, image_size=16, label="color", random_state=1)
    emb = CRVAEEmbedder(**{**TINY, "n_components": 8, "max_epochs": 25, "batch_size": 32,
                           "beta": 0.01, "image_encoder": ConvEncoder(image_size=16, channels=8),
                           "text_encoder": words(hidden_size=16), "fusion_size": 64})
    Z = emb.fit_transform(X)
    losses = emb.history_[:, "train_image"]
    assert losses[-1] < 0.3 * losses[0]
    # an unsupervised tiny model: the colour is linearly readable above chance
    acc = cvs(LogisticRegression(max_iter=2000), Z, X["label"], cv=3).mean()
    chance = X["label"].value_counts(normalize=True).max()
    assert acc > chance + 0.08, (acc, chance)


def chinese_frame():
    colours = {"红色": (220, 30, 30), "绿色": (30, 180, 60), "蓝色": (30, 60, 220)}
    shapes = ["圆形", "方形"]
    rows = []
    for i in range(24):
        name = list(colours)[i % 3]
        img = Image.new("RGB", (16, 16), "white")
        img.paste(colours[name], (4, 4, 12, 12))
        rows.append({"image": np.asarray(img), "text_zh": f"一个{name}的{shapes[i % 2]}。"})
    return pd.DataFrame(rows)


def test_jieba_text_end_to_end():
    X = chinese_frame()
    emb = CRVAEEmbedder(text_col="text_zh", **{**TINY, "text_encoder": words(tokenizer="jieba")})
    emb.fit(X)
    assert emb.transform(X).shape == (24, 4)
    itos = set(emb.vocabulary_.itos)
    assert {"红色", "方形"} <= itos and "。" not in itos


# ---- bad input --------------------------------------------------------------------


def test_invalid_encoder_setting_names_it():
    with pytest.raises(InvalidParameterError, match="cell"):
        CRVAEEmbedder(text_encoder=RecurrentTextEncoder(cell="transformer")).fit(
            make_shapes(8, image_size=16, random_state=0))


@pytest.mark.parametrize("cls", [CRVAEEmbedder, MMEDAEmbedder])
@pytest.mark.parametrize("spelling", ["vector", "vectors"])
def test_precomputed_vectors_are_passthrough_only(cls, spelling):
    # one name for precomputed vectors, sklearn's "passthrough"; no aliases
    with pytest.raises(ValueError, match="passthrough"):
        cls(text_encoder=spelling).fit(make_shapes(4, image_size=16, random_state=0))


def test_bad_rows_are_all_named_before_training(X, tmp_path):
    bad = X.iloc[:20].astype({"text": object})
    bad.index = [f"r{i}" for i in range(20)]
    truncated = tmp_path / "cut.png"
    buf = io.BytesIO()
    Image.fromarray(X["image"].iloc[0]).save(buf, format="PNG")
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    bad.at["r2", "image"] = str(tmp_path / "missing.png")
    bad.at["r5", "image"] = str(truncated)
    bad.at["r7", "text"] = "   "
    bad.at["r9", "text"] = 42
    emb = CRVAEEmbedder(**TINY)
    with pytest.raises(InvalidRowsError) as info:
        emb.fit(bad)
    msg = str(info.value)
    for label in ["'r2'", "'r5'", "'r7'", "'r9'"]:
        assert label in msg
    assert "'image'" in msg and "'text'" in msg
    assert set(info.value.report["row"]) == {"r2", "r5", "r7", "r9"}
    assert not hasattr(emb, "net_")


def test_failed_fit_keeps_previous_state(X, tmp_path):
    emb = CRVAEEmbedder(**TINY).fit(X)
    Z = emb.transform(X)
    net = emb.net_
    broken = X.astype({"text": object})
    broken.iloc[3, broken.columns.get_loc("text")] = None
    with pytest.raises(InvalidRowsError, match="'text'"):
        emb.fit(broken)
    assert emb.net_ is net
    np.testing.assert_array_equal(emb.transform(X), Z)


def test_non_finite_loss_is_reported_and_keeps_state(X, tmp_path):
    from gensim.models import KeyedVectors

    emb = CRVAEEmbedder(**TINY).fit(X)
    Z = emb.transform(X)
    vocabulary = sorted({w for t in X["text"] for w in t.lower().replace(",", " ").split()})
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(vocabulary, np.full((len(vocabulary), 8), 3e38, dtype=np.float32))
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        # word-vector targets (the paper's MSE) of 3e38 overflow the text term
        emb.set_params(text_encoder=words(word_vectors=kv, text_loss="mse")).fit(X)
    np.testing.assert_array_equal(emb.transform(X), Z)


# ---- presets -------------------------------------------------------------------------


def test_paper_preset_parameters():
    emb = CRVAEEmbedder.paper(max_epochs=1)
    params = emb.get_params()
    for key, value in PAPER_PRESET.items():
        if key.endswith("_encoder"):  # a clone of the preset's encoder
            assert params[key] is not value
            assert params[key].get_params() == value.get_params()
        elif key != "max_epochs":
            assert params[key] == value
    assert params["max_epochs"] == 1


@pytest.mark.slow
def test_paper_sized_module_runs_forward():
    from skmm.nn.crvae import CRVAE

    vectors = np.zeros((10, 300), dtype=np.float32)
    m = CRVAE(vectors, (3, 120, 200), conv_channels=32, rnn="lstm", hidden_size=512,
              num_layers=2, fusion_size=4000, n_components=1000, text_weight=3.0)
    batch = {"image": torch.zeros(2, 3, 120, 200, dtype=torch.uint8),
             "tokens": torch.tensor([[3, 4, 0], [5, 6, 7]]), "lengths": torch.tensor([2, 3])}
    out = m(**batch)
    assert out["mu"].shape == (2, 1000) and out["image_logits"].shape == (2, 3, 120, 200)
    assert torch.isfinite(m.loss_terms(out, batch)["loss"])


def test_fitted_with_validation_split_pickles(X):

    emb = CRVAEEmbedder(**{**TINY, "validation_fraction": 0.25}).fit(X)
    assert "valid_loss" in emb.history_[-1]
    restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(X), emb.transform(X))


def test_a_bad_device_is_refused_before_any_work(X, fitted, monkeypatch):
    import skmm._base

    before = fitted.transform(X)

    def no_decoding(*args, **kwargs):
        raise AssertionError("images decoded before the device was checked")

    monkeypatch.setattr(skmm._base, "load_images", no_decoding)
    for device in ("gpu", "cuda:99"):
        with pytest.raises(ValueError, match=f"device='{device}'"):
            copy.deepcopy(fitted).set_params(device=device).fit(X)
    monkeypatch.undo()
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_long_captions_are_capped_by_default(X):
    long = X.copy()
    long["text"] = [" ".join([t] * 200) for t in X["text"]]  # 800+ words
    emb = CRVAEEmbedder(**{**TINY, "max_epochs": 1}).fit(long)
    assert emb.text_encoder_.max_length == 100 and emb.tokenizer_.max_length_ == 100
    data = emb._prepare(long, fitting=False)
    assert data["tokens"].shape[1] <= 101  # every word and the end marker, at most


def test_n_threads_makes_fit_independent_of_the_callers_threads(X):
    params = {**TINY, "max_epochs": 1, "n_threads": 1}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = CRVAEEmbedder(**params).fit(X)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        b = CRVAEEmbedder(**params).fit(X)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_verbose_prints_a_plain_epoch_table_and_no_bar_on_small_work(X, capsys):
    emb = CRVAEEmbedder(**{**TINY, "max_epochs": 2}, verbose=1).fit(X)
    out, err = capsys.readouterr()
    assert "train_loss" in out and "\x1b[" not in out  # not a terminal: no ANSI colours
    assert "images" not in err  # 48 images: no progress bar
    emb.transform(X)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_inverse_transform_of_a_pandas_output_does_not_warn(X, fitted):
    import warnings

    Z = copy.deepcopy(fitted).set_output(transform="pandas").transform(X.iloc[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = fitted.inverse_transform(Z)
    assert len(back) == 3


def test_a_column_of_text_vectors_is_the_text_modality(X):
    rng = np.random.RandomState(0)
    Xv = X.assign(text=list(rng.normal(size=(len(X), 6)).astype(np.float32)))
    emb = CRVAEEmbedder(**{**TINY, "text_encoder": "passthrough"}).fit(Xv)
    assert emb.text_vector_size_ == 6 and emb.tokenizer_ is None
    assert emb.net_.module_.text_encoder is None and emb.net_.module_.bow is None
    Z = emb.transform(Xv)
    assert Z.shape == (len(X), 4) and np.isfinite(emb.score(Xv))
    back = emb.inverse_transform(Z[:3])
    assert back["text"].iloc[0].shape == (6,) and back["image"].iloc[0].shape == (16, 16, 3)
    bad = Xv.copy()
    bad.at[2, "text"] = np.ones(5)  # another length than in fit
    with pytest.raises(InvalidRowsError, match=r"'text'.*\b2\b"):
        emb.transform(bad)
    with pytest.raises(InvalidRowsError, match="vector"):  # texts where vectors are expected
        CRVAEEmbedder(**{**TINY, "text_encoder": "passthrough"}).fit(X)


def test_mean_vector_term_and_mean_pooling(X):
    from skmm.embedders.crvae import mean_vector_variance

    emb = CRVAEEmbedder(**{**TINY, "text_encoder": words(mean_pooling=True,
                                                         mean_vector_weight=2.0)}).fit(X)
    module = emb.net_.module_
    assert module.text_encoder.mean_pooling and module.mean_vector is not None
    scale = emb.reconstruction_scale_
    tokens, _ = emb.tokenizer_.encode(X["text"])
    assert scale["mean_vector"] == pytest.approx(mean_vector_variance(tokens,
                                                                      emb.word_vectors_))
    last = emb.history_[-1]
    assert last["train_loss"] == pytest.approx(
        last["train_image"] / scale["image"] + 3.0 * last["train_text"] / scale["text"]
        + 0.05 * last["train_kl"] + 1.0 * last["train_bow"] / scale["text"]
        + 2.0 * last["train_mean_vector"] / scale["mean_vector"], rel=1e-4)
    Z = emb.transform(X)
    back = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(back.transform(X), Z)
    assert np.isfinite(back.score(X))
    # off by default: no head, no scale, the encoder's state alone
    assert "mean_vector" not in CRVAEEmbedder(**TINY).fit(X).reconstruction_scale_


def test_mean_vector_variance_is_the_spread_of_the_mean_vectors():
    from skmm.embedders.crvae import mean_vector_variance

    vectors = np.array([[0, 0], [0, 0], [0, 0], [1, 3], [3, 1]], dtype=np.float32)
    tokens = np.array([[3, 0], [4, 0], [3, 4]])  # means (1, 3), (3, 1), (2, 2)
    assert mean_vector_variance(tokens, vectors) == pytest.approx(2 / 3)


def test_auto_turns_the_mean_vector_paths_and_beta_1_on_with_pretrained_vectors_only(X):
    emb = CRVAEEmbedder(**{**TINY, "max_epochs": 1, "text_encoder": words(
        word_vectors="wordllama", word_vector_dims=64)}).fit(X)
    module = emb.net_.module_
    assert module.text_encoder.mean_pooling and module.mean_vector_weight == 3.0
    assert module.beta == 1.0 and emb.beta == "auto"  # the parameter stays as set
    assert module.mean_vector[-1].out_features == 64 and "train_mean_vector" in emb.history_[-1]
    trained = CRVAEEmbedder(**{**TINY, "max_epochs": 1}).fit(X).net_.module_
    assert not trained.text_encoder.mean_pooling and trained.mean_vector is None
    assert trained.beta == 0.05
    forced = CRVAEEmbedder(**{**TINY, "max_epochs": 1, "text_encoder": words(
        mean_pooling=False, mean_vector_weight=0, word_vectors="wordllama",
        word_vector_dims=64)}, beta=0.2).fit(X).net_.module_
    assert not forced.text_encoder.mean_pooling and forced.mean_vector is None
    assert forced.beta == 0.2


def test_beta_auto_reads_the_text_encoder_really_chosen():
    # beta="auto" is 1.0 only for a recurrent encoder over pretrained vectors; the
    # sentence tower (the default) reads no word vectors, and gets 0.05
    X = make_shapes(32, image_size=16, random_state=0)
    tower = CRVAEEmbedder(n_components=4, max_epochs=1, random_state=0).fit(X)
    assert tower.beta_ == 0.05 and tower.net_.module_.beta == 0.05
    # word vectors are a setting of the recurrent encoder: the tower cannot be given them
    assert "word_vectors" not in CRVAEEmbedder().get_params()
    assert CRVAEEmbedder().get_params()["text_encoder"] == "use"


def test_encoder_settings_are_nested_parameters_and_grid_searchable(X):
    emb = CRVAEEmbedder(**TINY)
    params = emb.get_params(deep=True)
    assert params["image_encoder__channels"] == 4 and params["text_encoder__cell"] == "gru"
    emb.set_params(text_encoder__cell="lstm")
    assert emb.text_encoder.cell == "lstm"
    search = GridSearchCV(CRVAEEmbedder(**{**TINY, "max_epochs": 1}),
                          {"image_encoder__channels": [2, 4]}, cv=2).fit(X)
    assert search.best_params_["image_encoder__channels"] in (2, 4)
    assert search.best_estimator_.image_encoder_.channels in (2, 4)
    # the encoder given is never fitted: fit works on a clone
    assert not hasattr(TINY["text_encoder"], "mean_pooling_")


def test_a_setting_crvae_does_not_act_on_is_refused(X):
    with pytest.raises(ValueError, match=r"fine_tune.*CRVAEEmbedder does not act"):
        CRVAEEmbedder(**{**TINY, "text_encoder": words(fine_tune=True)}).fit(X)
    with pytest.raises(ValueError, match="encodes texts, not images"):
        CRVAEEmbedder(**{**TINY, "image_encoder": RecurrentTextEncoder()}).fit(X)
