import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skmm.datasets import make_shapes
from skmm.exceptions import MissingColumnError
from skmm.inputs.modalities import KINDS, infer_kind, parse_modalities, resolve_modalities


@pytest.fixture(scope="module")
def X():
    X = make_shapes(48, image_size=16, label="color", random_state=0)
    rng = np.random.default_rng(0)
    codes = pd.factorize(X["color"])[0]
    vec = np.eye(5, dtype=np.float32)[codes] + rng.normal(scale=0.1, size=(len(X), 5))
    X["vec"] = pd.Series(list(vec.astype(np.float32)), index=X.index, dtype=object)
    X["caption"] = ("it is " + X["color"].astype(str)).astype(object)
    X["zh"] = pd.Series(["红色的圆形"] * len(X), index=X.index, dtype=object)
    return X


def test_resolve_modalities_infers_kinds_and_tokenizers(X):
    specs = resolve_modalities({"img": "image", "en": "text", "v": "vec", "zh": "zh",
                                "cap": ("caption", "text", {"tokenizer": "jieba"}),
                                "d": {"column": "text", "tokenizer": "english"}}, X)
    assert specs["img"] == {"column": "image", "kind": "image"}
    assert specs["en"] == {"column": "text", "kind": "text", "tokenizer": "english"}
    assert specs["v"] == {"column": "vec", "kind": "vector"}
    assert specs["zh"]["tokenizer"] == "jieba"
    assert specs["cap"]["tokenizer"] == "jieba"
    assert specs["d"] == {"column": "text", "kind": "text", "tokenizer": "english"}
    assert list(resolve_modalities(["image", "text"], X)) == ["image", "text"]
    assert list(resolve_modalities(None, X)) == ["image", "text"]
    with pytest.raises(MissingColumnError, match="'audio'.*named in modalities"):
        resolve_modalities({"a": "audio"}, X)


def test_parse_modalities_normalises_without_data():
    assert parse_modalities(None) == {"image": {"column": "image"}, "text": {"column": "text"}}
    assert parse_modalities(["a", "b"]) == {"a": {"column": "a"}, "b": {"column": "b"}}
    assert parse_modalities({"m": ("col", None)}) == {"m": {"column": "col"}}
    assert parse_modalities({"m": {"kind": "vector"}}) == {"m": {"column": "m", "kind": "vector"}}
    assert parse_modalities({"m": ("c", "text", {"tokenizer": "jieba"})}) == {
        "m": {"column": "c", "kind": "text", "tokenizer": "jieba"}}


@pytest.mark.parametrize(("modalities", "match"), [
    ({}, "modalities is empty"),
    ({"a|b": "x"}, "without '\\|' or '__'"),
    ({"a__b": "x"}, "without"),
    ({"a": ("image", "audio")}, "kind must be one of"),
    ({"a": ("text", "text", {"lang": "fr"})}, "unknown option"),
    ({"a": ("text", "text", "jieba")}, "third item must be a dict"),
    ({"a": ("image", "image", {"tokenizer": "jieba"})}, "tokenizer is an option of text"),
    ({"a": 3}, "expected a column name"),
])
def test_parse_modalities_errors(modalities, match):
    with pytest.raises(ValueError, match=match):
        parse_modalities(modalities)


def test_infer_kind(tmp_path):
    path = tmp_path / "picture"  # no suffix: found on disk
    Image.new("RGB", (2, 2)).save(path, format="PNG")

    def kind(*cells):
        return infer_kind(pd.Series(list(cells), dtype=object), "c")

    assert kind(None, "a.PNG") == "image"
    assert kind(str(path)) == "image"
    assert kind("a red circle") == "text"
    assert kind(b"\x89PNG", None) == "image"
    assert kind(path) == "image"
    assert kind(Image.new("RGB", (2, 2))) == "image"
    assert kind(np.zeros((2, 2))) == "image"
    assert kind(np.zeros(3)) == "vector"
    assert kind([1.0, 2.0]) == "vector"
    assert set(KINDS) == {"image", "text", "vector"}
    with pytest.raises(ValueError, match="every cell is missing"):
        kind(None, np.nan)
    with pytest.raises(ValueError, match="from a cell of type int"):
        kind(3)
