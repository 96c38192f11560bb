"""A user's own data: a CSV of captions next to a folder of images."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skmm.exceptions import MissingColumnError

__all__ = ["load_image_text_folder"]


def _resolve(name, base):
    return os.path.normpath(os.path.join(base, os.path.expanduser(name)))


def load_image_text_folder(
    csv_path,
    *,
    image_dir=None,
    image_col="image",
    text_col="text",
    sep=",",
    encoding="utf-8",
):
    """Read a CSV of image file names and captions into an skmm-ready frame.

    The image column's file names are resolved against ``image_dir`` into
    absolute path strings; the images are not opened here. The skmm embedders
    accept paths and decode them when they fit or transform; rows whose file
    is missing or unreadable are reported, with the reason, by
    ``skmm.inputs.validate_frame(frame, image_cols=[image_col], text_cols=[text_col])``
    (e.g. ``file not found: /abs/path.png``), so that a dirty table can be
    filtered before fitting. Every other column is kept as read.

    Parameters
    ----------
    csv_path : str or path-like
        The CSV file, with a header row.
    image_dir : str or path-like, default=None
        Folder that relative image names are relative to; by default the
        folder of ``csv_path``. Absolute names are kept as they are.
    image_col : str, default="image"
        Column of image file names.
    text_col : str, default="text"
        Column of captions (read as strings; an empty cell stays missing).
    sep : str, default=","
        Field separator, passed to :func:`pandas.read_csv`.
    encoding : str, default="utf-8"
        Text encoding of the CSV.

    Returns
    -------
    frame : pandas.DataFrame
        The CSV's rows and columns, with ``image_col`` holding absolute paths.

    Raises
    ------
    skmm.exceptions.MissingColumnError
        If ``image_col`` or ``text_col`` is not a column of the CSV.

    Examples
    --------
    >>> from skmm.datasets import load_image_text_folder
    >>> frame = load_image_text_folder("photos/captions.csv")  # doctest: +SKIP
    >>> frame["image"].iloc[0]  # doctest: +SKIP
    '/home/me/photos/cat.jpg'
    """
    csv_path = Path(csv_path)
    frame = pd.read_csv(csv_path, sep=sep, encoding=encoding, dtype={image_col: str, text_col: str})
    for column in (image_col, text_col):
        if column not in frame.columns:
            raise MissingColumnError(column, frame.columns, context=f"reading {csv_path}")
    base = Path(image_dir) if image_dir is not None else csv_path.parent
    base = os.path.abspath(base.expanduser())
    frame[image_col] = [
        _resolve(name, base) if isinstance(name, str) else name for name in frame[image_col]
    ]
    return frame
