"""Errors raised by skmm for bad user input.

Every error about the data a user passed is a subclass of :class:`ValueError`
and names the column, up to the first few row labels, and the reason, so
that a dirty table can be fixed without reading a traceback into torch.
Messages stay short whatever the number of bad rows: rows are grouped by
column and reason, a few labels are shown per group and a few groups per
message; the full list is in the error's ``report`` (or ``rows``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "CheckpointMismatchError",
    "EncoderError",
    "InputError",
    "InvalidRowsError",
    "MissingColumnError",
    "NonFiniteLossError",
    "format_rows",
]

#: How many row labels an error message shows before summarising the rest.
MAX_ROWS_SHOWN = 5
#: How many (column, reason) groups an InvalidRowsError message shows.
MAX_GROUPS_SHOWN = 5
#: How many distinct details (e.g. paths) a group shows.
MAX_DETAILS_SHOWN = 2
#: How many hints an InvalidRowsError message shows.
MAX_HINTS_SHOWN = 3
#: Longest a single label, column name or detail may be in a message.
MAX_ITEM_CHARS = 60
#: Longest a reason may be in a message.
MAX_TEXT_CHARS = 300
#: Longest a hint may be in a message.
MAX_HINT_CHARS = 800


def shorten(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending in ``...`` when cut.

    Parameters
    ----------
    text : str
        Any text.
    limit : int, default=MAX_ITEM_CHARS
        The longest result (at least 4).

    Returns
    -------
    str
    """
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _label(value) -> str:
    return shorten(repr(value))


def format_rows(rows: Sequence, max_shown: int = MAX_ROWS_SHOWN) -> str:
    """Format row labels for a message: ``[3, 7, 'a'] and 12 more``.

    Parameters
    ----------
    rows : sequence
        Row labels (``X.index`` values).
    max_shown : int, default=MAX_ROWS_SHOWN
        How many labels to show; each is cut to :data:`MAX_ITEM_CHARS`.

    Returns
    -------
    str
        At most ``max_shown`` labels and the count of the others, so the
        length does not grow with ``len(rows)``.
    """
    if not hasattr(rows, "__getitem__"):
        rows = list(rows)
    n = len(rows)
    shown = ", ".join(_label(r) for r in list(rows[:max_shown]))
    extra = n - max_shown
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

    def __reduce__(self):
        # rebuilt without calling __init__ (whose arguments differ per subclass), so that
        # the error crosses process boundaries (joblib workers) with its report intact
        return _restore_error, (type(self), self.args, self.__dict__)


class MissingColumnError(InputError):
    """A column the estimator needs is not in ``X``.

    Parameters
    ----------
    column : hashable
        The missing column.
    available : iterable
        The columns ``X`` has; the message shows the first 20.
    context : str, default=""
        Why the column is needed, e.g. ``"image_col of CRVAEEmbedder"``.
    """

    def __init__(self, column: str, available: Iterable[str], *, context: str = ""):
        available = list(available)
        msg = f"column {_label(column)} is missing from X"
        if context:
            msg += f" ({shorten(context, MAX_TEXT_CHARS)})"
        shown = ", ".join(_label(c) for c in available[:20])
        msg += f"; X has columns [{shown}]"
        if len(available) > 20:
            msg += f" and {len(available) - 20} more"
        super().__init__(msg, column=column)


def _group_line(column, rows: list, reasons, details) -> str:
    """One line of an InvalidRowsError: a column, its rows and one kind of reason."""
    line = f"column {_label(column)}, rows {format_rows(rows)}: "
    distinct = reasons.unique()
    if len(distinct) == 1:
        return line + shorten(distinct[0], MAX_TEXT_CHARS)
    # same kind of reason, different details (e.g. "file not found: <path>")
    category = shorten(str(distinct[0]).partition(": ")[0], MAX_TEXT_CHARS)
    found = [d for d in details.unique() if d]
    shown = ", ".join(shorten(d) for d in found[:MAX_DETAILS_SHOWN])
    extra = len(found) - MAX_DETAILS_SHOWN
    return line + category + (f": {shown}" if shown else "") + (
        f" and {extra} others" if extra > 0 else "")


