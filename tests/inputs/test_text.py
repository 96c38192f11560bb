import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm.exceptions import InvalidRowsError
from skmm.inputs import MeanWordVectors, TextEncoder

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
        enc = TextEncoder(vector_size=8, random_state=3).fit(pd.Series({texts.tolist()!r}))
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


def test_mean_word_vectors_in_a_pipeline(frame):
    pipe = make_pipeline(
        MeanWordVectors(vector_size=6, random_state=0), StandardScaler()
    )
    z = pipe.fit_transform(frame)
    assert z.shape == (len(frame), 6)


def test_mean_word_vectors_errors(frame):
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
