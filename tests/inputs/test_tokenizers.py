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
