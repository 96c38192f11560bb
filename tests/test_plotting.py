import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from skmm.metrics import cluster_sweep  # noqa: E402
from skmm.plotting import plot_cluster_sweep, plot_embedding_map, plot_history  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=90, n_features=5, centers=3, random_state=0)


def _save(fig, path):
    fig.savefig(path)
    assert path.exists() and path.stat().st_size > 1000


def _legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


# --- plot_embedding_map -------------------------------------------------------


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_embedding_map_int_labels(blobs, method, tmp_path):
    Z, y = blobs
    ax = plot_embedding_map(Z, y, method=method, random_state=0)
    assert isinstance(ax, Axes)
    assert len(ax.collections) == 1
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (90, 2)
    assert np.isfinite(offsets).all()
    assert _legend_texts(ax) == ["0", "1", "2"]
    assert ("t-SNE" if method == "tsne" else "PCA") in ax.get_title()
    _save(ax.figure, tmp_path / f"map_{method}.png")


def test_embedding_map_string_labels_and_colors(blobs):
    Z, y = blobs
    names = np.array(["cat", "dog", "bird"])[y]
    ax = plot_embedding_map(Z, pd.Series(names), method="pca")
    assert _legend_texts(ax) == ["bird", "cat", "dog"]
    colors = ax.collections[0].get_facecolors()
    assert len(np.unique(colors.round(6), axis=0)) == 3
    # points of one class share one colour
    first_cat = colors[names == "cat"]
    assert (first_cat == first_cat[0]).all()


def test_embedding_map_mixed_and_missing_labels(blobs):
    Z, _ = blobs
    labels = [1, "a", None] * 30
    ax = plot_embedding_map(Z, labels, method="pca")
    texts = _legend_texts(ax)
    assert "missing" in texts and len(texts) == 3


def test_embedding_map_no_labels_and_given_ax(blobs):
    Z, _ = blobs
    _, (ax0, ax1) = plt.subplots(1, 2)
    out = plot_embedding_map(Z, method="pca", ax=ax1, title="mine")
    assert out is ax1
    assert len(ax0.collections) == 0 and len(ax1.collections) == 1
    assert ax1.get_legend() is None
    assert ax1.get_title() == "mine"


def test_embedding_map_many_classes_no_legend():
    Z = np.random.default_rng(0).normal(size=(60, 4))
    labels = np.arange(60) % 30
    ax = plot_embedding_map(Z, labels, method="pca", max_legend=12)
    assert ax.get_legend() is None
    colors = ax.collections[0].get_facecolors()
    assert len(np.unique(colors.round(6), axis=0)) == 30


def test_embedding_map_tiny_n_clips_perplexity(tmp_path):
    Z = np.random.default_rng(0).normal(size=(10, 4))
    ax = plot_embedding_map(Z, ["x", "y"] * 5, random_state=0)  # perplexity 30 > n
    assert "perplexity=3" in ax.get_title()
    assert ax.collections[0].get_offsets().shape == (10, 2)
    _save(ax.figure, tmp_path / "tiny.png")


def test_embedding_map_tsne_reproducible(blobs):
    Z, y = blobs
    a = (
        plot_embedding_map(Z, y, perplexity=10, random_state=3)
        .collections[0]
        .get_offsets()
    )
    b = (
        plot_embedding_map(Z, y, perplexity=10, random_state=3)
        .collections[0]
        .get_offsets()
    )
    np.testing.assert_allclose(a, b)


def test_embedding_map_errors(blobs):
    Z, y = blobs
    with pytest.raises(ValueError, match="method"):
        plot_embedding_map(Z, y, method="umap")
    with pytest.raises(ValueError, match="labels"):
        plot_embedding_map(Z, y[:-1], method="pca")
    Z_bad = Z.copy()
    Z_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        plot_embedding_map(Z_bad, y, method="pca")


# --- plot_cluster_sweep -------------------------------------------------------


@pytest.fixture(scope="module")
def sweep():
    Z, _ = make_blobs(n_samples=200, centers=4, cluster_std=0.6, random_state=0)
    return cluster_sweep(Z, range(2, 8), random_state=0)


