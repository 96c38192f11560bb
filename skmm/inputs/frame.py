"""Checks on the DataFrame every skmm estimator takes, and the row validator.

:func:`validate_frame` is the public way to find the unusable rows of a dirty
table before fitting::

    bad = validate_frame(X, image_cols="image", text_cols="text")
    X = X.drop(index=bad["row"].dropna().unique())
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from skmm.exceptions import MissingColumnError

__all__ = ["REPORT_COLUMNS", "check_columns", "check_frame", "validate_frame"]

#: Columns of every problem report (:func:`validate_frame`, ``check_images``,
#: ``check_text`` and :attr:`skmm.exceptions.InvalidRowsError.report`).
REPORT_COLUMNS = ["row", "column", "reason"]


def make_report(problems: Iterable[tuple]) -> pd.DataFrame:
    """Build a problem report from ``(row, column, reason)`` tuples.

    Parameters
    ----------
    problems : iterable of tuple
        One ``(row label, column, reason)`` per unusable cell.

    Returns
    -------
    report : pandas.DataFrame
        Columns ``row``, ``column`` and ``reason`` (object dtype), possibly empty.
    """
    return pd.DataFrame(list(problems), columns=REPORT_COLUMNS, dtype=object)


def check_frame(X, *, name: str = "X") -> pd.DataFrame:
    """Check that ``X`` is a pandas DataFrame.

    Parameters
    ----------
    X : object
        What the user passed.
    name : str, default="X"
        How to call it in the message.

    Returns
    -------
    X : pandas.DataFrame
        ``X`` itself, unchanged.

    Raises
    ------
    TypeError
        If ``X`` is not a DataFrame (a numpy array, a Series, a list ...).
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with one row per item; got {type(X).__name__}"
        )
    return X


def check_columns(X: pd.DataFrame, columns: Iterable, *, context: str = "") -> None:
    """Check that every column in ``columns`` is in ``X``.

    Parameters
    ----------
    X : pandas.DataFrame
        The table.
    columns : iterable of hashable
        The column names needed.
    context : str, default=""
        Added to the message, e.g. ``"image_col of CRVAEEmbedder"``.

    Raises
    ------
    skmm.exceptions.MissingColumnError
        For the first column that ``X`` lacks.
    """
    for column in columns:
        if column not in X.columns:
            raise MissingColumnError(column, X.columns, context=context)


def _as_columns(cols) -> list:
    return (
        [cols]
        if isinstance(cols, str) or not isinstance(cols, Iterable)
        else list(cols)
    )


def validate_frame(
    X,
    *,
    image_cols=(),
    text_cols=(),
    tokenizer="english",
    image_mode: str = "RGB",
    image_size=(64, 64),
) -> pd.DataFrame:
    """List every unusable cell of ``X`` and why, without raising.

    Every image cell is decoded (as the estimators would) and every text cell
    tokenized, so this costs about one pass over the data.

    Parameters
    ----------
    X : pandas.DataFrame
        The table.
    image_cols : str or sequence of str, default=()
        Image columns to check.
    text_cols : str or sequence of str, default=()
        Text columns to check.
    tokenizer : {"english", "jieba"} or callable, default="english"
        Tokenizer used for the text columns (a text that yields no tokens is
        unusable).
    image_mode : {"RGB", "L"}, default="RGB"
        Mode the images are converted to.
    image_size : int or (height, width), default=(64, 64)
        Size the images are resized to.

    Returns
    -------
    report : pandas.DataFrame
        Columns ``row`` (the index label; ``None`` for a missing column),
        ``column`` and ``reason``, ordered by row position. Empty when all is well.

    Examples
    --------
    Drop the rows that cannot be used, then fit:

    >>> bad = validate_frame(X, image_cols="image", text_cols="text")  # doctest: +SKIP
    >>> X = X.drop(index=bad["row"].dropna().unique())  # doctest: +SKIP
    """
    from skmm.inputs.images import _image_problems, as_size
    from skmm.inputs.text import _text_problems, get_tokenizer

    check_frame(X)
    size = as_size(image_size)
    tokenize_fn = get_tokenizer(tokenizer)
    problems = []  # (position, order, row, column, reason)
    checks = [(c, "image") for c in _as_columns(image_cols)]
    checks += [(c, "text") for c in _as_columns(text_cols)]
    for order, (column, kind) in enumerate(checks):
        if column not in X.columns:
            problems.append((-1, order, None, column, "missing column"))
            continue
        values = X[column]
        if kind == "image":
            found = _image_problems(values, column=column, mode=image_mode, size=size)
        else:
            found = _text_problems(values, column=column, tokenizer=tokenize_fn)
        problems += [(pos, order, row, column, reason) for pos, row, reason in found]
    problems.sort(key=lambda p: (p[0], p[1]))
    return make_report(p[2:] for p in problems)


def _set_input_features(estimator, X: pd.DataFrame) -> None:
    """Record ``n_features_in_`` and ``feature_names_in_`` from a DataFrame."""
    estimator.n_features_in_ = X.shape[1]
    estimator.feature_names_in_ = np.asarray(X.columns, dtype=object)