class InvalidRowsError(InputError):
    """Some cells of ``X`` cannot be used.

    The message groups the problems by column and kind of reason (a reason
    ``"file not found: a.png"`` is of kind ``"file not found"``) and shows,
    per group, the first :data:`MAX_ROWS_SHOWN` row labels, how many more
    there are and a few details; at most :data:`MAX_GROUPS_SHOWN` groups are
    shown and the rest are counted in one line, so that its length does not
    grow with the number of bad rows.

    Parameters
    ----------
    report : pandas.DataFrame
        One row per problem, with columns ``row``, ``column`` and ``reason``
        (see :func:`skmm.inputs.checks.make_report`).
    hints : sequence of str or None, default=None
        Advice added after the groups (e.g. that no file of an image column
        exists). None means ``report.attrs.get("hints", [])``.

    Attributes
    ----------
    report : pandas.DataFrame
        One row per problem, with columns ``row``, ``column`` and ``reason``
        (the same table :func:`skmm.inputs.validate_frame` returns): every
        problem, whatever the message shows.
    hints : list of str
        The hints of the message.
    column : hashable
        The column of the first problem.
    rows : list
        The labels of every row at fault, each once.
    """

    def __init__(self, report, hints=None):
        self.report = report
        if hints is None:
            hints = report.attrs.get("hints", ())
        self.hints = [h for h in dict.fromkeys(hints) if h]
        reasons = report["reason"].astype(str)
        details = reasons.str.partition(": ")
        keys = [report["column"].map(_hashable), details[0]]
        groups = sorted(report.groupby(keys, sort=False, dropna=False).indices.values(),
                        key=lambda positions: positions[0])
        n_rows = report["row"].nunique()
        lines = []
        for positions in groups[:MAX_GROUPS_SHOWN]:
            first = positions[0]
            lines.append(_group_line(report["column"].iat[first],
                                     report["row"].iloc[positions].tolist(),
                                     reasons.iloc[positions], details[2].iloc[positions]))
        if len(groups) > MAX_GROUPS_SHOWN:
            rest = [p for g in groups[MAX_GROUPS_SHOWN:] for p in g]
            columns = list(dict.fromkeys(report["column"].iloc[rest].map(_hashable)))
            shown = ", ".join(_label(c) for c in columns[:3])
            lines.append(f"and {len(groups) - MAX_GROUPS_SHOWN} more kinds of problem in "
                         f"{len(rest)} cells of column(s) {shown}"
                         + (f" and {len(columns) - 3} more" if len(columns) > 3 else ""))
        lines += [f"hint: {shorten(h, MAX_HINT_CHARS)}" for h in self.hints[:MAX_HINTS_SHOWN]]
        msg = (f"{n_rows} unusable row(s) in X:\n" + "\n".join(f"  {line}" for line in lines)
               + "\n(all problems: this error's .report; "
                 "skmm.inputs.validate_frame(X, ...) finds them without raising)")
        first = report.iloc[0]
        super().__init__(msg, column=first["column"], rows=report["row"].unique().tolist())


def _restore_error(cls, args, state):
    """Unpickle an :class:`InputError` (see ``InputError.__reduce__``)."""
    err = Exception.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


def _hashable(value):
    """A group key for a column name (unhashable names become their repr)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class EncoderError(InputError):
    """A user's module, given as ``image_encoder``, fails on the images it is given.

    Raised before training (the module is first run on a probe batch of the
    prepared images, then, frozen, on every row) and before ``transform``
    embeds: the module raised, returned something else than a tensor of
    features (N, D), or returned NaN or infinite values. The message names
    the parameter, the estimator, the module's class, the batch it was given
    (shape, dtype, value range) and the original message; the original
    exception is the ``__cause__``.

    Parameters
    ----------
    message : str
        The full message.
    column : hashable or None, default=None
        The image column read through the module.
    rows : sequence, default=()
        Labels of the rows whose features are not finite, when known.
    """


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (lower ``lr`` or check the data)."""


class CheckpointMismatchError(ValueError):
    """A ``checkpoint_dir`` holds the training state of another fit.

    Raised before training; the message names the folder and what differs
    (parameters, seeds, training data, initial model).
    """
