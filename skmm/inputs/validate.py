"""The row validator: every unusable cell of a table, and why.

:func:`validate_frame` is the public way to find the unusable rows of a dirty
table before fitting::

    bad = validate_frame(X, image_cols="image", text_cols="text")
    X = X.drop(index=bad["row"].dropna().unique())
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from skmm.inputs.checks import check_frame, make_report
from skmm.inputs.images import as_size, find_image_problems, missing_files_hint
from skmm.inputs.tokenizers import find_text_problems, get_tokenizer

__all__ = ["validate_frame"]


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
        When not one file of an image column exists, ``report.attrs["hints"]``
        says where they were looked for (see
        :func:`skmm.inputs.images.missing_files_hint`).

    Examples
    --------
    Drop the rows that cannot be used, then fit:

    >>> bad = validate_frame(X, image_cols="image", text_cols="text")  # doctest: +SKIP
    >>> X = X.drop(index=bad["row"].dropna().unique())  # doctest: +SKIP
    """
    check_frame(X)
    size = as_size(image_size)
    tokenize_fn = get_tokenizer(tokenizer)
    problems, hints = [], []  # problems: (position, order, row, column, reason)
    checks = [(c, "image") for c in _as_columns(image_cols)]
    checks += [(c, "text") for c in _as_columns(text_cols)]
    for order, (column, kind) in enumerate(checks):
        if column not in X.columns:
            problems.append((-1, order, None, column, "missing column"))
            continue
        values = X[column]
        if kind == "image":
            found = find_image_problems(values, column=column, mode=image_mode, size=size)
            hints.append(missing_files_hint(values, column=column, problems=found))
        else:
            found = find_text_problems(values, column=column, tokenizer=tokenize_fn)
        problems += [(pos, order, row, column, reason) for pos, row, reason in found]
    problems.sort(key=lambda p: (p[0], p[1]))
    report = make_report(p[2:] for p in problems)
    hints = [h for h in hints if h]
    if hints:  # InvalidRowsError(report) shows them
        report.attrs["hints"] = hints
    return report
