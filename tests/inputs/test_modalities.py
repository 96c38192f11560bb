import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from skmm.datasets import make_shapes
from skmm.encoders import (
    ImageTower,
    MeanWordEncoder,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextTower,
)
from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.inputs import TextEncoder, load_images
from skmm.inputs.modalities import (
    KINDS,
    encoder_kind,
    infer_kind,
    inferred_kinds,
    mostly_cjk,
    parse_modalities,
    prepare_modalities,
    resolve_modalities,
)


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


def test_resolve_modalities_infers_kinds_and_keeps_encoders(X):
    tower, words = ImageTower(image_size=24), MeanWordEncoder(tokenizer="jieba")
    specs = resolve_modalities({"img": "image", "en": "text", "v": "vec", "zh": "zh",
                                "cap": ("caption", "text"), "t": ("image", tower),
                                "w": ("zh", words), "c": ("image", "cnn"),
                                "p": ("vec", "passthrough")}, X)
    assert specs["img"] == {"column": "image", "kind": "image"}
    assert specs["en"] == {"column": "text", "kind": "text"}
    assert specs["v"] == {"column": "vec", "kind": "vector"}
    assert specs["zh"] == {"column": "zh", "kind": "text"}  # no tokenizer: the encoder's
    assert specs["cap"] == {"column": "caption", "kind": "text"}
    assert specs["t"] == {"column": "image", "kind": "image", "encoder": tower}
    assert specs["w"]["encoder"] is words and specs["w"]["kind"] == "text"
    assert specs["c"] == {"column": "image", "kind": "image", "encoder": "cnn"}
    assert specs["p"] == {"column": "vec", "kind": "vector", "encoder": "passthrough"}
    assert list(resolve_modalities(["image", "text"], X)) == ["image", "text"]
    assert list(resolve_modalities(None, X)) == ["image", "text"]
    with pytest.raises(MissingColumnError, match="'audio'.*named in modalities"):
        resolve_modalities({"a": "audio"}, X)


def test_mostly_cjk(X):
    assert mostly_cjk(X["zh"]) and not mostly_cjk(X["text"])
    assert not mostly_cjk(pd.Series([None, 3.0]))


@pytest.mark.parametrize(("modalities", "match"), [
    ({"v": ("text", "vector")}, r"the kind 'vector' reads vector cells, but column 'text' "
                                r"holds text cells .*\('text', 'text'\)"),
    ({"v": ("text", "passthrough")}, "the encoder 'passthrough' reads vector cells"),
    ({"t": ("vec", TextTower())}, "the encoder TextTower reads text cells, but column 'vec' "
                                  "holds vector cells"),
    ({"i": ("vec", "image")}, "holds vector cells"),
])
def test_a_kind_the_cells_cannot_have_is_refused(X, modalities, match):
    with pytest.raises(ValueError, match=match):
        resolve_modalities(modalities, X)


def test_strings_may_be_texts_or_image_paths_whatever_the_encoder(X):
    # strings are not checked against an image or text encoder: the loaders report them
    paths = pd.DataFrame({"p": ["a.png", "b.png"]})
    assert resolve_modalities({"i": ("text", "cnn")}, X)["i"]["kind"] == "image"
    assert resolve_modalities({"t": ("p", "text")}, paths)["t"]["kind"] == "text"
    assert resolve_modalities({"t": ("p", TextTower())}, paths)["t"]["kind"] == "text"


def test_parse_modalities_normalises_without_data():
    assert parse_modalities(None) == {"image": {"column": "image"}, "text": {"column": "text"}}
    assert parse_modalities(["a", "b"]) == {"a": {"column": "a"}, "b": {"column": "b"}}
    assert parse_modalities({"m": ("col", None)}) == {"m": {"column": "col"}}
    assert parse_modalities({"m": ("col", "vector")}) == {"m": {"column": "col", "kind": "vector"}}
    assert parse_modalities({"m": ("c", "use")}) == {
        "m": {"column": "c", "kind": "text", "encoder": "use"}}
    module = torch.nn.Identity()
    assert parse_modalities({"m": ("c", module)})["m"] == {"column": "c", "kind": "image",
                                                         "encoder": module}


def test_encoder_kind():
    assert encoder_kind("passthrough") == "vector"
    assert [encoder_kind(s) for s in ("efficientnet_lite0", "cnn")] == ["image", "image"]
    assert {encoder_kind(s) for s in ("use", "mean", "recurrent", "tfidf")} == {"text"}
    assert encoder_kind(RecurrentTextEncoder()) == "text"
    assert encoder_kind(ModuleEncoder(torch.nn.Identity())) == "image"


