import os

import pandas as pd
import pytest

from skmm.datasets import load_image_text_folder
from skmm.exceptions import MissingColumnError


@pytest.fixture
def csv(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"not decoded here")
    path = tmp_path / "captions.csv"
    pd.DataFrame(
        {
            "file": ["img/a.png", "./img/missing.png", "/abs/c.png"],
            "caption": ["a cat", "一只狗", "a bird"],
            "y": [0, 1, 2],
        }
    ).to_csv(path, index=False)
    return path


def test_relative_names_become_absolute(csv):
    frame = load_image_text_folder(csv, image_col="file", text_col="caption")
    assert frame["file"].tolist() == [
        str(csv.parent / "img" / "a.png"),
        str(csv.parent / "img" / "missing.png"),
        "/abs/c.png",
    ]
    assert all(os.path.isabs(p) for p in frame["file"])
    assert frame["caption"].tolist() == ["a cat", "一只狗", "a bird"]
    assert frame["y"].tolist() == [0, 1, 2]  # other columns kept as read


def test_image_dir(csv, tmp_path):
    frame = load_image_text_folder(
        str(csv), image_dir=tmp_path / "img", image_col="file", text_col="caption"
    )
    assert frame["file"][0] == str(tmp_path / "img" / "img" / "a.png")


def test_sep_and_default_columns(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("image\ttext\nx.jpg\thello, world\n", encoding="utf-8")
    frame = load_image_text_folder(path, sep="\t")
    assert frame.loc[0, "image"] == str(tmp_path / "x.jpg")
    assert frame.loc[0, "text"] == "hello, world"


@pytest.mark.parametrize(
    "kwargs, missing",
    [
        ({"image_col": "file"}, "text"),
        ({"text_col": "caption"}, "image"),
    ],
)
def test_missing_column(csv, kwargs, missing):
    with pytest.raises(MissingColumnError, match=repr(missing)) as info:
        load_image_text_folder(csv, **kwargs)
    assert info.value.column == missing
    assert isinstance(info.value, ValueError)