def test_plot_cluster_sweep(sweep, tmp_path):
    fig = plot_cluster_sweep(sweep)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    within, between, sil, pops = fig.axes
    np.testing.assert_allclose(within.get_lines()[0].get_xdata(), sweep["k"])
    np.testing.assert_allclose(
        between.get_lines()[0].get_ydata(), sweep["mean_centroid_distance"]
    )
    assert "best k = 4" in _legend_texts(sil)
    assert len(pops.get_lines()) == len(sweep)
    k4 = pops.get_lines()[2]
    np.testing.assert_allclose(k4.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(k4.get_ydata(), sweep.loc[2, "populations"])
    _save(fig, tmp_path / "sweep.png")


def test_plot_cluster_sweep_given_fig_and_csv_roundtrip(sweep, tmp_path):
    path = tmp_path / "sweep.csv"
    sweep.to_csv(path, index=False)
    loaded = pd.read_csv(path)  # populations come back as strings
    fig = plt.figure()
    out = plot_cluster_sweep(loaded.sample(frac=1, random_state=0), fig=fig)
    assert out is fig
    assert len(fig.axes) == 4
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_xdata(), sweep["k"])


def test_plot_cluster_sweep_errors(sweep):
    with pytest.raises(TypeError, match="DataFrame"):
        plot_cluster_sweep(sweep.to_dict())
    with pytest.raises(ValueError, match="silhouette"):
        plot_cluster_sweep(sweep.drop(columns="silhouette"))
    with pytest.raises(ValueError, match="empty"):
        plot_cluster_sweep(sweep.iloc[:0])


# --- plot_history ---------------------------------------------------------------


def _records(n_epochs=5):
    rows = []
    for epoch in range(1, n_epochs + 1):
        rows.append(
            {
                "epoch": epoch,
                "dur": 0.5,
                "batches": [{"train_loss": 1.0, "train_batch_size": 32}],
                "train_batch_count": 10,
                "valid_batch_count": 2,
                "train_loss": 10.0 / epoch,
                "train_loss_best": True,
                "valid_loss": 12.0 / epoch,
                "valid_loss_best": epoch == n_epochs,
                "train_image": 6.0 / epoch,
                "train_text": 3.0 / epoch,
                "train_kl": 1.0 / epoch,
                "event_lr": 0.01,
            }
        )
    return rows


def test_plot_history_list_of_dicts(tmp_path):
    ax = plot_history(_records())
    assert isinstance(ax, Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [
        "train_loss",
        "valid_loss",
        "train_image",
        "train_text",
        "train_kl",
    ]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["train_loss"].get_color() == lines["valid_loss"].get_color()
    assert lines["valid_loss"].get_linestyle() == "--"
    np.testing.assert_allclose(lines["train_loss"].get_xdata(), [1, 2, 3, 4, 5])
    assert ax.get_yscale() == "linear"
    _save(ax.figure, tmp_path / "history.png")


def test_plot_history_skorch_history(tmp_path):
    from skorch.history import History

    history = History()
    for row in _records(4):
        history.new_epoch()
        for key, value in row.items():
            if key != "batches":
                history.record(key, value)
    history.new_batch()
    history.record_batch("train_loss", 1.0)
    fig, ax = plt.subplots()
    out = plot_history(history, ax=ax, title="CRVAE")
    assert out is ax
    assert len(ax.get_lines()) == 5
    assert ax.get_title() == "CRVAE"
    _save(fig, tmp_path / "skorch_history.png")


def test_plot_history_keys_and_log_scale():
    rows = [
        {"epoch": e, "train_loss": 10.0 ** (3 - e), "valid_loss": 5.0} for e in range(5)
    ]
    ax = plot_history(rows)
    assert ax.get_yscale() == "log"
    ax = plot_history(rows, keys=["valid_loss"])
    assert [line.get_label() for line in ax.get_lines()] == ["valid_loss"]
    assert ax.get_yscale() == "linear"


def test_plot_history_negative_values_linear_and_gaps():
    rows = [
        {"train_loss": -1.0},
        {"train_loss": 1000.0, "valid_loss": 1.0},
        {"train_loss": 1e-3},
    ]
    ax = plot_history(rows)
    assert ax.get_yscale() == "linear"
    valid = next(line for line in ax.get_lines() if line.get_label() == "valid_loss")
    np.testing.assert_allclose(valid.get_xdata(), [1, 2, 3])  # epochs default to 1..n
    assert np.isnan(valid.get_ydata()[0])


def test_plot_history_errors():
    with pytest.raises(ValueError, match="empty"):
        plot_history([])
    with pytest.raises(ValueError, match="keys"):
        plot_history([{"epoch": 1, "dur": 1.0}])
    with pytest.raises(ValueError, match="nope"):
        plot_history(_records(), keys=["nope"])
