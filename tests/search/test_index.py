"""skmm.search.GalleryIndex and retrieve with a prebuilt index."""

from __future__ import annotations

import pickle
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from skmm import CommonSpaceEmbedder
from skmm.datasets import make_shapes
from skmm.metrics import top_k
from skmm.search import GalleryIndex
from skmm.towers import feature_cache

faiss = pytest.importorskip("faiss")


def unit(Z):
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def X():
    X = make_shapes(40, image_size=16, random_state=0)
    X.index = [f"item{i}" for i in range(len(X))]  # results name these labels
    return X


@pytest.fixture(scope="module")
def space(X):
    # the defaults: both frozen pretrained towers
    return CommonSpaceEmbedder(n_components=8, max_epochs=1, n_threads=1,
                               random_state=0).fit(X, X["label"])


@pytest.fixture(scope="module")
def clustered():
    """Vectors of low intrinsic dimension (as embeddings are): HNSW finds their neighbours."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(8, 32))
    G = unit(rng.normal(size=(3000, 8)) @ W + 0.1 * rng.normal(size=(3000, 32)))
    Q = unit(rng.normal(size=(200, 8)) @ W + 0.1 * rng.normal(size=(200, 32)))
    return G.astype(np.float32), Q.astype(np.float32)


# ---- with a fitted space ------------------------------------------------------

def test_retrieve_with_an_index_equals_retrieve_with_the_frame(X, space):
    index = space.build_index(X, "image")
    assert index.method_ == "exact" and len(index) == len(X) and index.modality_ == "image"
    assert index.source_ == "CommonSpaceEmbedder" and index.n_components_ == 8
    assert list(index.labels_) == list(X.index)
    np.testing.assert_allclose(index.embeddings_, space.embed(X, "image"), atol=1e-6)
    query = X.iloc[:5]
    with_frame = space.retrieve(query, "text", X, "image", k=7, return_labels=True)
    with_index = space.retrieve(query, "text", index, k=7, return_labels=True)
    np.testing.assert_array_equal(with_index[0], with_frame[0])
    np.testing.assert_allclose(with_index[1], with_frame[1], atol=1e-6)
    np.testing.assert_array_equal(with_index[2], X.index.to_numpy()[with_frame[0]])
    assert with_index[2][0, 0].startswith("item")
    # the exact top_k of the embeddings, and two arrays without return_labels
    idx, sim = space.retrieve(query, "text", index, "image", k=7)
    ref = top_k(space.embed(query, "text"), space.embed(X, "image"), 7)
    np.testing.assert_array_equal(idx, ref[0])


def test_retrieve_with_an_index_embeds_only_the_queries(X, space, monkeypatch):
    index = space.build_index(X, "image")
    calls = []
    embed = space.embed

    def counting_embed(frame, modality):
        calls.append((modality, len(frame)))
        return embed(frame, modality)

    monkeypatch.setattr(space, "embed", counting_embed)
    feature_cache.clear()  # every cell a tower is asked for is then counted once
    space.retrieve(X.iloc[:3], "text", index, k=5)
    assert calls == [("text", 3)]
    info = feature_cache.info()
    assert info["hits"] + info["misses"] == 3  # the towers saw the 3 query captions only
    calls.clear()
    feature_cache.clear()
    space.retrieve(X.iloc[:3], "text", X, "image", k=5)  # a frame: embedded on every call
    assert calls == [("text", 3), ("image", len(X))]
    info = feature_cache.info()
    assert info["hits"] + info["misses"] == 3 + len(X)


def test_index_errors(X, space):
    index = space.build_index(X, "image")
    with pytest.raises(ValueError, match="k must be"):
        space.retrieve(X.iloc[:2], "text", index, k=0)
    with pytest.raises(ValueError, match="index holds embeddings of 'image'"):
        space.retrieve(X.iloc[:2], "text", index, "text")
    with pytest.raises(ValueError, match="unknown modality"):
        space.retrieve(X.iloc[:2], "audio", index)
    with pytest.raises(ValueError, match="unknown modality"):
        space.build_index(X, "audio")
    with pytest.raises(ValueError, match="gallery_modality is needed"):
        space.retrieve(X.iloc[:2], "text", X)
    other = GalleryIndex().fit(np.eye(16)[:4])  # another space's 16-d embeddings
    with pytest.raises(ValueError, match="queries have 8 components but the index holds 16"):
        space.retrieve(X.iloc[:2], "text", other)
    with pytest.raises(ValueError, match="method must be"):
        space.build_index(X, "image", method="ivf")


def test_tower_cca_builds_and_searches_an_index(X):
    from skmm.baselines import TowerCCA

    cca = TowerCCA(n_components=4, pca_components=8).fit(X)
    index = cca.build_index(X, "text")
    idx, sim = cca.retrieve(X.iloc[:4], "image", index, k=3)
    ref = cca.retrieve(X.iloc[:4], "image", X, "text", k=3)
    np.testing.assert_array_equal(idx, ref[0])


# ---- the index on arrays ---------------------------------------------------------

def test_exact_search_equals_top_k_and_names_labels():
    rng = np.random.default_rng(0)
    G, Q = rng.normal(size=(500, 6)), rng.normal(size=(20, 6))
    labels = pd.Index([f"g{i}" for i in range(500)], name="sku")
    index = GalleryIndex().fit(G * 3, labels)  # rows are scaled to unit length
    np.testing.assert_allclose(np.linalg.norm(index.embeddings_, axis=1), 1, rtol=1e-6)
    assert index.embeddings_.dtype == np.float32
    idx, sim, names = index.search(Q, k=5, return_labels=True)
    ref_idx, ref_sim = top_k(unit(Q).astype(np.float32), index.embeddings_, 5)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sim, ref_sim, atol=1e-6)
    np.testing.assert_array_equal(names, labels.to_numpy()[idx])
    assert index.search(Q, k=900)[0].shape == (20, 500)  # k capped at the gallery
    assert repr(index) == "GalleryIndex(), 500 rows x 6, exact"


def test_hnsw_recall_and_auto(clustered):
    G, Q = clustered
    exact = top_k(Q, G, 10)[0]
    index = GalleryIndex("hnsw", hnsw_m=16, ef_construction=64, ef_search=64,
                         n_threads=1).fit(G)
    assert index.method_ == "hnsw" and index.hnsw_.ntotal == len(G)
    idx, sim = index.search(Q, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact)])
    assert recall >= 0.95
    assert (np.diff(sim, axis=1) <= 1e-6).all()  # best first
    np.testing.assert_allclose(sim, np.take_along_axis(Q @ G.T, idx, axis=1), atol=1e-5)
    assert GalleryIndex("auto", auto_rows=len(G)).fit(G).method_ == "hnsw"
    assert GalleryIndex("auto", auto_rows=len(G) + 1).fit(G).method_ == "exact"
    # ef_search acts at search time: a larger list finds at least as much
    index.ef_search = 400
    idx400 = index.search(Q, k=10)[0]
    recall400 = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx400, exact)])
    assert recall400 >= recall


def test_without_faiss(clustered, monkeypatch):
    G, _ = clustered
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss fails
    with pytest.warns(UserWarning, match="faiss is not installed"):
        assert GalleryIndex("auto", auto_rows=10).fit(G).method_ == "exact"
    with pytest.raises(ImportError, match=r"skmm\[ann\]"):
        GalleryIndex("hnsw").fit(G)


@pytest.mark.parametrize("method", ["exact", "hnsw"])
@pytest.mark.parametrize("labels", [
    None,
    pd.Index([f"img/{i}.png" for i in range(600)], name="path"),
    pd.Index(np.arange(600) * 7, name="id"),
])
def test_save_and_load_round_trip(clustered, tmp_path, method, labels):
    G, Q = clustered[0][:600], clustered[1]
    index = GalleryIndex(method, hnsw_m=8, ef_construction=32, ef_search=50).fit(
        G, labels, modality="image", source="CommonSpaceEmbedder")
    path = tmp_path / "gallery.index"
    index.save(path)
    assert path.exists()
    loaded = GalleryIndex.load(path)
    assert loaded.get_params() == index.get_params()
    assert (loaded.method_, loaded.modality_, loaded.source_) == (method, "image",
                                                                  "CommonSpaceEmbedder")
    pd.testing.assert_index_equal(loaded.labels_, index.labels_)
    np.testing.assert_array_equal(loaded.embeddings_, index.embeddings_)
    for a, b in zip(loaded.search(Q, 10, return_labels=True),
                    index.search(Q, 10, return_labels=True)):
        np.testing.assert_array_equal(a, b)
    for copy in (pickle.loads(pickle.dumps(index)), joblib.load(_joblib_dump(index, tmp_path))):
        np.testing.assert_array_equal(copy.search(Q, 10)[0], index.search(Q, 10)[0])


def _joblib_dump(obj, folder):
    path = folder / "index.joblib"
    joblib.dump(obj, path)
    return path


def test_save_refuses_what_needs_pickle_and_load_refuses_other_files(tmp_path):
    index = GalleryIndex().fit(np.eye(3), pd.Index([("a", 1), ("b", 2), ("c", 3)],
                                                   tupleize_cols=False))
    with pytest.raises(ValueError, match="joblib.dump"):
        index.save(tmp_path / "x.npz")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a saved GalleryIndex"):
        GalleryIndex.load(tmp_path / "other.npz")


@pytest.mark.parametrize("call, match", [
    (lambda: GalleryIndex().fit(np.ones((0, 3))), "no rows"),
    (lambda: GalleryIndex().fit(np.ones((3, 3)), ["a"]), "1 entries for 3"),
    (lambda: GalleryIndex().fit([[1.0, np.nan]]), "non-finite values in rows \\[0\\]"),
    (lambda: GalleryIndex().fit(np.ones(3)), "2-D"),
    (lambda: GalleryIndex(ef_search=0).fit(np.ones((3, 3))), "ef_search must be"),
    (lambda: GalleryIndex().fit(np.eye(3)).search(np.eye(3), k=0), "k must be"),
    (lambda: GalleryIndex().fit(np.eye(3)).search(np.eye(2), k=1), "2 components"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_not_fitted():
    with pytest.raises(NotFittedError):
        GalleryIndex().search(np.eye(2))
    with pytest.raises(NotFittedError):
        len(GalleryIndex())
