"""skmm.cluster.transform_partitions: towers and a space's transform over a dask DataFrame on a
LocalCluster of two worker processes, with the towers' on-disk cache shared between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmm.cluster import transform_partitions
from skmm.datasets import make_shapes
from skmm.encoders import ImageTower, TextTower

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def X(tmp_path_factory):
    """A dozen rows whose images are PNG files, as a table on a cluster holds them."""
    from PIL import Image

    X = make_shapes(12, image_size=32, random_state=0)
    X.index = [f"row{i}" for i in range(len(X))]
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for label, image in X["image"].items():
        Image.fromarray(image).save(folder / f"{label}.png")
        paths.append(str(folder / f"{label}.png"))
    X["image"] = paths
    return X


def cache_files(location: Path) -> dict[str, int]:
    """Every file of a joblib cache folder and its modification time (ns)."""
    return {str(p.relative_to(location)): p.stat().st_mtime_ns
            for p in location.rglob("*") if p.is_file()}


@pytest.mark.slow  # two worker processes start twice and load the towers: 15-35 s
def test_towers_on_two_workers_share_the_disk_cache(client, X, tmp_path):
    frame = dd.from_pandas(X, npartitions=2)
    cache = tmp_path / "features"
    towers = [ImageTower("image", memory=str(cache), n_threads=1).fit(X),
              TextTower("text", memory=str(cache), n_threads=1).fit(X)]
    local = [ImageTower("image", n_threads=1).fit(X).transform(X),
             TextTower("text", n_threads=1).fit(X).transform(X)]
    for tower, expected in zip(towers, local):
        out = transform_partitions(tower, frame).compute()
        assert sorted(out.index) == sorted(X.index)  # from_pandas sorts the row labels
        out = out.loc[X.index]
        assert list(out.columns) == list(tower.get_feature_names_out())
        assert out.dtypes.eq(np.float32).all()
        np.testing.assert_allclose(out.to_numpy(), expected, atol=1e-5)
    first = cache_files(cache)
    # one cached call per tower and partition (each with its output)
    assert sum(name.endswith("output.pkl") for name in first) == 4
    # fresh workers, whose in-process caches are empty: every feature must come from disk
    client.restart()
    for tower, expected in zip(towers, local):
        out = transform_partitions(tower, frame).compute().loc[X.index]
        np.testing.assert_allclose(out.to_numpy(), expected, atol=1e-5)
    # nothing was computed again: no file added, none rewritten
    assert cache_files(cache) == first


@pytest.mark.slow
def test_a_fitted_space_embeds_on_the_cluster(client, X):
    from skmm import CommonSpaceEmbedder

    space = CommonSpaceEmbedder(n_components=8, max_epochs=1, n_threads=1,
                                random_state=0).fit(X, X["label"])
    frame = dd.from_pandas(X, npartitions=3)
    out = transform_partitions(space, frame).compute().loc[X.index]
    np.testing.assert_allclose(out.to_numpy(), space.transform(X), atol=1e-5)
    assert list(out.columns) == list(space.get_feature_names_out())
    image = transform_partitions(space, frame, method="embed", modality="image").compute()
    assert list(image.columns) == [f"image{i}" for i in range(8)]
    image = image.loc[X.index]
    np.testing.assert_allclose(image.to_numpy(), space.embed(X, "image"), atol=1e-5)


def test_bad_arguments(X):
    tower = ImageTower("image").fit(X)
    with pytest.raises(TypeError, match="dask DataFrame"):
        transform_partitions(tower, X)
    with pytest.raises(ValueError, match="no method 'embed'"):
        transform_partitions(tower, dd.from_pandas(X, npartitions=2), method="embed")


def test_an_empty_partition_gives_no_rows(X):
    from skmm.cluster import _apply

    out = _apply(X.iloc[:0], None, "transform", ["a", "b"], {})
    assert out.shape == (0, 2) and isinstance(out, pd.DataFrame)
