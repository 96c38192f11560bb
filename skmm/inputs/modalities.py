"""The ``modalities`` parameter: which columns, of which kind, through which encoder.

A modality is a column plus an encoder (:mod:`skmm.encoders`); the encoder's
kind (``"image"``, ``"text"`` or ``"vector"``) says how the column's cells
are read. :func:`parse_modalities` normalises the parameter without looking
at data; :func:`resolve_modalities` then reads a table to infer the kinds
that were left out (from the cells) and to refuse a kind the cells cannot
have. The encoders themselves are resolved by the embedder.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings

import numpy as np
import pandas as pd

from skmm._params import is_torch_module
from skmm.encoders._base import PASSTHROUGH, SHORTCUTS
from skmm.exceptions import InvalidRowsError, shorten
from skmm.inputs.checks import (
    check_columns,
    collect_problems,
    is_missing,
    load_vectors,
    make_report,
    raise_problems,
    report_check,
)
from skmm.inputs.text import encode_new_texts

__all__ = ["KINDS", "encoder_kind", "infer_kind", "inferred_kinds", "mostly_cjk",
           "parse_modalities", "prepare_modalities", "resolve_modalities"]

#: The kinds of modality.
KINDS = ("image", "text", "vector")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


#: Cells looked at to infer a column's kind: the first present ones among the first rows.
_SAMPLE_ROWS, _SAMPLE_CELLS = 500, 50
_LINE_BREAKS = ("\n", "\r", "\t")


def _has_image_suffix(cell: str) -> bool:
    return cell.lower().endswith(_IMAGE_SUFFIXES)


def _looks_like_image_path(cell: str) -> bool:
    """An image file name by its shape alone: an image suffix, one line, and no
    space unless a folder separator shows it is a path (``"photos/my cat.jpg"``).
    A caption such as ``"a cat on a mat.jpg"`` is not one."""
    if not _has_image_suffix(cell) or any(c in cell for c in _LINE_BREAKS):
        return False
    return " " not in cell or "/" in cell or "\\" in cell


def _is_file(cell: str) -> bool:
    return len(cell) < 4096 and os.path.isfile(cell)


def _string_kind(strings: list[str], column) -> str:
    """``"image"`` if most of the sampled strings are image paths, else ``"text"``."""
    n = len(strings)
    paths = sum(_is_file(s) or _looks_like_image_path(s) for s in strings)
    if paths * 2 > n:
        return "image"
    suffixed = [s for s in strings if _has_image_suffix(s)]
    if len(suffixed) * 2 > n:
        warnings.warn(
            f"column {shorten(repr(column))}: {len(suffixed)} of the {n} cells looked at end "
            f"in an image suffix (e.g. {shorten(repr(suffixed[0]))}) but hold spaces and name "
            f"no existing file, so the column is taken as text; give the kind to say which "
            f"it is, e.g. modalities={{'name': ({column!r}, 'image')}} or "
            f"({column!r}, 'text')", UserWarning, stacklevel=4)
    return "text"


def infer_kind(values: pd.Series, column) -> str:
    """The kind of a modality column, from a sample of its cells.

    Parameters
    ----------
    values : pandas.Series
        The column.
    column : hashable
        Its name, for messages.

    Returns
    -------
    kind : {"image", "text", "vector"}
        The type of the first present cell decides, except for strings:
        bytes, paths (``os.PathLike``) and PIL images are images; a numpy
        array is an image from 2 dimensions up, else a vector; a list or
        tuple is a vector. Strings are an image column when more than half
        of the sampled strings (the first 50 present cells among the first
        500 rows) are image paths: a string that names an existing file, or
        that has an image suffix (``.png``, ``.jpg`` ...), is one line, and
        holds no space unless it also holds a folder separator (``"cat.jpg"``,
        ``"photos/0001.png"``, ``"My photos/cat 1.jpg"``; files that do not
        exist still count, so a wrong folder is reported as such). Otherwise
        the column is text: a caption such as ``"a cat on a mat.jpg"`` is
        text.

    Warns
    -----
    UserWarning
        When a column is taken as text although most sampled strings end in
        an image suffix (they hold spaces and name no existing file): give
        the kind explicitly, ``(column, "image")`` or ``(column, "text")``.

    Raises
    ------
    ValueError
        If the first 500 cells are all missing, or the cell is of another type.
    """
    cells = [c for c in values.tolist()[:_SAMPLE_ROWS] if not is_missing(c)][:_SAMPLE_CELLS]
    if not cells:
        raise ValueError(f"cannot infer the kind of modality column {column!r}: every cell is "
                         "missing; give it as (column, kind)")
    cell = cells[0]
    if isinstance(cell, str):
        return _string_kind([c for c in cells if isinstance(c, str)], column)
    if isinstance(cell, (bytes, bytearray, memoryview, os.PathLike)):
        return "image"
    if isinstance(cell, np.ndarray):
        return "image" if cell.ndim >= 2 else "vector"
    if isinstance(cell, (list, tuple)):
        return "vector"
    if type(cell).__module__.startswith("PIL"):
        return "image"
    raise ValueError(f"cannot infer the kind of modality column {column!r} from a cell of type "
                     f"{type(cell).__name__}; give it as (column, kind) with kind in {KINDS}")


def inferred_kinds(modalities) -> list[str]:
    """The modalities whose kind is left to :func:`infer_kind` (neither kind nor encoder given).

    Parameters
    ----------
    modalities : dict, list of str or None
        A ``modalities`` parameter (see :func:`resolve_modalities`).

    Returns
    -------
    list of str
        Their names, in order.
    """
    return [m for m, spec in parse_modalities(modalities).items() if "kind" not in spec]


def mostly_cjk(values: pd.Series) -> bool:
    """Whether most of the first 500 texts of ``values`` hold CJK characters."""
    texts = [c for c in values.tolist()[:500] if isinstance(c, str)]
    return bool(texts) and sum(bool(_CJK.search(t)) for t in texts) > len(texts) / 2


def _guessed_image_hint(name, column, values: pd.Series) -> str | None:
    """The advice of an image error on a column whose kind was inferred from strings."""
    first = next((c for c in values.tolist() if not is_missing(c)), None)
    if not isinstance(first, str):
        return None  # bytes, arrays, PIL images: surely images
    return (f"modality {name!r} was taken as images because its cells look like image file "
            f"names (e.g. {shorten(repr(first))}); if column {shorten(repr(column))} holds "
            f"text, give the kind: modalities={{{name!r}: ({column!r}, 'text'), ...}}")


@contextlib.contextmanager
def _hinted(name, column, values: pd.Series, inferred):
    """Add to an image error of a modality inferred to be images what was guessed."""
    try:
        yield
    except InvalidRowsError as err:
        hint = _guessed_image_hint(name, column, values) if name in inferred else None
        if hint is None:
            raise
        raise InvalidRowsError(err.report, hints=[hint, *err.hints]) from None


def encoder_kind(encoder, name="") -> str:
    """The kind of column an encoder reads.

    Parameters
    ----------
    encoder : Encoder, str or torch.nn.Module
        An encoder of :mod:`skmm.encoders`, a shortcut of
        :data:`skmm.encoders._base.SHORTCUTS`, ``"passthrough"`` or a torch
        module (an image encoder).
    name : str, default=""
        The modality, for messages.

    Returns
    -------
    {"image", "text", "vector"}

    Raises
    ------
    ValueError
        Neither an encoder nor a shortcut.
    """
    if isinstance(encoder, str):
        if encoder == PASSTHROUGH:
            return "vector"
        for kind, names in SHORTCUTS.items():
            if encoder in names:
                return kind
        raise ValueError(
            f"modality {name!r}: {encoder!r} is neither a kind {KINDS} nor an encoder "
            f"shortcut ({', '.join(repr(s) for names in SHORTCUTS.values() for s in names)}, "
            f"{PASSTHROUGH!r})")
    if getattr(encoder, "modality", None) in ("image", "text") and hasattr(encoder,
                                                                         "get_params"):
        return encoder.modality
    if is_torch_module(encoder):
        return "image"
    raise ValueError(f"modality {name!r}: the second item must be a kind {KINDS}, an encoder "
                     "of skmm.encoders, a shortcut string or a torch.nn.Module; got "
                     f"{type(encoder).__name__}")


def _spec_of(name, value) -> dict:
    """Normalise one entry of ``modalities`` (without looking at the data)."""
    if isinstance(value, str):
        return {"column": value}
    if not (isinstance(value, tuple | list) and 1 <= len(value) <= 2):
        raise ValueError(f"modality {name!r}: expected a column name, (column, kind) or "
                         f"(column, encoder); got {value!r}")
    spec = {"column": value[0]}
    if len(value) == 2 and value[1] is not None:
        second = value[1]
        if isinstance(second, str) and second in KINDS:
            spec["kind"] = second
        else:
            spec.update(kind=encoder_kind(second, name), encoder=second)
    return spec


def parse_modalities(modalities) -> dict:
    """Normalise a ``modalities`` parameter without looking at any data.

    Parameters
    ----------
    modalities : dict, list of str or None
        See :func:`resolve_modalities`.

    Returns
    -------
    dict of str to dict
        ``{name: {"column"[, "kind"][, "encoder"]}}`` in the given order
        (``"kind"``: given, or the given encoder's; ``"encoder"``: as given).

    Raises
    ------
    ValueError
        A malformed name or spec, an unknown kind or encoder shortcut.
    """
    if modalities is None:
        modalities = {"image": "image", "text": "text"}
    if isinstance(modalities, list | tuple):
        modalities = {c: c for c in modalities}
    if not modalities:
        raise ValueError("modalities is empty")
    out = {}
    for name, value in modalities.items():
        if not isinstance(name, str) or "|" in name or "__" in name:
            raise ValueError(f"modality names must be strings without '|' or '__'; got {name!r}")
        out[name] = _spec_of(name, value)
    return out


def _check_kind(name, spec: dict, values: pd.Series) -> None:
    """Refuse a given kind (or encoder) that the cells cannot have.

    Only where the cells say it for sure: strings are never vectors, and
    arrays, bytes and images are not texts; strings may be texts or image
    paths, which the image loader checks.
    """
    cells = [c for c in values.tolist()[:_SAMPLE_ROWS] if not is_missing(c)][:1]
    if not cells:
        return
    kind = spec["kind"]
    if isinstance(cells[0], str):
        actual = "text" if kind == "vector" else kind
    else:
        try:
            actual = infer_kind(values, spec["column"])
        except ValueError:
            return  # a cell of another type: the reader of the kind reports it
    if actual != kind:
        encoder = spec.get("encoder")
        given = (f"the kind {kind!r}" if "encoder" not in spec else
                 f"the encoder {encoder!r}" if isinstance(encoder, str) else
                 f"the encoder {type(encoder).__name__}")
        raise ValueError(
            f"modality {name!r}: {given} reads {kind} cells, but column "
            f"{shorten(repr(spec['column']))} holds {actual} cells (e.g. a "
            f"{type(cells[0]).__name__}); give an encoder of that kind, or the kind "
            f"({spec['column']!r}, {actual!r})")


def resolve_modalities(modalities, X: pd.DataFrame) -> dict:
    """Resolve a ``modalities`` parameter against a table.

    Parameters
    ----------
    modalities : dict, list of str or None
        ``{name: spec}``. A spec is a column name (the kind is inferred from
        the cells, :func:`infer_kind`), a tuple ``(column, kind)`` with kind
        ``"image"``, ``"text"`` or ``"vector"`` (a column of pre-computed
        1-D numeric vectors), or ``(column, encoder)`` with an encoder of
        :mod:`skmm.encoders`, a shortcut string (``"efficientnet_lite0"``,
        ``"cnn"``, ``"use"``, ``"mean"``, ``"recurrent"``, ``"passthrough"``)
        or a ``torch.nn.Module`` (an image encoder); the encoder's kind is
        the modality's. A list of column names uses each column as its own
        modality; ``None`` means ``{"image": "image", "text": "text"}``.
    X : pandas.DataFrame
        The table whose cells decide the inferred kinds.

    Returns
    -------
    dict of str to dict
        ``{name: {"column", "kind"[, "encoder"]}}`` in the given order.

    Raises
    ------
    ValueError
        A malformed spec, a kind that cannot be inferred, or a given kind
        (or encoder) that the cells cannot have (strings as vectors; arrays,
        bytes or images as text ...).
    skmm.exceptions.MissingColumnError
        A column is not in ``X``.
    """
    specs = parse_modalities(modalities)
    check_columns(X, [s["column"] for s in specs.values()], context="named in modalities")
    out = {}
    for name, spec in specs.items():
        spec = dict(spec)
        values = X[spec["column"]]
        if "kind" not in spec:
            spec["kind"] = infer_kind(values, spec["column"])
        else:
            _check_kind(name, spec, values)
        out[name] = spec
    return out


def prepare_modalities(X: pd.DataFrame, specs: dict, *, encoders: dict, vector_sizes: dict,
                       sizes: dict, images, towers=None, fit_names=(), only=None,
                       require_all=False, inferred=(), unseen=None) -> dict:
    """Check, decode and encode the modalities of ``X`` into arrays.

    Parameters
    ----------
    X : pandas.DataFrame
    specs : dict
        ``{name: {"column", "kind"}}``, the kind saying what the model reads:
        ``"image"`` (pixels), ``"text"`` (token ids) or ``"vector"`` (the
        cells' vectors, or a tower's features of the cells: ``towers``).
    encoders : dict of str to TextEncoder
        The encoder of each text modality; those named in ``fit_names`` are
        fitted here on the present cells (once every cell is known usable).
    vector_sizes : dict of str to int
        The length of each vector modality; filled in for new ones.
    sizes : dict of str to (int, int)
        The size of each image modality's images.
    images : callable
        ``images(values, column=, size=, present=)`` returns the uint8 NCHW
        images of a column (black where ``present`` is False), or a lazy
        column that decodes them on access.
    towers : dict of str to callable or None, default=None
        For a vector modality read through a frozen tower: ``towers[m](cells)``
        returns the float32 (n_cells, d) features of its present cells
        (raising :class:`~skmm.exceptions.InvalidRowsError` for unusable
        ones).
    fit_names : tuple of str, default=()
    only : list of str or None, default=None
        Prepare only these modalities.
    require_all : bool, default=False
        Every row must hold every prepared modality (else: at least one).
    inferred : collection of str, default=()
        The modalities inferred to be images (:func:`inferred_kinds`): when
        the images of one of them cannot be read (as pixels or by a tower),
        the error says what was guessed and how to give the kind instead.
    unseen : dict or None, default=None
        For fitted encoders: when a dict, tokens that fit did not see keep
        their pretrained vectors (:meth:`TextEncoder.encode_with_unseen`)
        and ``unseen["<m>__tokens"] = (first unseen id, vectors)`` is set;
        None maps them to ``<unk>``.

    Returns
    -------
    dict
        ``{"<m>__mask", "<m>__image" | "<m>__tokens", "<m>__lengths" |
        "<m>__vector"}`` per modality ``m``, as numpy arrays (images maybe lazy).

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        Every problem of every column at once, before any encoder is fitted.
    """
    names = list(specs) if only is None else list(only)
    n = len(X)
    out, masks = {}, {}
    checks = []
    for m in names:
        spec = specs[m]
        col = spec["column"]
        values = X[col]
        mask = np.fromiter((not is_missing(c) for c in values.tolist()), bool, count=n)
        masks[m] = mask
        present = values[mask]
        if require_all and not mask.all():
            checks.append(report_check(make_report(
                (r, col, f"missing value (modality {m!r} was asked for)")
                for r in X.index[~mask].tolist())))
        kind = spec["kind"]
        if kind == "image":
            def image(m=m, col=col, values=values, mask=mask):
                with _hinted(m, col, values, inferred):
                    out[f"{m}__image"] = images(values, column=col, size=sizes[m],
                                                present=mask)
            checks.append(image)
        elif kind == "text":
            def text(m=m, col=col, present=present):
                raise_problems(encoders[m].check(present, column=col))
            checks.append(text)
        else:
            def vector(m=m, col=col, present=present, mask=mask, values=values):
                if m in (towers or {}):
                    with _hinted(m, col, values, inferred):
                        vectors = towers[m](present)
                else:
                    vectors = load_vectors(present, column=col, length=vector_sizes.get(m))
                vector_sizes.setdefault(m, vectors.shape[1] if len(vectors) else None)
                full = np.zeros((n, vectors.shape[1]), dtype=np.float32)
                full[mask] = vectors
                out[f"{m}__vector"] = full
            checks.append(vector)
    if not require_all:
        any_present = np.logical_or.reduce([masks[m] for m in names])
        if not any_present.all():
            cols = ", ".join(specs[m]["column"] for m in names)
            checks.append(report_check(make_report(
                (r, cols, "no modality present (every modality cell is missing)")
                for r in X.index[~any_present].tolist())))
    collect_problems(*checks)
    # every cell is usable: fit word vectors, encode texts
    for m in names:
        if specs[m]["kind"] != "text":
            continue
        col, mask = specs[m]["column"], masks[m]
        present = X[col][mask]
        if m in fit_names:
            encoders[m].fit(present, column=col)
        if unseen is None or m in fit_names:
            ids, lengths = encoders[m].encode(present, column=col)
        else:
            ids, lengths = encode_new_texts(encoders[m], present, column=col, unseen=unseen,
                                            key=f"{m}__tokens")
        tokens = np.zeros((n, ids.shape[1]), dtype=np.int64)
        full_lengths = np.ones(n, dtype=np.int64)
        tokens[mask], full_lengths[mask] = ids, lengths
        out[f"{m}__tokens"], out[f"{m}__lengths"] = tokens, full_lengths
    for m in names:
        out[f"{m}__mask"] = masks[m]
    return out
