import os
import pickle
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors, Word2Vec
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.inputs import (
    PAD,
    SOS,
    UNK,
    MeanWordVectors,
    TextEncoder,
    Vocabulary,
    check_text,
    english_tokenize,
    get_tokenizer,
    jieba_tokenize,
    tokenize,
)
from skmm.inputs.text import WordVectorsNotFoundError, load_word_vectors, stable_hash

CORPUS = [
    "A cat sat on the mat.",
    "The dog ate the cat!",
    "A bird (small) sings; the cat listens?",
    "Dogs and cats: friends or foes?",
] * 3


@pytest.fixture
def texts():
    return pd.Series(CORPUS, index=[f"t{i}" for i in range(len(CORPUS))], name="text")


# ----------------------------------------------------------------------------- tokenizers


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", ",", "world", "!"]),
        (
            "It's 'fine' (really).",
            ["it", "'", "s", "'", "fine", "'", "(", "really", ")", "."],
        ),
        ('He said "no"; then: yes?', ["he", "said", "no", "then", "yes", "?"]),
        ("line one<br />line\ttwo\n", ["line", "one", "line", "two"]),
        ("   ", []),
    ],
)
def test_english_tokenize(text, tokens):
    assert english_tokenize(text) == tokens


def test_jieba_tokenize_drops_punctuation():
    assert jieba_tokenize("我爱北京天安门。") == ["我", "爱", "北京", "天安门"]
    tokens = jieba_tokenize("你好，世界！「测试」《书》（括号）、分号；冒号： ok?")
    assert "你好" in tokens and "ok" in tokens
    assert not set(tokens) & set("，！「」《》（）、；：?") and " " not in tokens
    assert jieba_tokenize("。！？") == []
    assert "℃" in jieba_tokenize("今天30℃")  # symbols are kept


def test_jieba_is_silent():
    code = "from skmm.inputs import jieba_tokenize; print(jieba_tokenize('我爱北京天安门'))"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert res.stderr == ""
    assert "北京" in res.stdout


def test_get_tokenizer():
    assert get_tokenizer("english") is english_tokenize
    assert get_tokenizer("jieba") is jieba_tokenize
    assert get_tokenizer(str.split) is str.split
    for bad in ("spacy", None, 3):
        with pytest.raises(ValueError, match="'english', 'jieba' or a callable"):
            get_tokenizer(bad)


# ----------------------------------------------------------------------------- tokenize


def test_tokenize_and_check_text():
    values = pd.Series(
        ["Hello there", None, 42, "   ", "...", "ok", np.nan, ""],
        index=list("abcdefgh"),
    )
    with pytest.raises(InvalidRowsError) as info:
        tokenize(values, column="caption", tokenizer=jieba_tokenize)
    msg = str(info.value)
    assert "'caption'" in msg and "6 unusable row(s)" in msg
    assert "rows ['b', 'g']: missing text" in msg
    assert "rows ['d', 'h']: empty text" in msg
    assert "rows ['c']: not a string (got int)" in msg
    assert "rows ['e']: no tokens after tokenization" in msg
    report = check_text(values, column="caption", tokenizer="jieba")
    assert report["row"].tolist() == list("bcdegh")
    good = tokenize(values[["a", "f"]], column="caption", tokenizer="english")
    assert good == [["hello", "there"], ["ok"]]
    assert check_text(values[["a"]], column="caption").empty


# ----------------------------------------------------------------------------- Vocabulary


def test_vocabulary_order_min_count_max_size():
    tokens = [["b", "a", "c"], ["a", "d", "b"], ["e", "a", "<pad>"]]
    vocab = Vocabulary.build(tokens)
    assert vocab.itos[:3] == [PAD, UNK, SOS]
    # a:3, then b:2, then c, d, e (count 1) by first appearance
    assert vocab.itos[3:] == ["a", "b", "c", "d", "e"]
    assert vocab.stoi["a"] == 3 and len(vocab) == 8
    assert vocab.counts["a"] == 3 and "<pad>" not in vocab.counts
    assert Vocabulary.build(tokens, min_count=2).itos[3:] == ["a", "b"]
    assert Vocabulary.build(tokens, max_size=3).itos[3:] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="start with"):
        Vocabulary(["a", "b", "c"])


