"""skmm.plotting.plot_latent_diagnostics."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from skmm.metrics import active_units, kl_per_dimension  # noqa: E402
from skmm.plotting import plot_latent_diagnostics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bar_heights(ax):
    return [p.get_height() for p in ax.patches]


def test_bars_are_the_kl_sorted_and_labelled_with_their_dimension():
    kl = np.array([0.2, 1.5, 0.0, 0.7])
    ax = plot_latent_diagnostics(kl)
    assert isinstance(ax, Axes)
    assert _bar_heights(ax) == [1.5, 0.7, 0.2, 0.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "0", "2"]
    assert ax.get_ylabel() == "KL (nats)" and "2.4 nats" in ax.get_title()
    assert len(ax.figure.axes) == 1  # no variance axis without variance


def test_variance_marks_the_active_units_and_the_threshold(tmp_path):
    kl = np.array([0.01, 1.2, 0.4, 0.0])
    variance = np.array([1e-4, 0.8, 0.2, 0.0])
    ax = plot_latent_diagnostics(kl, variance, threshold=0.05)
    assert ax.get_title().startswith("2 of 4 units active (variance > 0.05)")
    colors = [p.get_facecolor() for p in ax.patches]  # order: dims 1, 2, 0, 3
    assert colors[0] == colors[1] == to_rgba("C0")
    assert colors[2] == colors[3] == to_rgba("0.7")
    twin = ax.figure.axes[-1]
    assert twin is not ax and twin.get_yscale() == "log"
    points = twin.get_lines()[0].get_ydata()
    np.testing.assert_allclose(points[:3], [0.8, 0.2, 1e-4])
    assert points[3] > 0  # a zero variance is drawn at a floor, below the others
    assert points[3] < 1e-4
    threshold_line = twin.get_lines()[1]
    np.testing.assert_allclose(threshold_line.get_ydata(), [0.05, 0.05])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["active unit", "inactive unit", "variance of the mean",
                      "threshold 0.05"]
    ax.figure.savefig(tmp_path / "latent.png")
    assert (tmp_path / "latent.png").stat().st_size > 1000


def test_draws_on_a_given_axes_from_the_metrics():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(50, 6)) * np.array([1, 1, 1, 0.01, 0.01, 0.01])
    logvar = np.log(np.full((50, 6), 0.5))
    n, variance = active_units(mu, return_variance=True)
    fig, axes = plt.subplots(1, 2)
    ax = plot_latent_diagnostics(kl_per_dimension(mu, logvar), variance, axes[1])
    assert ax is axes[1] and ax.get_title().startswith(f"{n} of 6 units active")
    assert n == 3 and len(ax.patches) == 6


def test_a_collapsed_latent_is_all_grey():
    ax = plot_latent_diagnostics(np.zeros(5), np.zeros(5))
    assert ax.get_title().startswith("0 of 5 units active")
    assert {p.get_facecolor() for p in ax.patches} == {to_rgba("0.7")}


def test_many_dimensions_have_no_tick_labels():
    ax = plot_latent_diagnostics(np.linspace(0, 1, 100))
    assert len(ax.patches) == 100
    assert all(t.get_text() == "" for t in ax.get_xticklabels())


@pytest.mark.parametrize("kl, variance, threshold, match", [
    (np.zeros((2, 3)), None, 0.01, "kl"),
    ([], None, 0.01, "kl"),
    ([0.1, np.nan], None, 0.01, "kl"),
    ([0.1, 0.2], [0.5], 0.01, "variance has 1 values but kl has 2"),
    ([0.1, 0.2], [0.5, np.inf], 0.01, "variance"),
    ([0.1, 0.2], [0.5, 0.1], -1, "threshold"),
])
def test_validates(kl, variance, threshold, match):
    with pytest.raises(ValueError, match=match):
        plot_latent_diagnostics(kl, variance, threshold=threshold)
