import io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageFile
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline

import skmm.inputs.images as images_module
from skmm.exceptions import InvalidRowsError
from skmm.inputs import (
    ImageDecodeError,
    ImageLoader,
    as_size,
    check_images,
    decode_image,
    load_images,
)


@pytest.fixture(autouse=True)
def _strict_pillow(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)


def _gradient(height=20, width=30):
    y, x = np.mgrid[:height, :width]
    return np.stack([x * 8, y * 12, (x + y) * 4], axis=-1).astype(np.uint8)


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """A small dirty image folder: good PNG and JPEG, and every kind of bad file."""
    paths = {
        name: tmp_path / name
        for name in [
            "good.png",
            "good.jpg",
            "truncated.png",
            "truncated.jpg",
            "text.png",
            "empty.png",
        ]
    }
    Image.fromarray(_gradient()).save(paths["good.png"])
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(paths["good.jpg"], quality=95)  # mostly scan data
    for kind in ("png", "jpg"):
        data = paths[f"good.{kind}"].read_bytes()
        paths[f"truncated.{kind}"].write_bytes(data[: len(data) // 2])
    paths["text.png"].write_bytes(b"this is not an image\n")
    paths["empty.png"].write_bytes(b"")
    paths["missing.png"] = tmp_path / "missing.png"
    return paths


# ----------------------------------------------------------------------------- decode_image


def test_decode_png_path_and_str(files):
    for cell in (files["good.png"], str(files["good.png"])):
        out = decode_image(cell, size=(20, 30))
        assert out.dtype == np.uint8 and out.shape == (3, 20, 30)
        np.testing.assert_array_equal(out, _gradient().transpose(2, 0, 1))


def test_decode_jpeg_resized(files):
    out = decode_image(files["good.jpg"], size=(10, 12))
    assert out.shape == (3, 10, 12) and out.dtype == np.uint8


def test_size_int_is_square(files):
    assert decode_image(files["good.png"], size=7).shape == (3, 7, 7)


def test_bytes_and_pil_inputs(files):
    data = files["good.png"].read_bytes()
    expected = decode_image(files["good.png"], size=(8, 8))
    np.testing.assert_array_equal(decode_image(data, size=(8, 8)), expected)
    np.testing.assert_array_equal(decode_image(bytearray(data), size=(8, 8)), expected)
    img = Image.open(io.BytesIO(data))
    np.testing.assert_array_equal(decode_image(img, size=(8, 8)), expected)
    decode_image(img, size=(8, 8))  # the caller's image is not closed


def test_mode_l():
    out = decode_image(_gradient(), mode="L", size=(20, 30))
    assert out.shape == (1, 20, 30)
    expected = np.asarray(Image.fromarray(_gradient()).convert("L"))
    np.testing.assert_array_equal(out[0], expected)


def test_rgba_composited_on_white():
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 255  # red
    a[:2, :, 3] = 255  # top half opaque, bottom half transparent
    out = decode_image(a, size=(4, 4))
    assert (out[:, :2] == np.array([255, 0, 0])[:, None, None]).all()
    assert (out[:, 2:] == 255).all()


def test_la_and_palette_transparency(tmp_path):
    la = Image.fromarray(np.zeros((3, 3, 2), np.uint8), mode="LA")  # black, transparent
    assert (decode_image(la, size=3) == 255).all()
    p = Image.new("P", (3, 3), 0)
    p.putpalette([0, 0, 0] * 256)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png")
    assert (decode_image(tmp_path / "p.png", size=3) == 255).all()


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 3), (5, 6, 4)])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.float32, np.float64, np.int64, np.bool_]
)
def test_array_shapes_and_dtypes(shape, dtype):
    a = np.ones(shape, dtype=dtype)
    if shape[-1] == 4 and np.dtype(dtype).kind in "iu":
        a[..., 3] = 255  # opaque
    out = decode_image(a, size=(5, 6))
    assert out.shape == (3, 5, 6) and out.dtype == np.uint8
    # ones are white for floats (scaled) and bools, 1 for integers
    expected = 1 if np.dtype(dtype).kind in "iu" else 255
    assert (out == expected).all()


