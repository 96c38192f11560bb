"""Figures for embeddings: 2-D maps, cluster sweeps, training curves, latent diagnostics.

matplotlib is an optional dependency (``pip install skmm[plot]``); it is
imported only when a function here is called. Every function draws on an
``ax``/``fig`` you pass or on a new figure, returns the Axes or Figure, and
never calls ``plt.show()``, so it works in notebooks, scripts and with the
non-interactive Agg backend alike.
"""

from __future__ import annotations

import ast
import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_array, check_random_state

__all__ = ["plot_cluster_sweep", "plot_embedding_map", "plot_history", "plot_latent_diagnostics"]

_INSTALL_HINT = "pip install skmm[plot]"


def _pyplot():
    """Import ``matplotlib.pyplot`` or raise an ImportError with the install hint."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"skmm.plotting needs matplotlib, which is not installed: {_INSTALL_HINT}"
        ) from exc
    return plt


def _categorical_colors(n_colors):
    """Return ``n_colors`` distinct RGBA colours from qualitative colormaps.

    tab10 for up to 10 classes, tab20 for up to 20, tab20 + tab20b + tab20c
    for up to 60, and evenly spaced hues of ``turbo`` beyond that.
    """
    import matplotlib as mpl

    if n_colors <= 10:
        return np.asarray(mpl.colormaps["tab10"].colors)[:n_colors]
    if n_colors <= 20:
        return np.asarray(mpl.colormaps["tab20"].colors)[:n_colors]
    if n_colors <= 60:
        pool = np.concatenate(
            [
                np.asarray(mpl.colormaps[name].colors)
                for name in ("tab20", "tab20b", "tab20c")
            ]
        )
        return pool[:n_colors]
    return mpl.colormaps["turbo"](np.linspace(0.0, 1.0, n_colors))[:, :3]


def _encode_labels(labels, n_samples):
    """Map labels to integer codes; return ``(codes, classes)``, missing -> -1."""
    if not isinstance(labels, (pd.Series, pd.Index, pd.Categorical, np.ndarray)):
        # keep each value's own type (np.asarray would turn [1, "a"] into strings)
        values = list(labels)
        labels = np.empty(len(values), dtype=object)
        labels[:] = values
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"labels must be 1-D with one entry per row of Z ({n_samples}), "
            f"got shape {labels.shape}"
        )
    try:
        codes, classes = pd.factorize(labels, sort=True)
    except TypeError:  # mixed, unorderable types: keep the order of appearance
        codes, classes = pd.factorize(labels, sort=False)
    return codes, list(classes)


def plot_embedding_map(
    Z,
    labels=None,
    *,
    method: str = "tsne",
    perplexity: float = 30.0,
    random_state=None,
    ax=None,
    title: str | None = None,
    max_legend: int = 12,
    s: float = 8,
):
    """Draw a 2-D map of an embedding, coloured by label.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        The embedding (at least 2 rows, finite values).
    labels : array-like of shape (n_samples,) or None, default=None
        Class of each point (ints, strings, any hashable), treated as
        categorical. Missing values (None/NaN) are drawn in grey. ``None``
        draws every point in one colour.
    method : {'tsne', 'pca'}, default='tsne'
        ``'tsne'``: :class:`sklearn.manifold.TSNE` with PCA initialisation
        (random initialisation when ``Z`` has a single feature).
        ``'pca'``: the first two principal components
        (:class:`sklearn.decomposition.PCA`).
    perplexity : float, default=30.0
        t-SNE perplexity. t-SNE requires it to be smaller than the number of
        samples; it is **clipped to** ``(n_samples - 1) / 3`` (the largest
        value for which every point has about ``3 * perplexity`` neighbours),
        so small data sets work with the default. The value used is shown in
        the default title. Ignored for ``method='pca'``.
    random_state : int, RandomState instance or None, default=None
        Seeds t-SNE; pass an int for a reproducible map.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; a new figure is created when ``None``.
    title : str or None, default=None
        Axes title; by default the method (and the perplexity used).
    max_legend : int, default=12
        A legend is drawn only when there are at most this many classes.
    s : float, default=8
        Marker size (points²).

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on. All points are drawn in a single scatter
        collection, in data order.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``Z`` is not a finite 2-D array with at least 2 rows, if
        ``labels`` has the wrong length, or if ``method`` is unknown.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from skmm.plotting import plot_embedding_map
    >>> Z, y = make_blobs(n_samples=60, centers=3, n_features=8, random_state=0)
    >>> ax = plot_embedding_map(Z, y, method="pca")
    """
    plt = _pyplot()
    Z = check_array(
        Z, dtype=[np.float64, np.float32], ensure_min_samples=2, input_name="Z"
    )
    n_samples, n_features = Z.shape
    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")

    if method == "tsne":
        from sklearn.manifold import TSNE

        if not perplexity > 0:
            raise ValueError(f"perplexity must be positive, got {perplexity!r}")
        used_perplexity = float(min(perplexity, (n_samples - 1) / 3))
        tsne = TSNE(
            n_components=2,
            perplexity=used_perplexity,
            init="pca" if n_features >= 2 else "random",
            random_state=check_random_state(random_state),
        )
        XY = tsne.fit_transform(Z)
        axis_name = "t-SNE"
        default_title = f"t-SNE (perplexity={used_perplexity:.3g})"
    else:
        from sklearn.decomposition import PCA

        n_comp = min(2, n_samples, n_features)
        XY = PCA(n_components=n_comp).fit_transform(Z)
        if n_comp < 2:  # a single feature: spread along x only
            XY = np.column_stack([XY, np.zeros((n_samples, 2 - n_comp))])
        axis_name = "PC"
        default_title = "PCA"

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")

    if labels is None:
        ax.scatter(XY[:, 0], XY[:, 1], s=s, color="C0", linewidths=0)
    else:
        codes, classes = _encode_labels(labels, n_samples)
        palette = _categorical_colors(max(len(classes), 1))
        grey = np.array([0.6, 0.6, 0.6])
        colors = np.where((codes >= 0)[:, None], palette[np.clip(codes, 0, None)], grey)
        ax.scatter(XY[:, 0], XY[:, 1], s=s, c=colors, linewidths=0)
        has_missing = bool((codes < 0).any())
        if len(classes) + has_missing <= max_legend:
            from matplotlib.lines import Line2D

            def handle(color, name):
                return Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markersize=6,
                    color=color,
                    label=str(name),
                )

            handles = [handle(palette[i], c) for i, c in enumerate(classes)]
            if has_missing:
                handles.append(handle(grey, "missing"))
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                borderaxespad=0.0,
                fontsize="small",
                frameon=False,
            )

    ax.set_xlabel(f"{axis_name} 1")
    ax.set_ylabel(f"{axis_name} 2")
    if method == "tsne":  # t-SNE coordinates have no meaning of their own
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(default_title if title is None else title)
    return ax


_SWEEP_REQUIRED = (
    "k",
    "mean_distance_to_centroid",
    "mean_centroid_distance",
    "silhouette",
    "populations",
)


def _as_sizes(value):
    """Cluster sizes from a tuple/list/array, or from its string form (CSV round-trip)."""
    if isinstance(value, str):
        value = ast.literal_eval(value)
    return np.sort(np.asarray(value, dtype=float).ravel())[::-1]


def plot_cluster_sweep(sweep, *, fig=None):
    """Draw the criteria of a k-means sweep used to choose the number of clusters.

    Four panels, all against the number of clusters ``k``:

    1. mean distance of points to their centroid (choose ``k`` at the elbow),
    2. mean pairwise distance between centroids (separation),
    3. silhouette score (higher is better; the best ``k`` is marked),
    4. populations: for each ``k``, the cluster sizes sorted in descending
       order against the cluster rank, one line per ``k`` (balanced clusters
       give flat lines).

    Parameters
    ----------
    sweep : pandas.DataFrame
        The table returned by :func:`skmm.metrics.cluster_sweep` (columns
        ``k``, ``mean_distance_to_centroid``, ``mean_centroid_distance``,
        ``silhouette``, ``populations``; ``populations`` may also hold the
        tuples' string form, as after a CSV round-trip).
    fig : matplotlib.figure.Figure or None, default=None
        Figure to draw on (2 x 2 subplots are added to it); a new figure is
        created when ``None``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure, with four Axes.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If ``sweep`` is not a DataFrame.
    ValueError
        If ``sweep`` is empty or lacks one of the columns above.

    See Also
    --------
    skmm.metrics.cluster_sweep : Compute the sweep.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from skmm.metrics import cluster_sweep
    >>> from skmm.plotting import plot_cluster_sweep
    >>> Z, _ = make_blobs(n_samples=200, centers=4, random_state=0)
    >>> fig = plot_cluster_sweep(cluster_sweep(Z, range(2, 8), random_state=0))
    >>> len(fig.axes)
    4
    """
    plt = _pyplot()
    if not isinstance(sweep, pd.DataFrame):
        raise TypeError(
            f"sweep must be the DataFrame returned by skmm.metrics.cluster_sweep, "
            f"got {type(sweep).__name__}"
        )
    missing = [c for c in _SWEEP_REQUIRED if c not in sweep.columns]
    if missing:
        raise ValueError(
            f"sweep is missing column(s) {missing}; expected the output of "
            f"skmm.metrics.cluster_sweep (columns {list(_SWEEP_REQUIRED)})"
        )
    if len(sweep) == 0:
        raise ValueError("sweep is empty")

    sweep = sweep.sort_values("k")
    ks = sweep["k"].to_numpy()

    if fig is None:
        fig = plt.figure(figsize=(10, 7.5), layout="constrained")
    ax_within, ax_between, ax_sil, ax_pop = fig.subplots(2, 2).ravel()

    line_kw = {"marker": "o", "markersize": 5, "linewidth": 1.5}
    ax_within.plot(ks, sweep["mean_distance_to_centroid"].to_numpy(), **line_kw)
    ax_within.set_title("Within-cluster distance (elbow)")
    ax_within.set_ylabel("mean distance to centroid")

    ax_between.plot(
        ks, sweep["mean_centroid_distance"].to_numpy(), color="C1", **line_kw
    )
    ax_between.set_title("Centroid separation")
    ax_between.set_ylabel("mean distance between centroids")

    sil = sweep["silhouette"].to_numpy(dtype=float)
    ax_sil.plot(ks, sil, color="C2", **line_kw)
    if np.isfinite(sil).any():
        best = int(np.nanargmax(sil))
        ax_sil.plot(
            [ks[best]],
            [sil[best]],
            marker="*",
            markersize=14,
            color="C3",
            linestyle="",
            label=f"best k = {ks[best]}",
        )
        ax_sil.legend(loc="best", fontsize="small")
    ax_sil.set_title("Silhouette")
    ax_sil.set_ylabel("silhouette score")

    for ax in (ax_within, ax_between, ax_sil):
        ax.set_xlabel("number of clusters k")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)

    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    shades = np.linspace(0.0, 0.9, len(ks)) if len(ks) > 1 else np.array([0.0])
    max_rank = 1
    for k, pops, shade in zip(ks, sweep["populations"], shades):
        sizes = _as_sizes(pops)
        ranks = np.arange(1, sizes.size + 1)
        max_rank = max(max_rank, sizes.size)
        ax_pop.plot(
            ranks,
            sizes,
            marker="o",
            markersize=3,
            linewidth=1.2,
            color=cmap(shade),
            label=f"k={k}",
        )
    ax_pop.set_title("Cluster populations")
    ax_pop.set_xlabel("cluster rank (largest first)")
    ax_pop.set_ylabel("cluster size")
    ax_pop.set_xticks(np.arange(1, max_rank + 1, max(1, max_rank // 10)))
    ax_pop.set_ylim(bottom=0)
    ax_pop.grid(alpha=0.3)
    ax_pop.legend(fontsize="small", ncols=2 if len(ks) > 6 else 1, loc="upper right")
    return fig


_EXCLUDED_HISTORY_KEYS = ("dur",)
_EXCLUDED_HISTORY_SUFFIXES = ("_batch_count", "_best")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _default_history_keys(records):
    keys = []
    for row in records:
        for key, value in row.items():
            if (
                key not in keys
                and isinstance(key, str)
                and key.startswith(("train_", "valid_"))
                and key not in _EXCLUDED_HISTORY_KEYS
                and not key.endswith(_EXCLUDED_HISTORY_SUFFIXES)
                and _is_number(value)
            ):
                keys.append(key)
    return keys


def plot_history(history, *, keys=None, ax=None, title: str | None = None):
    """Draw training curves from a skorch History.

    Parameters
    ----------
    history : skorch.history.History or list of dict
        One dict per epoch, e.g. ``embedder.history_`` or ``net.history``.
        The x values are each row's ``'epoch'`` (1, 2, ... when absent).
    keys : list of str or None, default=None
        Keys to plot. By default every key that starts with ``'train_'`` or
        ``'valid_'`` and holds a number (e.g. ``train_loss``, ``valid_loss``,
        ``train_image``, ``train_text``, ``train_kl``), except timing and
        bookkeeping keys (``dur``, ``*_batch_count``, ``*_best``). Epochs
        where a key is missing are left as gaps.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; a new figure is created when ``None``.
    title : str or None, default=None
        Axes title; none by default.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes, with one line per key. ``train_X`` and ``valid_X`` share a
        colour (solid for train, dashed for valid). The y axis is logarithmic
        when all plotted values are positive and span more than two decades.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``history`` is empty, if no key can be plotted, or if a requested
        key is in no epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmm.plotting import plot_history
    >>> hist = [{"epoch": 1, "train_loss": 2.0, "valid_loss": 2.5},
    ...         {"epoch": 2, "train_loss": 1.0, "valid_loss": 1.8}]
    >>> ax = plot_history(hist)
    >>> len(ax.get_lines())
    2
    """
    plt = _pyplot()
    records = [dict(row) for row in history]
    if not records:
        raise ValueError("history is empty: nothing to plot (was the model fitted?)")

    if keys is None:
        keys = _default_history_keys(records)
        if not keys:
            raise ValueError(
                "history has no numeric 'train_*' or 'valid_*' key; pass keys=[...] "
                f"(keys seen: {sorted({k for row in records for k in row})})"
            )
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        seen = {k for row in records for k in row}
        unknown = [k for k in keys if k not in seen]
        if unknown:
            raise ValueError(
                f"key(s) {unknown} are in no epoch of history; keys seen: "
                f"{sorted(seen, key=str)}"
            )

    epochs = np.array(
        [row.get("epoch", i + 1) for i, row in enumerate(records)], dtype=float
    )
    values = np.array(
        [
            [row[k] if _is_number(row.get(k)) else np.nan for k in keys]
            for row in records
        ],
        dtype=float,
    ).reshape(len(records), len(keys))

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")

    # train_X and valid_X share a colour; anything else gets its own.
    color_of = {}
    for key, column in zip(keys, values.T):
        prefix, _, stem = key.partition("_")
        paired = prefix in ("train", "valid")
        group = stem if paired else key
        color = color_of.setdefault(group, f"C{len(color_of) % 10}")
        linestyle = "--" if paired and prefix == "valid" else "-"
        marker = "o" if len(records) <= 30 else None
        ax.plot(
            epochs,
            column,
            color=color,
            linestyle=linestyle,
            marker=marker,
            markersize=3,
            label=key,
        )

    finite = values[np.isfinite(values)]
    if finite.size and (finite > 0).all() and finite.max() / finite.min() > 100:
        ax.set_yscale("log")

    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    if title is not None:
        ax.set_title(title)
    return ax


def _check_per_dimension(values, name, n=None):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one value per latent "
                         f"dimension), got shape {values.shape}")
    if n is not None and values.size != n:
        raise ValueError(f"{name} has {values.size} values but kl has {n}; they must match")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} has non-finite values")
    return values


def plot_latent_diagnostics(kl, variance=None, ax=None, threshold=0.01):
    """Draw the KL of each latent dimension, sorted, with the active units marked.

    One bar per latent dimension, largest KL first, labelled with the
    dimension's index. With ``variance`` the bars of the active units
    (variance of the posterior mean above ``threshold``) are coloured and
    the inactive ones grey, and the variances are drawn as points on a
    second, logarithmic y axis with the threshold as a dashed line. A
    collapsed latent shows flat, grey bars near 0.

    Parameters
    ----------
    kl : array-like of shape (n_components,)
        KL of each dimension in nats, e.g. from
        :func:`skmm.metrics.kl_per_dimension`.
    variance : array-like of shape (n_components,) or None, default=None
        Variance across rows of each dimension's posterior mean, e.g. from
        ``skmm.metrics.active_units(mu, return_variance=True)[1]``.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; a new figure is created when ``None``.
    threshold : float, default=0.01
        Variance above which a unit is active (Burda et al., 2016).

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes of the bars. With ``variance``, the variance axis is its
        twin (``ax.figure.axes[-1]``).

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``kl`` is not a non-empty 1-D finite array, if ``variance`` does
        not have one finite value per dimension, or if ``threshold`` is
        negative.

    See Also
    --------
    skmm.metrics.kl_per_dimension : The KL of each dimension.
    skmm.metrics.active_units : The active units and their variances.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skmm.plotting import plot_latent_diagnostics
    >>> ax = plot_latent_diagnostics([0.01, 1.2, 0.4], variance=[1e-4, 0.8, 0.2])
    >>> [t.get_text() for t in ax.get_xticklabels()]  # dimensions, largest KL first
    ['1', '2', '0']
    >>> ax.get_title()
    '2 of 3 units active (variance > 0.01); total KL 1.61 nats'
    """
    plt = _pyplot()
    kl = _check_per_dimension(kl, "kl")
    n = kl.size
    if variance is not None:
        variance = _check_per_dimension(variance, "variance", n)
    if not _is_number(threshold) or not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")

    from matplotlib.patches import Patch

    order = np.argsort(-kl, kind="stable")
    x = np.arange(n)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, min(12.0, 0.3 * n + 3)), 4), layout="constrained")
    handles = []
    if variance is None:
        ax.bar(x, kl[order], color="C0")
        ax.set_title(f"KL per dimension; total KL {kl.sum():.3g} nats")
    else:
        active = variance[order] > threshold
        ax.bar(x, kl[order], color=np.where(active, "C0", "0.7"))
        handles += [Patch(color="C0", label="active unit"),
                    Patch(color="0.7", label="inactive unit")]
        ax.set_title(f"{int(active.sum())} of {n} units active (variance > {threshold:g}); "
                     f"total KL {kl.sum():.3g} nats")
        twin = ax.twinx()
        positive = variance[variance > 0]
        floor = min(threshold, positive.min() if positive.size else 1.0) / 10 or 1e-12
        handles += twin.plot(x, np.maximum(variance[order], floor), "o", color="C1",
                             markersize=4, label="variance of the mean")
        handles.append(twin.axhline(threshold, color="C3", linestyle="--", linewidth=1,
                                    label=f"threshold {threshold:g}"))
        twin.set_yscale("log")
        twin.set_ylabel("variance of the posterior mean")
    ax.set_xticks(x, labels=[str(i) for i in order] if n <= 64 else [""] * n)
    ax.set_xlabel("latent dimension (sorted by KL)")
    ax.set_ylabel("KL (nats)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, axis="y")
    if handles:
        ax.legend(handles=handles, fontsize="small", loc="upper right")
    return ax
