"""word_vectors="wordllama": the token vectors shipped inside the wordllama wheel, offline."""

import importlib.util
import json
import logging
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmm.encoders import ConvEncoder, RecurrentTextEncoder, TextMatrix
from skmm.inputs import MeanWordVectors, TextEncoder, TextFeatures
from skmm.inputs import tokenizers as tok_module
from skmm.inputs.tokenizers import (
    detokenize,
    resolve_tokenizer,
    wordllama_dir,
    wordllama_tokenize,
    wordllama_tokenizer,
)
from skmm.inputs.word_vectors import WORDLLAMA_DIMS, load_wordllama

if importlib.util.find_spec("wordllama") is None:
    pytest.skip("wordllama is not installed", allow_module_level=True)

TEXTS = pd.Series(
    ["Grinning face with big eyes", "thumbs up: medium-dark skin tone", "flag: United Kingdom",
     "red heart", "Face with tears of joy", "咧嘴笑的脸"] * 4, name="text")


@pytest.fixture
def offline(monkeypatch):
    """Any network access raises, and wordllama's files are read afresh."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    requests = pytest.importorskip("requests")
    monkeypatch.setattr(requests.Session, "request", refuse)
    wordllama_tokenizer.cache_clear()
    yield
    wordllama_tokenizer.cache_clear()


def test_fit_offline(offline):
    enc = TextEncoder(word_vectors="wordllama").fit(TEXTS)
    assert enc.vector_size_ == 256 and enc.vectors_.dtype == np.float32
    assert enc.oov_rate_ == 0 and enc.has_vector_[3:].all()
    assert "▁face" in enc.vocabulary_.stoi  # subword pieces, case kept
    assert "▁Gr" in enc.vocabulary_.stoi and "<0xE5>" in enc.vocabulary_.stoi


def test_table_is_the_wheels(offline):
    """The memory-mapped table equals the safetensors tensor; rows follow the tokenizer."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = wordllama_dir() / "weights" / "l2_supercat_256.safetensors"
    full = safetensors_numpy.load_file(str(path))["embedding.weight"]
    kv = load_wordllama()
    assert kv.vectors.shape == (32000, 256) and len(kv.key_to_index) == 32000
    np.testing.assert_array_equal(kv.vectors, full)
    enc = TextEncoder(word_vectors="wordllama").fit(TEXTS)
    ids = [wordllama_tokenizer().token_to_id(t) for t in enc.vocabulary_.itos[3:]]
    np.testing.assert_array_equal(enc.vectors_[3:], full[ids].astype(np.float32))
    np.testing.assert_array_equal(enc.vectors_[:3], 0)


