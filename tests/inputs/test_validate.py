import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skmm.exceptions import InvalidRowsError
from skmm.inputs import validate_frame


@pytest.fixture
def dirty(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (6, 4), "red").save(good)
    return pd.DataFrame(
        {
            "image": [
                good,
                tmp_path / "gone.png",
                np.zeros((5, 5, 3)),
                None,
                str(good),
            ],
            "text": ["a red square", "fine", "", "also fine", 3.5],
            "zh": ["红色方块", "。", "你好", "好", "好"],
            "other": range(5),
        },
        index=["a", "b", "c", "d", "e"],
    )


def test_validate_frame_reports_everything_in_row_order(dirty):
    report = validate_frame(
        dirty,
        image_cols="image",
        text_cols=["text", "zh", "caption"],
        tokenizer="jieba",
    )
    assert list(report.columns) == ["row", "column", "reason"]
    rows = report.to_records(index=False).tolist()
    assert rows[0] == (None, "caption", "missing column")
    assert rows[1][:2] == ("b", "image") and rows[1][2].startswith("file not found: ")
    assert rows[2:] == [
        ("b", "zh", "no tokens after tokenization"),
        ("c", "text", "empty text"),
        ("d", "image", "missing value"),
        ("e", "text", "not a string (got float)"),
    ]


def test_validate_frame_filter_idiom(dirty):
    bad = validate_frame(
        dirty, image_cols=["image"], text_cols=["text", "zh"], tokenizer="jieba"
    )
    clean = dirty.drop(index=bad["row"].dropna().unique())
    assert list(clean.index) == ["a"]
    ok = validate_frame(
        clean, image_cols=["image"], text_cols=["text", "zh"], tokenizer="jieba"
    )
    assert ok.empty and list(ok.columns) == ["row", "column", "reason"]


def test_validate_frame_options(dirty):
    assert validate_frame(dirty).empty  # nothing asked, nothing checked
    with pytest.raises(TypeError):
        validate_frame(dirty.to_numpy(), image_cols="image")
    with pytest.raises(ValueError, match="image_size"):
        validate_frame(dirty, image_cols="image", image_size=0)
    gray = validate_frame(dirty, image_cols="image", image_mode="L", image_size=3)
    assert gray["row"].tolist() == ["b", "d"]


def test_validate_frame_hints_at_a_wrong_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X = pd.DataFrame({"image": [f"imgs/{i}.png" for i in range(4)], "text": ["a"] * 4})
    bad = validate_frame(X, image_cols="image", text_cols="text")
    assert len(bad) == 4
    (hint,) = bad.attrs["hints"]
    assert "0 of 4 files of column 'image' exist" in hint
    assert "hint: 0 of 4 files" in str(InvalidRowsError(bad))
    assert "hints" not in validate_frame(X, text_cols="text").attrs
