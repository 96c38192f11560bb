"""Lazy image columns and worker-process batch loading (data larger than memory)."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from skmm.exceptions import InvalidRowsError
from skmm.inputs import ImageColumn, load_images
from skmm.training import SliceLoader, TensorDict, WorkerLoader


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = []
    for i in range(23):
        file = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (20, 12, 3), dtype=np.uint8)).save(file)
        out.append(str(file))
    return pd.Series(out, index=[f"r{i}" for i in range(23)])


def test_image_column_decodes_like_load_images(paths):
    column = ImageColumn(paths, column="image", size=(8, 6))
    full = load_images(paths, column="image", size=(8, 6))
    assert column.shape == full.shape and len(column) == 23
    assert column.nbytes == full.nbytes
    np.testing.assert_array_equal(column[2:5], full[2:5])
    np.testing.assert_array_equal(column[[7, 0, 22]], full[[7, 0, 22]])


def test_image_column_error_names_row(paths):
    bad = paths.copy()
    bad.iloc[3] = "/no/such/file.png"
    column = ImageColumn(bad, column="photo", size=8)
    with pytest.raises(InvalidRowsError, match="photo") as err:
        column[0:5]
    assert "r3" in str(err.value)


def test_tensor_dict_with_lazy_column(paths):
    data = TensorDict({"image": ImageColumn(paths, column="image", size=8),
                       "y": torch.arange(23)})
    assert data.lazy and len(data) == 23
    part = data.take(torch.tensor([4, 1]))
    assert isinstance(part.tensors["image"], torch.Tensor)
    assert part.tensors["image"].shape == (2, 3, 8, 8)
    assert part.tensors["y"].tolist() == [4, 1]
    assert data[5]["image"].shape == (3, 8, 8)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_worker_loader_matches_slice_loader(paths, num_workers):
    """Streamed batches: same rows, same order, same pixels as in memory."""
    lazy = TensorDict({"image": ImageColumn(paths, column="image", size=8),
                       "y": torch.arange(23)})
    eager = TensorDict({"image": load_images(paths, column="image", size=8),
                        "y": torch.arange(23)})
    streamed = WorkerLoader(lazy, batch_size=5, shuffle=True,
                            generator=torch.Generator().manual_seed(3), num_workers=num_workers)
    in_memory = SliceLoader(eager, batch_size=5, shuffle=True,
                            generator=torch.Generator().manual_seed(3))
    assert len(streamed) == len(in_memory) == 5
    pairs = list(zip(streamed, in_memory, strict=True))
    assert len(pairs) == 5
    for (a, _), (b, _) in pairs:
        torch.testing.assert_close(a["image"], b["image"], rtol=0, atol=0)
        assert a["y"].tolist() == b["y"].tolist()


def test_image_column_reads_missing_cells_as_black(paths):
    cells = paths.astype(object).copy()
    cells.iloc[[2, 5]] = None
    present = cells.notna().to_numpy()
    column = ImageColumn(cells, column="image", size=(8, 6), present=present)
    full = load_images(paths, column="image", size=(8, 6))
    got = column[np.arange(7)]
    np.testing.assert_array_equal(got[present[:7]], full[:7][present[:7]])
    assert not got[[2, 5]].any()
    assert column[2:3].shape == (1, 3, 8, 6) and not column[2:3].any()
    with pytest.raises(ValueError, match="one flag per row"):
        ImageColumn(cells, column="image", present=present[:3])