def test_mean_matches_wordllama(offline):
    """MeanWordVectors is wordllama's own mean pooling, on texts seen in fit or not."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from wordllama import WordLlama  # its __init__ calls logging.basicConfig(INFO)

        model = WordLlama.load(cache_dir=wordllama_dir(), disable_download=True)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    expected = model.embed(TEXTS.tolist())
    mwv = MeanWordVectors(word_vectors="wordllama")
    np.testing.assert_allclose(mwv.fit_transform(TEXTS.to_frame()), expected,
                               rtol=1e-5, atol=1e-6)
    unseen = ["A zebra crossing the road", "斑马 zebra", "red heart"]
    mwv.fit(pd.DataFrame({"text": ["red heart"]}))
    np.testing.assert_allclose(mwv.transform(pd.DataFrame({"text": unseen})),
                               model.embed(unseen), rtol=1e-5, atol=1e-6)
    assert len(mwv.encoder_.vocabulary_) == 3 + len(wordllama_tokenize("red heart"))


@pytest.mark.parametrize("dims", WORDLLAMA_DIMS)
def test_matryoshka_dims(dims):
    full = TextEncoder(word_vectors="wordllama").fit(TEXTS)
    enc = TextEncoder(word_vectors="wordllama", word_vector_dims=dims).fit(TEXTS)
    assert enc.vector_size_ == dims and enc.vectors_.shape == (len(enc.vocabulary_), dims)
    np.testing.assert_array_equal(enc.vectors_, full.vectors_[:, :dims])
    out = MeanWordVectors(word_vectors="wordllama", word_vector_dims=dims).fit(TEXTS.to_frame())
    assert out.transform(TEXTS.to_frame()).shape == (len(TEXTS), dims)
    assert out.get_feature_names_out()[-1] == f"meanwordvectors{dims - 1}"


def test_word_vector_dims_errors():
    with pytest.raises(InvalidParameterError, match="word_vector_dims"):
        TextEncoder(word_vectors="wordllama", word_vector_dims=100).fit(TEXTS)
    with pytest.raises(ValueError, match="needs word_vectors='wordllama'"):
        TextEncoder(word_vector_dims=64).fit(TEXTS)


@pytest.mark.parametrize("tokenizer", ["jieba", str.split])
def test_other_tokenizers_refused(tokenizer):
    with pytest.raises(ValueError, match="own subword tokenizer.*jieba"):
        TextEncoder(word_vectors="wordllama", tokenizer=tokenizer).fit(TEXTS)
    with pytest.raises(ValueError, match="own subword tokenizer"):
        MeanWordVectors(word_vectors="wordllama", tokenizer=tokenizer).fit(TEXTS.to_frame())
    assert resolve_tokenizer(tokenizer, "word2vec") is tokenizer


def test_fitted_size_is_the_vocabulary():
    """Only the rows of the vocabulary are kept: a fit on 100 texts pickles small."""
    rng = np.random.default_rng(0)
    words = ("face smiling cat dog heart red blue green flag of the United Kingdom hand "
             "thumbs up down skin tone light medium dark person running woman man with "
             "tears joy eyes big open mouth sweat kiss star moon sun cloud rain").split()
    texts = pd.Series([" ".join(rng.choice(words, 6)) for _ in range(100)])
    enc = TextEncoder(word_vectors="wordllama").fit(texts)
    size = len(pickle.dumps(enc))
    assert len(enc.vocabulary_) < 200
    assert size < 1_000_000  # the whole table would be 32000 x 256 x 4 = 33 MB
    assert size < len(enc.vocabulary_) * 256 * 4 + 20_000
    mwv = MeanWordVectors(word_vectors="wordllama").fit(texts.to_frame("text"))
    X = pd.DataFrame({"text": ["a zebra", "red heart"]})
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mwv)).transform(X), mwv.transform(X))


@pytest.mark.parametrize("dims", [64, None])
def test_transform_unseen_pieces(dims):
    """Pieces unseen in fit are read from the wheel at transform: the fitted state keeps
    only the fit vocabulary, and transform does not change it."""
    fit = pd.DataFrame({"text": ["red heart"]})
    mwv = MeanWordVectors(word_vectors="wordllama", word_vector_dims=dims).fit(fit)
    before = pickle.dumps(mwv)
    X = pd.DataFrame({"text": ["zebra", "red heart zebra"]})
    out = mwv.transform(X)
    ref = MeanWordVectors(word_vectors="wordllama", word_vector_dims=dims).fit(X).transform(X)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert pickle.dumps(mwv) == before


def test_check_uses_the_subword_tokenizer():
    """A text the English tokenizer finds no word in still has wordllama tokens."""
    X = pd.DataFrame({"text": ["red heart", ";;"]})
    assert len(TextEncoder().check(X["text"])) == 1
    assert len(TextEncoder(word_vectors="wordllama").check(X["text"])) == 0
    TextFeatures(word_vectors="wordllama").fit(X)
    features = TextFeatures(word_vectors="wordllama", word_vector_dims=64)
    assert features.fit_transform(pd.concat([X, X])).shape == (4, 64)


@pytest.mark.parametrize("text", [
    "Grinning face with big eyes", "thumbs up: medium-dark skin tone", "咧嘴笑的脸 smile",
    "  two  spaces"])
def test_detokenize_round_trip(text):
    pieces = wordllama_tokenize(text)
    assert detokenize(pieces, subwords=True) == text  # exactly: only the prepended "▁" goes
    enc = TextEncoder(word_vectors="wordllama").fit(pd.Series([text]))
    ids, _ = enc.encode(pd.Series([text]))
    assert enc.detokenize(enc.vocabulary_.decode(ids[0])) == text


def test_detokenize_words():
    assert detokenize(["grinning", "face"]) == "grinning face"
    assert TextEncoder().detokenize(["grinning", "face"]) == "grinning face"
    assert detokenize(["▁Gr", "in", "ning", "▁face", "<0xE5>", "<0x92>", "<0xA7>"],
                      subwords=True) == "Grinning face咧"


def test_missing_wordllama(monkeypatch):
    real = tok_module.importlib.util.find_spec
    monkeypatch.setattr(tok_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "wordllama" else real(name, *a))
    wordllama_tokenizer.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install 'wordllama>=0.4'"):
            TextEncoder(word_vectors="wordllama").fit(TEXTS)
    finally:
        wordllama_tokenizer.cache_clear()


def test_no_import_no_network_no_files(tmp_path):
    """In a fresh process with a bare home: wordllama is not imported (its __init__
    configures the root logger), no socket is opened, and nothing is written."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    code = """