def test_float_scaling_and_clipping():
    np.testing.assert_array_equal(
        decode_image(np.full((2, 2), 0.5), mode="L", size=2), 128
    )
    big = np.array([[-3.0, 12.4], [300.0, 254.6]])
    np.testing.assert_array_equal(
        decode_image(big, mode="L", size=2)[0], [[0, 12], [255, 255]]
    )


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (None, "missing value"),
        (float("nan"), "missing value"),
        (pd.NA, "missing value"),
        (3, "unsupported cell type <class 'int'>"),
        (np.zeros((2, 3, 5, 7)), "array of shape (2, 3, 5, 7) is not an image"),
        (np.zeros((3, 8, 8)), "array of shape (3, 8, 8) is not an image"),
        (np.zeros((0, 4, 3)), "zero-size image"),
        (np.array([[np.nan, 1.0]]), "array contains NaN or infinite values"),
        (b"", "empty file"),
        (b"garbage", "cannot identify image file"),
        ("", "empty path"),
    ],
)
def test_decode_errors(cell, reason):
    with pytest.raises(ImageDecodeError, match="^" + re.escape(reason)):
        decode_image(cell)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.png", "truncated or corrupt image file"),
        ("truncated.jpg", "truncated or corrupt image file"),
        ("text.png", "cannot identify image file"),
        ("empty.png", "empty file"),
    ],
)
def test_bad_files(files, name, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(files[name])
    assert issubclass(ImageDecodeError, ValueError)


def test_missing_file_names_path(files):
    with pytest.raises(ImageDecodeError, match="file not found: .*missing.png"):
        decode_image(files["missing.png"])


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        decode_image(_gradient(), mode="CMYK")


@settings(max_examples=40, deadline=None)
@given(
    a=st.one_of(
        hnp.arrays(
            np.uint8,
            hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=9).map(
                lambda s: s[:2] + (3,)
            ),
        ),
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(3)),
            elements=st.floats(-1e6, 1e6),
        ),
    ),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    mode=st.sampled_from(["RGB", "L"]),
)
def test_any_finite_array_decodes(a, size, mode):
    out = decode_image(a, mode=mode, size=size)
    assert out.dtype == np.uint8
    assert out.shape == ({"RGB": 3, "L": 1}[mode], *size)


# ----------------------------------------------------------------------------- as_size


def test_as_size():
    assert as_size(5) == (5, 5)
    assert as_size((4, 6)) == (4, 6)
    assert as_size([np.int64(2), 3]) == (2, 3)
    for bad in (0, -1, (0, 3), (1, 2, 3), "ab", 2.5, True, None):
        with pytest.raises(ValueError, match="image_size"):
            as_size(bad)


# ----------------------------------------------------------------------------- columns


@pytest.fixture
def dirty(files):
    cells = [
        files["good.png"],
        files["missing.png"],
        str(files["good.jpg"]),
        files["truncated.png"],
        None,
        files["text.png"],
    ]
    return pd.Series(cells, index=["a", "b", "c", "d", "e", "f"], name="img")


def test_load_images_preallocated_nchw(files):
    values = pd.Series([files["good.png"], _gradient(), files["good.jpg"].read_bytes()])
    out = load_images(values, column="img", size=(20, 30))
    assert out.shape == (3, 3, 20, 30) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], out[1])


def test_load_images_collects_all_failures(dirty):
    with pytest.raises(InvalidRowsError) as info:
        load_images(dirty, column="img", size=8)
    err = info.value
    msg = str(err)
    assert "'img'" in msg and "4 unusable row(s)" in msg
    for label in ("'b'", "'d'", "'e'", "'f'"):
        assert label in msg
    assert "truncated or corrupt image file" in msg and "missing value" in msg
    assert err.column == "img" and err.rows == ["b", "d", "e", "f"]
    assert list(err.report.columns) == ["row", "column", "reason"]


def test_check_images_report(dirty):
    report = check_images(dirty, column="img", size=8)
    assert report["row"].tolist() == ["b", "d", "e", "f"]
    assert set(report["column"]) == {"img"}
    assert report["reason"].tolist()[1:] == [
        "truncated or corrupt image file",
        "missing value",
        "cannot identify image file",
    ]
    assert report["reason"].iloc[0].startswith("file not found: ")
    ok = check_images(dirty[["a", "c"]], column="img")
    assert ok.empty and list(ok.columns) == ["row", "column", "reason"]


def test_progress_bar_only_when_verbose_long_and_on_a_terminal(files, capsys, monkeypatch):
    values = pd.Series([files["good.png"]] * 3)
    load_images(values, column="img", size=4)
    assert capsys.readouterr().err == ""
    load_images(values, column="img", size=4, verbose=1)  # short work: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(images_module, "PROGRESS_MIN", 3)
    load_images(values, column="img", size=4, verbose=1)  # not a terminal: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    load_images(values, column="img", size=4, verbose=1)
    assert "3/3" in capsys.readouterr().err


# ----------------------------------------------------------------------------- ImageLoader


@pytest.fixture
def frame(files):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(8)]
    images[0] = files["good.png"]
    return pd.DataFrame(
        {"text": list("abcdefgh"), "image": images}, index=[f"r{i}" for i in range(8)]
    )


def test_image_loader(frame):
    loader = ImageLoader(image_size=(4, 5)).fit(frame)
    out = loader.transform(frame)
    assert out.shape == (8, 3 * 4 * 5) and out.dtype == np.uint8
    assert loader.n_features_out_ == 60
    names = loader.get_feature_names_out()
    assert names[0] == "image_c0_y0_x0" and names[-1] == "image_c2_y3_x4"
    nchw = load_images(frame["image"], column="image", size=(4, 5))
    np.testing.assert_array_equal(out, nchw.reshape(8, -1))
    gray = ImageLoader(image_size=3, mode="L").fit_transform(frame)
    assert gray.shape == (8, 9)


def test_image_loader_in_a_pipeline(frame):
    pipe = make_pipeline(ImageLoader(image_size=6), PCA(3, random_state=0))
    z = pipe.fit_transform(frame)
    assert z.shape == (8, 3)