@pytest.mark.parametrize(("modalities", "match"), [
    ({}, "modalities is empty"),
    ({"a|b": "x"}, "without '\\|' or '__'"),
    ({"a__b": "x"}, "without"),
    ({"a": ("image", "audio")}, r"'audio' is neither a kind .* nor an encoder shortcut"),
    ({"a": ("text", "text", {"tokenizer": "jieba"})}, r"\(column, kind\) or \(column, encoder\)"),
    ({"a": {"column": "text", "kind": "text"}}, "expected a column name"),
    ({"a": ("text", 3)}, "the second item must be a kind .* got int"),
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


def _kind(*cells):
    return infer_kind(pd.Series(list(cells), dtype=object), "c")


def test_captions_ending_in_an_image_suffix_are_text():
    captions = [f"a {c} circle on a square.jpg" for c in ("red", "blue", "green", "black")]
    with pytest.warns(UserWarning, match=r"column 'c': 4 of the 4 cells .* taken as text.*"
                                         r"\('c', 'image'\)"):
        assert _kind(*captions) == "text"
    # a few captions ending in .jpg among plain ones: text, and nothing to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _kind("a cat.jpg", "a red circle", "a blue square") == "text"
        assert _kind("line one\nline two.png", "x") == "text"


def test_image_paths_by_shape_or_by_existence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my photos").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "my photos" / "cat 1.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "dog 2.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "scan", format="PNG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _kind("cat.jpg", "dog.JPEG") == "image"  # missing files: still images
        assert _kind("imgs/0001.png", "imgs/0002.png", None) == "image"
        assert _kind("My photos/cat 1.jpg", "My photos/dog 2.jpg") == "image"  # a separator
        assert _kind("dog 2.png", "dog 2.png") == "image"  # spaces, but the file exists
        assert _kind("scan", "scan") == "image"  # no suffix, but the file exists
        assert _kind("cat.jpg", "a cat", "a dog") == "text"  # most cells are text


def test_inferred_kinds():
    assert inferred_kinds(None) == ["image", "text"]
    assert inferred_kinds({"a": ("x", "text"), "b": "y", "c": ("z", "cnn")}) == ["b"]


def _prepare(X, specs, inferred):
    encoders = {m: TextEncoder(vector_size=4, random_state=0)
                for m, s in specs.items() if s["kind"] == "text"}

    def images(values, *, column, size, present):
        return load_images(values[present], column=column, size=size)

    sizes = {m: (4, 4) for m, s in specs.items() if s["kind"] == "image"}
    return prepare_modalities(X, specs, encoders=encoders, vector_sizes={}, sizes=sizes,
                              images=images, fit_names=tuple(encoders), inferred=inferred)


def test_a_guessed_image_column_says_how_to_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X = pd.DataFrame({"caption": ["cat.jpg", "dog.jpg", "bird.jpg"],
                      "text": ["a cat", "a dog", "a bird"]})
    modalities = {"cap": "caption", "text": "text"}
    specs = resolve_modalities(modalities, X)
    assert specs["cap"]["kind"] == "image"
    with pytest.raises(InvalidRowsError) as info:
        _prepare(X, specs, inferred_kinds(modalities))
    err = info.value
    msg = str(err)
    assert "column 'caption', rows [0, 1, 2]: file not found" in msg
    assert ("hint: modality 'cap' was taken as images because its cells look like image file "
            "names (e.g. 'cat.jpg'); if column 'caption' holds text, give the kind: "
            "modalities={'cap': ('caption', 'text'), ...}") in msg
    assert len(err.hints) == 2 and "0 of 3 files" in err.hints[1]  # the folder hint too
    # the kind given: no guess to talk about
    with pytest.raises(InvalidRowsError) as info:
        _prepare(X, specs, inferred=())
    assert "was taken as images" not in str(info.value)
    # given as text, the same cells are texts
    specs = resolve_modalities({"cap": ("caption", "text"), "text": "text"}, X)
    out = _prepare(X, specs, inferred_kinds({"cap": ("caption", "text"), "text": "text"}))
    assert out["cap__tokens"].shape[0] == 3


def test_no_guess_hint_for_non_string_cells():
    X = pd.DataFrame({"image": pd.Series([np.zeros((2, 2, 3)), np.zeros(5)], dtype=object)})
    specs = resolve_modalities(["image"], X)
    with pytest.raises(InvalidRowsError) as info:
        _prepare(X, specs, inferred=["image"])
    assert "was taken as images" not in str(info.value)