import json, logging, socket, sys
def refuse(*a, **k):
    raise AssertionError("network access")
socket.socket.connect = refuse
import pandas as pd
from skmm.inputs import TextEncoder
enc = TextEncoder(word_vectors="wordllama", word_vector_dims=128).fit(pd.Series(["red heart"]))
print(json.dumps({"wordllama": "wordllama" in sys.modules, "torch": "torch" in sys.modules,
                  "level": logging.getLogger().level, "dims": enc.vector_size_}))
"""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "XDG_", "TRANSFORMERS_"))}
    env.update(HOME=str(home), SKMM_DATA=str(data), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"wordllama": False, "torch": False, "level": logging.WARNING, "dims": 128}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written


# ---- the estimators that read text ----------------------------------------------------

#: A tiny CRVAE on the CNN; each test gives it a recurrent text encoder (``_recurrent``).
TINY_CRVAE = dict(image_encoder=ConvEncoder(image_size=16, channels=4), n_components=4,
                  fusion_size=16, max_epochs=1, batch_size=16, device="cpu", random_state=0)


def _recurrent(**words):
    """The tiny CRVAE's recurrent text encoder with these word settings."""
    return RecurrentTextEncoder(hidden_size=8, **words)


def test_encode_with_unseen_reads_the_wheel(offline):
    """Pieces unseen in fit get ids after the vocabulary and wordllama's own vectors."""
    enc = TextEncoder(word_vectors="wordllama", word_vector_dims=64).fit(
        pd.Series(["red heart"]))
    texts = pd.Series(["red zebra", "zebra heart volcano"])
    ids, lengths, rows = enc.encode_with_unseen(texts)
    plain_ids, plain_lengths = enc.encode(texts)
    np.testing.assert_array_equal(lengths, plain_lengths)
    n = len(enc.vocabulary_)
    new = ids >= n
    assert new.any() and (plain_ids[new] == 1).all()  # <unk> without it
    np.testing.assert_array_equal(ids[~new], plain_ids[~new])
    assert rows.shape == (ids.max() + 1 - n, 64) and rows.dtype == np.float32
    pieces, _ = enc.unseen_vectors([t[:enc.max_length_] for t in enc.tokenize(texts)])
    table = load_wordllama(64)
    np.testing.assert_array_equal(rows, table.vectors[[table.key_to_index[p] for p in pieces]])
    seen_ids, _, none = enc.encode_with_unseen(pd.Series(["heart red"]))
    assert none.shape == (0, 64) and (seen_ids < n).all()