def test_image_loader_errors(frame):
    with pytest.raises(ValueError, match="mode"):
        ImageLoader(mode="CMYK").fit(frame)
    with pytest.raises(ValueError, match="image_size"):
        ImageLoader(image_size=(0, 4)).fit(frame)
    loader = ImageLoader(image_size=4).fit(frame)
    bad = frame.copy()
    bad.loc["r3", "image"] = None
    with pytest.raises(InvalidRowsError, match="'r3'"):
        loader.transform(bad)


def test_truncated_file_respects_pillow_flag(files, monkeypatch):
    # the files are cut in their pixel data: Pillow can fill the rest if asked to
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert decode_image(files["truncated.jpg"], size=4).shape == (3, 4, 4)
    assert decode_image(files["truncated.png"], size=4).shape == (3, 4, 4)


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(_gradient(4, 8))  # 4 high, 8 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "rotated.png", exif=exif)
    assert decode_image(tmp_path / "rotated.png", size=(8, 4)).shape == (3, 8, 4)
    out = decode_image(tmp_path / "rotated.png", size=(8, 4))
    np.testing.assert_allclose(
        out.astype(int), np.rot90(_gradient(4, 8), -1).transpose(2, 0, 1)
    )


# ---- a wrong image folder: bounded message and a hint ----------------------------------


@pytest.fixture
def photo_folder(tmp_path, monkeypatch):
    """tmp_path as the current directory, with photos/0.png ... photos/4.png."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    for i in range(5):
        Image.new("RGB", (3, 3), (i, 0, 0)).save(tmp_path / "photos" / f"{i}.png")
    return tmp_path


def _load_error(paths, column="image"):
    with pytest.raises(InvalidRowsError) as info:
        load_images(pd.Series(paths, dtype=object), column=column, size=4)
    return info.value


def test_wrong_relative_folder_gives_a_hint(photo_folder):
    err = _load_error([f"imgs/{i}.png" for i in range(150)])
    msg = str(err)
    assert ("column 'image', rows [0, 1, 2, 3, 4] and 145 more: file not found: "
            "imgs/0.png, imgs/1.png and 148 others") in msg
    (hint,) = err.hints
    assert f"0 of 150 files of column 'image' exist: all would be under {photo_folder / 'imgs'}"\
        f", which does not exist (nearest existing folder: {photo_folder})" in hint
    assert f"The first file names are under {photo_folder / 'photos'}: did you mean" in hint
    assert f"Relative paths are looked up from the current directory {photo_folder}" in hint
    assert "No estimator takes an image folder: make the paths absolute" in hint
    assert "load_image_text_folder(csv_path, image_dir=" in hint
    assert "hint: 0 of 150 files" in msg and len(msg) < 1000
    assert len(err.report) == 150


def test_wrong_absolute_folder_that_exists(photo_folder):
    (photo_folder / "empty").mkdir()
    err = _load_error([str(photo_folder / "empty" / f"{i}.jpg") for i in range(3)])
    (hint,) = err.hints
    assert f"all would be under {photo_folder / 'empty'}, which holds none of them." in hint
    assert "did you mean" not in hint  # no folder holds 0.jpg, 1.jpg, 2.jpg
    assert "Relative paths" not in hint and "point the paths at the right one" in hint


def test_tilde_paths_are_named(photo_folder):
    (hint,) = _load_error(["~/no-such-skmm-folder/a.png", "~/no-such-skmm-folder/b.png"]).hints
    assert "A leading '~' is not expanded" in hint


def test_no_hint_when_some_file_exists_or_one_path(photo_folder):
    assert _load_error(["photos/0.png", "imgs/1.png", "imgs/2.png"]).hints == []
    assert _load_error(["imgs/1.png"]).hints == []
    assert _load_error([np.zeros(3), "imgs/1.png"]).hints == []
    assert "hint" not in str(_load_error(["imgs/1.png", None]))


def test_check_images_carries_the_hint(photo_folder):
    report = check_images(pd.Series(["imgs/0.png", "imgs/1.png"]), column="img")
    (hint,) = report.attrs["hints"]
    assert "0 of 2 files of column 'img' exist" in hint
    assert InvalidRowsError(report).hints == [hint]
    assert "hints" not in check_images(pd.Series(["photos/0.png"]), column="img").attrs


def test_100k_missing_files_bounded_message(photo_folder):
    n = 100_000
    err = _load_error([f"imgs/{i}.png" for i in range(n)])
    msg = str(err)
    assert len(msg) < 1000, msg
    assert f"{n} unusable row(s)" in msg and f"and {n - 5} more" in msg
    assert f"0 of {n} files" in msg
    assert len(err.report) == n and err.report["row"].tolist() == list(range(n))


def test_image_loader_records_only_its_column(frame):
    loader = ImageLoader(image_size=4).fit(frame)
    assert loader.feature_names_in_.tolist() == ["image"] and loader.n_features_in_ == 1
    assert loader.transform(frame.assign(extra=1)).shape == (8, 48)