def test_vocabulary_encode_decode():
    vocab = Vocabulary.build([["the", "cat", "sat"], ["the", "dog"]])
    ids, lengths = vocab.encode([["the", "cat"], ["a", "dog", "the", "cat"], []])
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    the, cat, dog = (vocab.stoi[w] for w in ("the", "cat", "dog"))
    np.testing.assert_array_equal(
        ids, [[the, cat, 0, 0], [1, dog, the, cat], [0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(lengths, [2, 4, 1])
    ids, lengths = vocab.encode(
        [["the", "cat"], ["a", "dog", "the", "cat"]], max_length=3
    )
    assert ids.shape == (2, 3)
    np.testing.assert_array_equal(lengths, [2, 3])
    ids, lengths = vocab.encode([])
    assert ids.shape == (0, 1) and lengths.shape == (0,)
    assert vocab.decode([vocab.stoi[SOS], the, 1, cat, 0, 0]) == ["the", UNK, "cat"]
    restored = pickle.loads(pickle.dumps(vocab))
    assert restored.itos == vocab.itos and restored.stoi == vocab.stoi


@settings(max_examples=50, deadline=None)
@given(
    train=st.lists(
        st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    ),
    texts=st.lists(
        st.lists(st.sampled_from("abcdefghxyz"), max_size=8), min_size=1, max_size=5
    ),
)
def test_vocabulary_round_trip(train, texts):
    vocab = Vocabulary.build(train)
    ids, lengths = vocab.encode(texts)
    assert ids.shape == (len(texts), max(1, *map(len, texts)))
    for row, length, tokens in zip(ids, lengths, texts):
        assert length == max(len(tokens), 1)
        assert vocab.decode(row) == [t if t in vocab.stoi else UNK for t in tokens]


# ----------------------------------------------------------------------------- TextEncoder


def test_text_encoder_word2vec(texts):
    enc = TextEncoder(vector_size=8, random_state=0, max_length=5).fit(texts)
    vocab = enc.vocabulary_
    assert vocab.itos[3] == "the"
    assert enc.vectors_.dtype == np.float32 and enc.vectors_.shape == (len(vocab), 8)
    assert (enc.vectors_[:3] == 0).all() and (enc.vectors_[3:] != 0).any(axis=1).all()
    assert enc.vector_size_ == 8 and enc.oov_rate_ == 0 and enc.oov_words_ == []
    assert enc.max_length_ == 5  # longest text has 10 tokens, capped
    ids, lengths = enc.encode(pd.Series(["the cat", "the unknown cat sat on a mat !"]))
    assert ids.shape == (2, 5)
    np.testing.assert_array_equal(lengths, [2, 5])
    assert ids[1, 1] == 1  # <unk>
    assert TextEncoder(random_state=0, vector_size=4).fit(texts).max_length_ == 10


def test_text_encoder_repeatable(texts):
    a = TextEncoder(vector_size=8, random_state=3).fit(texts).vectors_
    b = TextEncoder(vector_size=8, random_state=3).fit(texts).vectors_
    c = TextEncoder(vector_size=8, random_state=4).fit(texts).vectors_
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_text_encoder_repeatable_across_processes(texts):
    """Another process with another hash seed gives the same bits (stable hashfxn)."""
    code = textwrap.dedent(f"""
        import sys, pandas as pd
        from skmm.inputs import TextEncoder
        enc = TextEncoder(vector_size=8, random_state=3).fit(pd.Series({CORPUS!r}))
        sys.stdout.write(enc.vectors_.tobytes().hex())
    """)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    here = TextEncoder(vector_size=8, random_state=3).fit(texts).vectors_
    assert res.stdout == here.tobytes().hex()
    assert stable_hash("cat") == zlib.crc32(b"cat")


def test_text_encoder_vocabulary_options(texts):
    enc = TextEncoder(min_count=4, max_vocabulary=3, vector_size=4, random_state=0).fit(
        texts
    )
    assert enc.vocabulary_.itos[3:] == ["the", "cat", "a"]
    with pytest.raises(ValueError, match="min_count"):
        TextEncoder(min_count=100).fit(texts)
    with pytest.raises(ValueError, match="tokenizer"):
        TextEncoder(tokenizer="spacy").fit(texts)


def test_text_encoder_bad_rows_keep_previous_fit(texts):
    enc = TextEncoder(vector_size=4, random_state=0).fit(texts)
    before = enc.vectors_
    with pytest.raises(InvalidRowsError, match="'text', rows \\['x'\\]: empty text"):
        enc.fit(pd.Series(["fine", ""], index=["w", "x"]))
    assert enc.vectors_ is before
    with pytest.raises(InvalidRowsError, match="'caption'"):
        enc.encode(pd.Series([None]), column="caption")
    with pytest.raises(Exception, match="not fitted"):
        TextEncoder().encode(texts)


@pytest.fixture
def pretrained():
    rng = np.random.default_rng(0)
    kv = KeyedVectors(vector_size=5)
    words = ["the", "cat", "dog", "sat", "mat", "zebra"]
    kv.add_vectors(words, rng.normal(size=(len(words), 5)).astype(np.float32))
    return kv


def _check_pretrained(enc, kv, texts):
    vocab = enc.vocabulary_
    np.testing.assert_array_equal(enc.vectors_[vocab.stoi["cat"]], kv["cat"])
    assert enc.vector_size_ == 5
    missing = [w for w in vocab.itos[3:] if w not in kv.key_to_index]
    assert enc.oov_words_ == missing and missing
    assert enc.oov_rate_ == pytest.approx(len(missing) / (len(vocab) - 3))
    assert (enc.vectors_[[vocab.stoi[w] for w in missing]] == 0).all()


@pytest.mark.parametrize(
    "fmt", ["object", "kv", "model", "bin", "txt", "glove", "vec.gz"]
)
def test_pretrained_vectors(fmt, pretrained, texts, tmp_path):
    kv = pretrained
    if fmt == "object":
        source = kv
    elif fmt == "kv":
        source = tmp_path / "vectors.kv"
        kv.save(str(source))
    elif fmt == "model":
        sentences = [["the", "cat", "sat"], ["the", "dog"], ["zebra", "mat"]]
        model = Word2Vec(sentences, vector_size=5, min_count=1, workers=1, seed=0)
        kv = model.wv
        source = str(tmp_path / "w2v.model")
        model.save(source)
    elif fmt == "bin":
        source = tmp_path / "vectors.bin"
        kv.save_word2vec_format(str(source), binary=True)
    elif fmt in ("txt", "vec.gz"):
        source = tmp_path / f"vectors.{fmt}"
        kv.save_word2vec_format(str(source), binary=False)
    else:  # GloVe: no header line
        source = tmp_path / "glove.txt"
        source.write_text(
            "".join(
                f"{w} {' '.join(repr(float(x)) for x in kv[w])}\n"
                for w in kv.index_to_key
            )
        )
    enc = TextEncoder(word_vectors=source).fit(texts)
    _check_pretrained(enc, kv, texts)
    assert len(pickle.dumps(enc)) < 20_000  # the table, not the whole KeyedVectors


def test_load_word_vectors_errors(tmp_path):
    with pytest.raises(WordVectorsNotFoundError, match="nope.bin") as info:
        load_word_vectors(tmp_path / "nope.bin")
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, FileNotFoundError
    )
    (tmp_path / "v.csv").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_word_vectors(tmp_path / "v.csv")
    with pytest.raises(ValueError, match="not found"):
        TextEncoder(word_vectors=str(tmp_path / "nope.txt")).fit(pd.Series(["a b"]))


# ----------------------------------------------------------------------------- MeanWordVectors


@pytest.fixture
def frame(texts):
    return pd.DataFrame(
        {"id": range(len(texts)), "text": texts.to_numpy()}, index=texts.index
    )


def test_mean_word_vectors_values(pretrained):
    X = pd.DataFrame(
        {"text": ["the cat", "cat zebra unknownword", "nothing known here"]}
    )
    mwv = MeanWordVectors(word_vectors=pretrained).fit(X)
    out = mwv.transform(X)
    assert out.dtype == np.float32 and out.shape == (3, 5)
    np.testing.assert_allclose(
        out[0], (pretrained["the"] + pretrained["cat"]) / 2, rtol=1e-6
    )
    # "unknownword" is in the vocabulary but has no vector: left out of the mean
    assert mwv.encoder_.oov_words_ == ["unknownword", "nothing", "known", "here"]
    np.testing.assert_allclose(
        out[1], (pretrained["cat"] + pretrained["zebra"]) / 2, rtol=1e-6
    )
    assert (out[2] == 0).all()
    assert list(mwv.get_feature_names_out()[:2]) == [
        "meanwordvectors0",
        "meanwordvectors1",
    ]


def test_mean_word_vectors_pipeline_pandas_pickle(frame):
    pipe = make_pipeline(
        MeanWordVectors(vector_size=6, random_state=0), StandardScaler()
    )
    pipe.set_output(transform="pandas")
    z = pipe.fit_transform(frame)
    assert isinstance(z, pd.DataFrame) and z.shape == (len(frame), 6)
    assert list(z.index) == list(frame.index)
    assert z.columns[0] == "meanwordvectors0"
    restored = pickle.loads(pickle.dumps(pipe))
    pd.testing.assert_frame_equal(restored.transform(frame), z)
    again = clone(pipe).fit_transform(frame)
    pd.testing.assert_frame_equal(again, z)
    mwv = pipe[0]
    assert mwv.n_features_in_ == 2 and list(mwv.feature_names_in_) == ["id", "text"]


def test_mean_word_vectors_errors(frame):
    with pytest.raises(MissingColumnError, match="'caption'"):
        MeanWordVectors(text_col="caption").fit(frame)
    with pytest.raises(TypeError, match="pandas DataFrame"):
        MeanWordVectors().fit(frame["text"])
    with pytest.raises(ValueError, match="vector_size"):
        MeanWordVectors(vector_size=0).fit(frame)
    mwv = MeanWordVectors(vector_size=4, random_state=0).fit(frame)
    bad = frame.astype({"text": object})
    bad.loc["t2", "text"] = 7
    with pytest.raises(InvalidRowsError, match="rows \\['t2'\\]: not a string"):
        mwv.transform(bad)


def test_jieba_mean_word_vectors():
    X = pd.DataFrame({"text": ["我爱北京天安门。", "北京欢迎你！", "我爱你"]})
    mwv = MeanWordVectors(tokenizer="jieba", vector_size=4, random_state=0).fit(X)
    assert (
        "。" not in mwv.encoder_.vocabulary_.stoi
        and "北京" in mwv.encoder_.vocabulary_.stoi
    )
    assert mwv.transform(X).shape == (3, 4)
