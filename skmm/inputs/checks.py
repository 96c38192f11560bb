"""Problem reports and the checks every column reader shares.

The bottom of :mod:`skmm.inputs`: it imports only numpy, pandas and
:mod:`skmm.exceptions`, and every other module of the package may import it.

A *problem report* is a DataFrame with the columns ``row``, ``column`` and
``reason`` (:data:`REPORT_COLUMNS`), one line per unusable cell. Column readers
(:func:`load_vectors`, ``load_images``, ``tokenize``) raise it inside an
:class:`~skmm.exceptions.InvalidRowsError` after looking at every cell;
:func:`collect_problems` merges the reports of several readers into one error.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from skmm.exceptions import InvalidRowsError, MissingColumnError

__all__ = [
    "raise_problems",
    "FrameMixin",
    "REPORT_COLUMNS",
    "check_columns",
    "check_frame",
    "collect_problems",
    "is_missing",
    "load_vectors",
    "make_report",
    "report_check",
    "set_input_features",
]

#: Columns of every problem report (``validate_frame``, ``check_images``,
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


def collect_problems(*checks) -> None:
    """Run input checks, each a callable that may raise InvalidRowsError.

    Every check runs, so one error lists the problems of all columns at once.

    Parameters
    ----------
    *checks : callable
        Functions of no argument; what they return is ignored.

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        If any check raised one; its report is the concatenation of theirs,
        in the order of ``checks``, and its hints are theirs. Other
        exceptions propagate at once.
    """
    reports, hints = [], []
    for check in checks:
        try:
            check()
        except InvalidRowsError as err:
            reports.append(err.report)
            hints += err.hints
    if reports:
        report = pd.concat(reports, ignore_index=True)
        report.attrs["hints"] = list(dict.fromkeys(hints))
        raise InvalidRowsError(report)


def raise_problems(report: pd.DataFrame) -> None:
    """Raise :class:`~skmm.exceptions.InvalidRowsError` when ``report`` lists a problem.

    Parameters
    ----------
    report : pandas.DataFrame
        A problem report (see :func:`make_report`); nothing happens when empty.
    """
    if len(report):
        raise InvalidRowsError(report)


def report_check(report: pd.DataFrame):
    """A check for :func:`collect_problems` that raises ``report``.

    Parameters
    ----------
    report : pandas.DataFrame
        A problem report (see :func:`make_report`).

    Returns
    -------
    check : callable
        A function of no argument that raises
        :class:`~skmm.exceptions.InvalidRowsError` with ``report``.
    """

    def check():
        raise InvalidRowsError(report)

    return check


def is_missing(cell) -> bool:
    """Whether a cell is missing: ``None`` or a scalar that pandas calls NA.

    ``None``, ``float("nan")``, ``numpy.nan``, ``pandas.NA`` and ``pandas.NaT``
    are missing; arrays, lists, strings (even empty) and anything pandas
    cannot test are not.

    Parameters
    ----------
    cell : object
        One cell of a column.

    Returns
    -------
    bool
    """
    if cell is None:
        return True
    try:
        return bool(pd.api.types.is_scalar(cell) and pd.isna(cell))
    except (TypeError, ValueError):
        return False


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


def set_input_features(estimator, X: pd.DataFrame, columns: Iterable) -> None:
    """Record ``n_features_in_`` and ``feature_names_in_``: the columns the estimator reads.

    An skmm estimator reads a few named columns of ``X`` and ignores the
    others, so that a whole table can flow through a Pipeline; its input
    features are the columns it reads, not every column ``X`` happened to
    have. ``transform`` needs these columns again and accepts any others.

    Parameters
    ----------
    estimator : object
        The estimator being fitted; its two attributes are set.
    X : pandas.DataFrame
        The table it is fitted on.
    columns : iterable of hashable
        The columns of ``X`` it reads (its ``_columns()``), in that order;
        a column named twice is recorded once.

    Raises
    ------
    skmm.exceptions.MissingColumnError
        If a column is not in ``X``.
    """
    columns = list(dict.fromkeys(columns))
    check_columns(X, columns)
    estimator.n_features_in_ = len(columns)
    names = np.empty(len(columns), dtype=object)
    for i, column in enumerate(columns):  # a tuple (MultiIndex column) stays one name
        names[i] = column
    estimator.feature_names_in_ = names


def _vector_problem(cell, length):
    """``(vector, None)`` for a usable cell, else ``(None, reason)``."""
    if is_missing(cell):
        return None, "missing value"
    try:
        v = np.asarray(cell, dtype=np.float32)
    except (TypeError, ValueError):
        return None, f"not a 1-D vector of numbers (got {type(cell).__name__})"
    if v.ndim != 1:
        return None, f"not a 1-D vector (shape {v.shape})"
    if length is not None and len(v) != length:
        return None, f"vector of length {len(v)}, expected {length}"
    if not np.isfinite(v).all():
        return None, "non-finite value in vector"
    return v, None


def load_vectors(values: pd.Series, *, column, length: int | None = None) -> np.ndarray:
    """Read a column of 1-D numeric vectors into one float32 matrix.

    Parameters
    ----------
    values : pandas.Series
        One vector per cell (a 1-D array, a list, a tuple ...); the index
        gives the row labels used in error messages.
    column : hashable
        Column name, for error messages.
    length : int or None, default=None
        The length every vector must have; None means the length of the
        first usable vector.

    Returns
    -------
    vectors : numpy.ndarray of float32, shape (n, length)
        Row ``i`` is cell ``i``. With no cell, shape ``(0, length or 0)``.

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        After checking every cell, if any is missing, not numeric, not 1-D,
        of another length or holds a non-finite value; its ``report`` lists
        them all (row label, ``column``, reason).
    """
    rows, problems = [], []
    for row, cell in zip(values.index.tolist(), values.tolist()):
        v, reason = _vector_problem(cell, length)
        if reason is not None:
            problems.append((row, column, reason))
            continue
        length = len(v) if length is None else length
        rows.append(v)
    if problems:
        raise InvalidRowsError(make_report(problems))
    if not rows:
        return np.zeros((0, length or 0), dtype=np.float32)
    return np.stack(rows)


class FrameMixin:
    """What every estimator whose ``X`` is a DataFrame shares: the column check and tags.

    The estimator implements ``_columns()``, the columns of ``X`` it reads.
    """

    def _columns(self) -> list:
        """The columns of ``X`` the estimator reads."""
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # a DataFrame, not an array
        tags.input_tags.string = True  # text cells, image paths
        if tags.transformer_tags is not None:  # float32 (or uint8) whatever the input
            tags.transformer_tags.preserves_dtype = []
        return tags

    def _check_X(self, X, *, fitted: bool = False) -> pd.DataFrame:
        """Check X is a DataFrame with rows and with the columns the estimator reads."""
        X = check_frame(X)
        check_columns(X, self._columns(),
                      context="it was used in fit" if fitted
                      else f"a column {type(self).__name__} reads")
        if len(X) == 0:
            raise ValueError("X has no rows")
        return X
