"""Errors raised by skmm for bad user input.

Every error about the data a user passed is a subclass of :class:`ValueError`
and names the column, up to the first few row labels, and the reason, so
that a dirty table can be fixed without reading a traceback into torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "InputError",
    "InvalidRowsError",
    "MissingColumnError",
    "NonFiniteLossError",
    "format_rows",
]

#: How many row labels an error message shows before summarising the rest.
MAX_ROWS_SHOWN = 5


def format_rows(rows: Sequence, max_shown: int = MAX_ROWS_SHOWN) -> str:
    """Format row labels for a message: ``[3, 7, 'a'] and 12 more``."""
    rows = list(rows)
    shown = ", ".join(repr(r) for r in rows[:max_shown])
    extra = len(rows) - max_shown
    return f"[{shown}]" + (f" and {extra} more" if extra > 0 else "")


class InputError(ValueError):
    """Base class of skmm's input errors.

    Parameters
    ----------
    message : str
        The full message.
    column : str or None
        The column at fault, if one is.
    rows : sequence, default=()
        Labels (``X.index`` values) of the rows at fault.
    """

    def __init__(self, message: str, *, column: str | None = None, rows: Iterable = ()):
        super().__init__(message)
        self.column = column
        self.rows = list(rows)


class MissingColumnError(InputError):
    """A column the estimator needs is not in ``X``."""

    def __init__(self, column: str, available: Iterable[str], *, context: str = ""):
        available = list(available)
        msg = f"column {column!r} is missing from X"
        if context:
            msg += f" ({context})"
        msg += f"; X has columns {available[:20]!r}" + (" ..." if len(available) > 20 else "")
        super().__init__(msg, column=column)


class InvalidRowsError(InputError):
    """Some cells of ``X`` cannot be used.

    Attributes
    ----------
    report : pandas.DataFrame
        One row per problem, with columns ``row``, ``column`` and ``reason``
        (the same table :func:`skmm.inputs.validate_frame` returns).
    """

    def __init__(self, report):
        self.report = report
        parts = []
        for (column, reason), group in report.groupby(["column", "reason"], sort=False):
            parts.append(f"column {column!r}, rows {format_rows(group['row'].tolist())}: {reason}")
        n_rows = report["row"].nunique()
        msg = f"{n_rows} unusable row(s) in X: " + "; ".join(parts)
        msg += " (skmm.inputs.validate_frame(X, ...) lists every problem)"
        first = report.iloc[0]
        super().__init__(msg, column=first["column"], rows=report["row"].unique().tolist())


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (lower ``lr`` or check the data)."""