def test_encode_with_unseen_needs_readable_vectors():
    """Word2Vec trained in fit knows no other word; a KeyedVectors object is read again."""
    from gensim.models import KeyedVectors

    texts = pd.Series(["red heart", "blue moon red"])
    w2v = TextEncoder(vector_size=8, random_state=0).fit(texts)
    ids, _, rows = w2v.encode_with_unseen(pd.Series(["red zebra"]))
    assert rows.shape == (0, 8) and ids.tolist() == w2v.encode(pd.Series(["red zebra"]))[0].tolist()
    kv = KeyedVectors(4)
    kv.add_vectors(["red", "heart", "blue", "moon", "zebra"], np.eye(5, 4, dtype=np.float32) + 1)
    enc = TextEncoder(word_vectors=kv).fit(texts)
    ids, _, rows = enc.encode_with_unseen(pd.Series(["red zebra okapi"]))
    assert ids.tolist() == [[enc.vocabulary_.stoi["red"], len(enc.vocabulary_), 1]]
    np.testing.assert_array_equal(rows, kv["zebra"][None])
    mwv = MeanWordVectors(word_vectors=kv).fit(texts.to_frame("text"))
    np.testing.assert_allclose(mwv.transform(pd.DataFrame({"text": ["zebra"]}))[0], kv["zebra"])



@pytest.fixture(scope="module")
def shapes():
    from skmm.datasets import make_shapes

    return make_shapes(32, image_size=16, random_state=0)


@pytest.mark.slow
def test_crvae_fits_and_verbalizes_subwords(shapes):
    torch = pytest.importorskip("torch")
    from skmm import CRVAEEmbedder

    emb = CRVAEEmbedder(text_encoder=_recurrent(word_vectors="wordllama", word_vector_dims=64),
                        **TINY_CRVAE)
    Z = emb.fit_transform(shapes)
    assert Z.shape == (32, 4) and np.isfinite(Z).all()
    assert emb.word_vectors_.shape == (len(emb.vocabulary_), 64)
    assert emb.net_.module_.embedding.weight.shape == (len(emb.vocabulary_), 64)
    texts = emb.inverse_transform(Z)["text"]
    assert all(isinstance(t, str) and "▁" not in t and "<0x" not in t for t in texts)
    # a decoder output that is exactly the vectors of a text's pieces (then a zero
    # <pad>) is verbalised as that very text, pieces joined back into words
    caption = shapes["text"].iloc[0]
    ids, lengths = emb.tokenizer_.encode(pd.Series([caption]))
    table = emb.net_.module_.embedding.weight.detach()
    vectors = table[torch.from_numpy(ids)]  # (1, T, 64), padding rows are zero
    vectors = torch.cat([vectors, torch.zeros(1, 1, 64)], dim=1)
    norms = table.norm(dim=1)
    assert emb._verbalize(vectors, table, norms, norms > 0) == [caption]


def test_crvae_refuses_jieba_with_wordllama(shapes):
    from skmm import CRVAEEmbedder

    with pytest.raises(ValueError, match="own subword tokenizer"):
        CRVAEEmbedder(text_encoder=_recurrent(word_vectors="wordllama", tokenizer="jieba"),
                      **TINY_CRVAE).fit(shapes)


def _late_fusion(tiny):
    """A small LateFusionClassifier: the word settings of ``tiny`` go to its LSTM."""
    import skmm.baselines
    from skmm.baselines.neural import LSTM_SETTINGS
    from skmm.encoders import RecurrentTextEncoder

    words = ("word_vectors", "word_vector_dims")
    lstm = RecurrentTextEncoder(**{**LSTM_SETTINGS, "hidden_size": 8,
                                   **{k: tiny[k] for k in words}})
    return skmm.baselines.LateFusionClassifier(
        channels=(4, 8), dense_size=8, text_encoder=lstm,
        **{k: v for k, v in tiny.items() if k not in words})


def _wordllama_space():
    """The common space's modalities: a small CNN, the mean of wordllama's vectors."""
    from skmm.encoders import MeanWordEncoder

    return {"image": ("image", ConvEncoder(image_size=16, channels=4)),
            "text": ("text", MeanWordEncoder(word_vectors="wordllama", word_vector_dims=64))}


