"""Embedding a table on a cluster: an estimator run on every partition of a dask DataFrame.

:func:`transform_partitions` ships a fitted estimator to the workers once and
runs its ``transform`` (or ``embed``, or any method that maps rows to a
matrix) on each partition, keeping the partition's row labels. With the
pretrained towers' on-disk cache (``ImageTower(memory=...)``,
``TextTower(memory=...)``) on a file system every worker sees, a second pass
over the same partitions reads every feature from the cache and runs no
tower. See the user guide's "Scaling" page for the recipe and its test.

Only dask is imported here (the ``distributed`` extra), and only when called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["transform_partitions"]


def _apply(part: pd.DataFrame, estimator, method: str, columns, kwargs) -> pd.DataFrame:
    """``estimator.method(part)`` as a float32 frame on the partition's index."""
    if len(part) == 0:  # an empty partition: no estimator accepts it
        return pd.DataFrame(np.empty((0, len(columns)), dtype=np.float32), index=part.index,
                            columns=columns)
    out = np.asarray(getattr(estimator, method)(part, **kwargs), dtype=np.float32)
    return pd.DataFrame(out, index=part.index, columns=columns)


def _output_columns(estimator, method: str, kwargs) -> list[str]:
    if method == "transform":
        return [str(c) for c in estimator.get_feature_names_out()]
    width = getattr(estimator, "n_components_", None) or getattr(estimator, "n_components", None)
    if width is None:
        raise ValueError(f"cannot tell how many columns {type(estimator).__name__}.{method} "
                         "returns: pass columns=")
    prefix = kwargs.get("modality", method)
    return [f"{prefix}{i}" for i in range(int(width))]


def transform_partitions(estimator, frame, *, method: str = "transform", columns=None,
                         **kwargs):
    """Run a fitted estimator on every partition of a dask DataFrame, on the cluster.

    Each partition becomes a pandas DataFrame on a worker, and
    ``estimator.<method>(partition, **kwargs)`` turns it into one float32
    row per row. The estimator travels to each worker once (one node of
    the task graph, not one copy per partition).

    Parameters
    ----------
    estimator : fitted estimator
        E.g. an :class:`~skmm.encoders.ImageTower`, a ``Pipeline`` or
        ``ColumnTransformer`` of towers, or a fitted embedder. Give the
        towers a ``memory`` folder on a shared file system to compute each
        cell once for every worker and every later pass, and
        ``n_threads=1`` (one torch thread per dask thread).
    frame : dask.dataframe.DataFrame
        The table, one partition per task; each partition must hold the
        columns the estimator reads.
    method : str, default="transform"
        The method to run: ``"transform"``, or ``"embed"`` with
        ``modality=`` for one modality of a common space.
    columns : list of str or None, default=None
        The output's column names; None: ``get_feature_names_out()`` for
        ``transform``, else ``<modality or method><i>`` for each of the
        estimator's ``n_components``.
    **kwargs
        Passed to the method (e.g. ``modality="image"``).

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy: one float32 column per output feature, on ``frame``'s index
        and partitions; ``.compute()`` it, or write it with
        ``.to_parquet()``.

    Raises
    ------
    TypeError
        ``frame`` is not a dask DataFrame.
    ValueError
        The estimator has no such method.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from distributed import Client, LocalCluster
    >>> from skmm.cluster import transform_partitions
    >>> from skmm.datasets import make_shapes
    >>> from skmm.encoders import ImageTower
    >>> X = make_shapes(64, image_size=32, random_state=0)
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> tower = ImageTower("image", memory="/shared/skmm-cache", n_threads=1).fit(X)
    >>> features = transform_partitions(tower, dd.from_pandas(X, npartitions=4))
    >>> features.to_parquet("features/")  # doctest: +SKIP
    """
    import dask
    import dask.dataframe as dd

    if not isinstance(frame, dd.DataFrame):
        raise TypeError(f"frame must be a dask DataFrame, got {type(frame).__name__}; "
                        "for a pandas DataFrame call the estimator itself, or "
                        "dask.dataframe.from_pandas(frame, npartitions=...)")
    if not callable(getattr(estimator, method, None)):
        raise ValueError(f"{type(estimator).__name__} has no method {method!r}")
    columns = (_output_columns(estimator, method, kwargs) if columns is None
               else [str(c) for c in columns])
    meta = pd.DataFrame({c: pd.Series(dtype=np.float32) for c in columns},
                        index=frame._meta.index[:0])
    shipped = dask.delayed(estimator, pure=True)
    return frame.map_partitions(_apply, shipped, method, columns, kwargs, meta=meta,
                                align_dataframes=False)
