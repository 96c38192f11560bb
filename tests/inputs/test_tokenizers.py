import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skmm.exceptions import InvalidRowsError
from skmm.inputs import (
    check_text,
    english_tokenize,
    get_tokenizer,
    jieba_tokenize,
    tokenize,
)
from skmm.inputs.tokenizers import TOKENIZERS, find_text_problems


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


def test_find_text_problems_gives_positions_and_fills_out():
    values = pd.Series(["a b", None, "c"], index=["x", "y", "z"])
    out = []
    problems = find_text_problems(values, column="t", tokenizer="english", out=out)
    assert problems == [(1, "y", "missing text")]
    assert out == [["a", "b"], ["c"]]
    assert set(TOKENIZERS) == {"english", "jieba"}


# ---- each text tokenized once per fit ----------------------------------------------


class CountingTokenizer:
    """English tokenization that counts how often each text is split."""

    def __init__(self):
        self.calls = {}

    def __call__(self, text):
        self.calls[text] = self.calls.get(text, 0) + 1
        return english_tokenize(text)


def test_shared_tokens_splits_each_text_once_inside_the_block():
    from skmm.inputs.tokenizers import shared_tokens

    count = CountingTokenizer()
    texts = pd.Series(["a red circle", "a blue square", "a red circle"])
    assert get_tokenizer(count) is count  # outside a block: as given
    with shared_tokens():
        report = check_text(texts, column="text", tokenizer=count)
        with shared_tokens():  # nested: the same block
            tokens = tokenize(texts, column="text", tokenizer=count)
        tokens[0].append("changed")  # a caller's list is its own
        assert tokenize(texts, column="text", tokenizer=count)[0] == ["a", "red", "circle"]
        shared = get_tokenizer(count)
        assert shared("a blue square") == ["a", "blue", "square"]
        assert pickle.loads(pickle.dumps(get_tokenizer("english"))) is english_tokenize
    assert report.empty
    assert count.calls == {"a red circle": 1, "a blue square": 1}
    shared("a blue square")  # after the block: nothing is remembered
    assert count.calls["a blue square"] == 2


def _tiny(name, tokenizer):
    from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
    from skmm.encoders import ConvEncoder, MeanWordEncoder, RecurrentTextEncoder, TextMatrix

    net = dict(n_components=4, max_epochs=1, batch_size=16, random_state=0)
    if name == "crvae":
        return CRVAEEmbedder(image_encoder=ConvEncoder(image_size=16, channels=4),
                             text_encoder=RecurrentTextEncoder(tokenizer=tokenizer, hidden_size=8,
                                                               vector_size=8),
                             fusion_size=16, **net)
    if name == "mmeda":
        return MMEDAEmbedder(image_encoder=ConvEncoder(image_size=16, channels=4),
                             text_encoder=TextMatrix(tokenizer=tokenizer), image_code=8,
                             text_code=8, hidden_size=16, fusion_size=16, **net)
    return CommonSpaceEmbedder(
        modalities={"image": ("image", ConvEncoder(image_size=16, channels=4)),
                    "text": ("text", MeanWordEncoder(tokenizer=tokenizer, vector_size=8))},
        hidden_size=16, **net)


@pytest.mark.parametrize("name", ["crvae", "mmeda", "common_space"])
def test_fit_tokenizes_each_text_once(name):
    from skmm.datasets import make_shapes

    X = make_shapes(24, image_size=16, label="color", random_state=0)
    count = CountingTokenizer()
    est = _tiny(name, count)
    est.fit(X, X["label"]) if name == "common_space" else est.fit(X)
    assert set(count.calls) == set(X["text"])
    assert set(count.calls.values()) == {1}  # checked, counted and encoded from one split
    count.calls.clear()
    est.transform(X)
    assert set(count.calls.values()) == {1}
    # the errors of a bad cell are unchanged
    bad = X.copy()
    bad["text"] = bad["text"].astype(object)
    bad.loc[bad.index[[2, 5]], "text"] = ["  ", 3]
    with pytest.raises(InvalidRowsError, match=r"column 'text', rows \[2\]: empty text"):
        est.fit(bad, bad["label"]) if name == "common_space" else est.fit(bad)