@pytest.mark.parametrize("name", ["MMEDAEmbedder", "CommonSpaceEmbedder",
                                  "LateFusionClassifier"])
def test_estimators_take_wordllama(name, shapes):
    pytest.importorskip("torch")
    import skmm
    import skmm.baselines

    tiny = dict(image_size=16, max_epochs=1, batch_size=16, device="cpu", random_state=0,
                word_vectors="wordllama", word_vector_dims=64)
    if name == "MMEDAEmbedder":
        # the mean of the word vectors as the text matrix (the default is TF-IDF)
        est = skmm.MMEDAEmbedder(
            image_encoder=ConvEncoder(image_size=16, channels=4),
            text_encoder=TextMatrix("word2vec", word_vectors="wordllama", word_vector_dims=64),
            n_components=4, image_code=8, text_code=8, hidden_size=16, fusion_size=16,
            max_epochs=1, batch_size=16, device="cpu", random_state=0)
        assert est.fit_transform(shapes).shape == (32, 4)
        assert est.text_features_.words_.encoder_.vector_size_ == 64
    elif name == "CommonSpaceEmbedder":
        est = skmm.CommonSpaceEmbedder(_wordllama_space(), n_components=8, hidden_size=16,
                                       max_epochs=1, batch_size=16, device="cpu",
                                       random_state=0)
        assert est.fit(shapes, shapes["label"]).transform(shapes).shape == (32, 8)
        assert est.tokenizers_["text"].vector_size_ == 64
    else:
        est = _late_fusion(tiny)
        est.fit(shapes, shapes["label"])
        assert est.tokenizer_.vector_size_ == 64
        assert est.predict_proba(shapes).shape[0] == 32


@pytest.mark.parametrize("name", ["CRVAEEmbedder", "CommonSpaceEmbedder",
                                  "LateFusionClassifier"])
def test_models_read_unseen_words(name, shapes):
    """A word that only new texts hold is read through its pretrained vector, not as
    <unk>: two rows differing in such words embed differently; the fitted state
    (parameters, pickled size) does not change, and score still works."""
    torch = pytest.importorskip("torch")
    import skmm
    import skmm.baselines

    tiny = dict(image_size=16, max_epochs=1, batch_size=16, device="cpu", random_state=0,
                word_vectors="wordllama", word_vector_dims=64)
    X = shapes.iloc[:2].copy()
    X["image"] = [shapes["image"].iloc[0]] * 2
    X["text"] = ["zebra okapi", "volcano lava"]  # no piece of these is in the shape captions
    if name == "CRVAEEmbedder":
        words = _recurrent(word_vectors=tiny["word_vectors"],
                           word_vector_dims=tiny["word_vector_dims"])
        est = skmm.CRVAEEmbedder(text_encoder=words, **TINY_CRVAE).fit(shapes)
        run = est.transform
    elif name == "CommonSpaceEmbedder":
        est = skmm.CommonSpaceEmbedder(_wordllama_space(), n_components=8, hidden_size=16,
                                       max_epochs=1, batch_size=16, device="cpu",
                                       random_state=0).fit(shapes, shapes["label"])
        run = lambda X: est.embed(X, "text")  # noqa: E731
    else:
        est = _late_fusion(tiny)
        run = est.fit(shapes, shapes["label"]).predict_proba
    encoder = est.tokenizers_["text"] if name == "CommonSpaceEmbedder" else est.tokenizer_
    assert (encoder.encode(X["text"])[0] <= 1).all()  # every piece is <unk> to the vocabulary
    state = {k: v.clone() for k, v in est.net_.module_.state_dict().items()}
    size = len(pickle.dumps(est))
    out = run(X)
    assert np.isfinite(out).all() and not np.allclose(out[0], out[1])
    after = est.net_.module_.state_dict()
    assert after.keys() == state.keys()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert len(pickle.dumps(est)) == size
    if name != "LateFusionClassifier":
        assert np.isfinite(est.score(X, X["label"]))
