"""The ``modalities`` parameter: which columns, of which kind, with which options.

A modality is a column plus a kind (``"image"``, ``"text"`` or ``"vector"``).
:func:`parse_modalities` normalises the parameter without looking at data;
:func:`resolve_modalities` then reads a table to infer what was left out (the
kind from the cells, the tokenizer from the script of the texts).
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd

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

__all__ = ["KINDS", "infer_kind", "inferred_kinds", "parse_modalities", "prepare_modalities",
           "resolve_modalities"]

#: The kinds of modality.
KINDS = ("image", "text", "vector")
_OPTIONS = {"tokenizer"}
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
    """The modalities whose kind is left to :func:`infer_kind` (no kind given).

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


def _guessed_image_hint(name, column, values: pd.Series) -> str | None:
    """The advice of an image error on a column whose kind was inferred from strings."""
    first = next((c for c in values.tolist() if not is_missing(c)), None)
    if not isinstance(first, str):
        return None  # bytes, arrays, PIL images: surely images
    return (f"modality {name!r} was taken as images because its cells look like image file "
            f"names (e.g. {shorten(repr(first))}); if column {shorten(repr(column))} holds "
            f"text, give the kind: modalities={{{name!r}: ({column!r}, 'text'), ...}}")


def _spec_of(name, value) -> dict:
    """Normalise one entry of ``modalities`` (without looking at the data)."""
    if isinstance(value, str):
        spec = {"column": value}
    elif isinstance(value, tuple | list) and 1 <= len(value) <= 3:
        spec = {"column": value[0]}
        if len(value) >= 2 and value[1] is not None:
            spec["kind"] = value[1]
        if len(value) == 3:
            if not isinstance(value[2], dict):
                raise ValueError(f"modality {name!r}: the third item must be a dict of options, "
                                 f"got {value[2]!r}")
            spec.update(value[2])
    elif isinstance(value, dict):
        spec = dict(value)
        spec.setdefault("column", name)
    else:
        raise ValueError(f"modality {name!r}: expected a column name, (column, kind[, options]) "
                         f"or a dict; got {value!r}")
    unknown = set(spec) - {"column", "kind"} - _OPTIONS
    if unknown:
        raise ValueError(f"modality {name!r}: unknown option(s) {sorted(unknown)}; "
                         f"known: {sorted(_OPTIONS)}")
    if "kind" in spec and spec["kind"] not in KINDS:
        raise ValueError(f"modality {name!r}: kind must be one of {KINDS}, got {spec['kind']!r}")
    if "tokenizer" in spec and spec.get("kind", "text") != "text":
        raise ValueError(f"modality {name!r}: tokenizer is an option of text modalities")
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
        ``{name: {"column"[, "kind"][, "tokenizer"]}}`` in the given order.

    Raises
    ------
    ValueError
        A malformed name or spec, an unknown kind or option.
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


def resolve_modalities(modalities, X: pd.DataFrame) -> dict:
    """Resolve a ``modalities`` parameter against a table.

    Parameters
    ----------
    modalities : dict, list of str or None
        ``{name: spec}``. A spec is a column name (the kind is inferred from
        the cells), a tuple ``(column, kind)`` or ``(column, kind, options)``,
        or a dict ``{"column": ..., "kind": ..., **options}``. Kinds are
        ``"image"``, ``"text"`` and ``"vector"`` (a column of pre-computed 1-D
        numeric vectors); the only option is ``tokenizer`` of a text modality
        (``"english"``, ``"jieba"`` or a callable; by default ``"jieba"`` when
        most texts hold CJK characters, else ``"english"``). A list of
        column names uses each column as its own modality; ``None`` means
        ``{"image": "image", "text": "text"}``.
    X : pandas.DataFrame
        The table whose cells decide the inferred kinds and tokenizers.

    Returns
    -------
    dict of str to dict
        ``{name: {"column", "kind"[, "tokenizer"]}}`` in the given order.

    Raises
    ------
    ValueError
        A malformed spec, or a kind that cannot be inferred.
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
        if spec["kind"] == "text" and "tokenizer" not in spec:
            texts = [c for c in values.tolist()[:500] if isinstance(c, str)]
            cjk = sum(bool(_CJK.search(t)) for t in texts)
            spec["tokenizer"] = "jieba" if texts and cjk > len(texts) / 2 else "english"
        out[name] = spec
    return out


def prepare_modalities(X: pd.DataFrame, specs: dict, *, encoders: dict, vector_sizes: dict,
                       size, images, fit_names=(), only=None, require_all=False,
                       inferred=(), unseen=None) -> dict:
    """Check, decode and encode the modalities of ``X`` into arrays.

    Parameters
    ----------
    X : pandas.DataFrame
    specs : dict
        Resolved modalities (:func:`resolve_modalities`).
    encoders : dict of str to TextEncoder
        The encoder of each text modality; those named in ``fit_names`` are
        fitted here on the present cells (once every cell is known usable).
    vector_sizes : dict of str to int
        The length of each vector modality; filled in for new ones.
    size : (int, int)
        Image size.
    images : callable
        ``images(values, column=, size=, present=)`` returns the uint8 NCHW
        images of a column (black where ``present`` is False), or a lazy
        column that decodes them on access.
    fit_names : tuple of str, default=()
    only : list of str or None, default=None
        Prepare only these modalities.
    require_all : bool, default=False
        Every row must hold every prepared modality (else: at least one).
    inferred : collection of str, default=()
        The modalities whose kind was inferred (:func:`inferred_kinds`): when
        the images of one of them cannot be read, the error says what was
        guessed and how to give the kind instead.
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
                try:
                    out[f"{m}__image"] = images(values, column=col, size=size, present=mask)
                except InvalidRowsError as err:
                    hint = _guessed_image_hint(m, col, values) if m in inferred else None
                    if hint is None:
                        raise
                    raise InvalidRowsError(err.report, hints=[hint, *err.hints]) from None
            checks.append(image)
        elif kind == "text":
            def text(m=m, col=col, present=present):
                raise_problems(encoders[m].check(present, column=col))
            checks.append(text)
        else:
            def vector(m=m, col=col, present=present, mask=mask):
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
