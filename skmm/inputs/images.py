"""Decode image cells (paths, bytes, PIL images, arrays) into uint8 NCHW arrays."""

from __future__ import annotations

import contextlib
import io
import os
import struct
from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from skmm.exceptions import InvalidRowsError, shorten
from skmm.inputs.checks import (
    FrameMixin,
    check_columns,
    check_frame,
    is_missing,
    make_report,
    set_input_features,
)

__all__ = [
    "ImageColumn",
    "ImageDecodeError",
    "ImageLoader",
    "as_size",
    "check_images",
    "decode_image",
    "find_image_problems",
    "load_images",
    "missing_files_hint",
]

#: Channels of each supported output mode.
CHANNELS = {"RGB": 3, "L": 1}
#: With ``verbose``, decoding at least this many images shows a progress bar
#: (on a terminal; never in logs).
PROGRESS_MIN = 1000
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_ARRAY_HELP = "expected HxW, HxWx1, HxWx3 or HxWx4"
_ORIENTATION = 0x0112  # EXIF tag


class ImageDecodeError(ValueError):
    """An image cell cannot be decoded; the message is the short reason."""


def as_size(image_size) -> tuple[int, int]:
    """Normalise an image size to a ``(height, width)`` pair.

    Parameters
    ----------
    image_size : int or (int, int)
        A side (square images) or a ``(height, width)`` pair of positive ints.

    Returns
    -------
    size : tuple of int
        ``(height, width)``.

    Raises
    ------
    ValueError
        If ``image_size`` is not a positive int or a pair of positive ints.
    """
    if isinstance(image_size, Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
    except (TypeError, ValueError):
        height = width = None
    if not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0
        for s in (height, width)
    ):
        raise ValueError(
            f"image_size must be a positive int or a (height, width) pair of positive ints; "
            f"got {image_size!r}"
        )
    return int(height), int(width)


def _array_to_pil(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[2] in (1, 3, 4):
        if a.shape[2] == 1:
            a = a[:, :, 0]
    elif a.ndim != 2:
        raise ImageDecodeError(
            f"array of shape {a.shape} is not an image ({_ARRAY_HELP})"
        )
    if a.size == 0:
        raise ImageDecodeError("zero-size image")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ImageDecodeError("array contains NaN or infinite values")
        if a.max() <= 1:
            a = a * 255
        a = np.rint(np.clip(a, 0, 255)).astype(np.uint8)
    elif a.dtype.kind in "iu":
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
    else:
        raise ImageDecodeError(f"array of dtype {a.dtype} is not an image")
    return Image.fromarray(np.ascontiguousarray(a))


def _open(cell):
    """A context manager giving a PIL image for any supported cell."""
    if isinstance(cell, Image.Image):
        return contextlib.nullcontext(cell)  # the caller's image: never close it
    if isinstance(cell, np.ndarray):
        return contextlib.nullcontext(_array_to_pil(cell))
    if isinstance(cell, (str, os.PathLike)):
        path = os.fspath(cell)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path.strip():
            raise ImageDecodeError("empty path")
        if not os.path.isfile(path):
            raise ImageDecodeError(f"file not found: {path}")
        if os.path.getsize(path) == 0:
            raise ImageDecodeError("empty file")
        return Image.open(path)
    if isinstance(cell, (bytes, bytearray, memoryview)):
        if len(cell) == 0:
            raise ImageDecodeError("empty file")
        return Image.open(io.BytesIO(cell))
    if is_missing(cell):
        raise ImageDecodeError("missing value")
    raise ImageDecodeError(f"unsupported cell type {type(cell)}")


def _convert(img: Image.Image, mode: str, size: tuple[int, int]) -> np.ndarray:
    img.load()  # decode now, so that truncated files fail here
    if img.width == 0 or img.height == 0:
        raise ImageDecodeError("zero-size image")
    if img.getexif().get(_ORIENTATION, 1) != 1:
        img = ImageOps.exif_transpose(img)
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    if img.mode != mode:
        img = img.convert(mode)
    height, width = size
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    a = np.asarray(img)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def decode_image(cell, *, mode: str = "RGB", size=(64, 64)) -> np.ndarray:
    """Decode one image cell into a uint8 ``(C, H, W)`` array.

    Parameters
    ----------
    cell : str, os.PathLike, bytes, PIL.Image.Image or numpy.ndarray
        A path to an image file, the bytes of an encoded file, a PIL image, or
        an array of shape HxW, HxWx1, HxWx3 or HxWx4. Arrays may be uint8 (or
        another integer type, clipped to 0..255), bool (True is 255) or float:
        floats whose maximum is at most 1 are scaled by 255, then all floats
        are clipped to 0..255 and rounded.
    mode : {"RGB", "L"}, default="RGB"
        Output mode: 3 channels or 1 (grey levels).
    size : int or (height, width), default=(64, 64)
        Output size; the image is resized (bilinear, with Pillow's antialiasing)
        only when its size differs. The aspect ratio is not kept.

    Returns
    -------
    image : numpy.ndarray of uint8, shape (C, H, W)
        ``C`` is 3 for ``"RGB"``, 1 for ``"L"``.

    Raises
    ------
    ImageDecodeError
        If the cell is missing, of an unsupported type, a missing, empty,
        truncated or unidentifiable file, or an array that is not an image.

    Notes
    -----
    Transparent pixels (RGBA, LA, palette images with transparency) are
    composited onto a white background. EXIF orientation is applied.
    Truncated files raise unless the user has set Pillow's
    ``ImageFile.LOAD_TRUNCATED_IMAGES``.
    """
    if mode not in CHANNELS:
        raise ValueError(f"mode must be one of {sorted(CHANNELS)}; got {mode!r}")
    size = as_size(size)
    try:
        with _open(cell) as img:
            return _convert(img, mode, size)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError("cannot identify image file") from None
    except Image.DecompressionBombError:
        raise ImageDecodeError(
            "image too large (Pillow's decompression bomb limit)"
        ) from None
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        IndexError,
        struct.error,
    ) as exc:
        raise ImageDecodeError("truncated or corrupt image file") from exc


def find_image_problems(
    values: pd.Series, *, column, mode="RGB", size=(64, 64), out=None, verbose=0
) -> list[tuple]:
    """Decode every cell (into ``out[i]`` if given); return ``(pos, row, reason)``."""
    problems = []
    cells = zip(values.index.tolist(), values.tolist())
    # a bar for long work only, and only on a terminal (tqdm's disable=None)
    show = None if verbose and len(values) >= PROGRESS_MIN else True
    bar = tqdm(cells, total=len(values), desc=f"images {column!r}", disable=show)
    for i, (row, cell) in enumerate(bar):
        try:
            image = decode_image(cell, mode=mode, size=size)
        except ImageDecodeError as exc:
            problems.append((i, row, str(exc)))
        else:
            if out is not None:
                out[i] = image
    return problems


#: Subfolders looked at per root when searching where missing files really are.
_MAX_CANDIDATE_FOLDERS = 200
#: File names checked per candidate folder.
_NAMES_CHECKED = 3
_NOT_FOUND = "file not found"


def _path_cells(values: pd.Series) -> list[str]:
    """The non-blank path cells (str or PathLike) of a column, as str."""
    paths = []
    for cell in values.tolist():
        if isinstance(cell, (str, os.PathLike)):
            path = os.fspath(cell)
            path = os.fsdecode(path) if isinstance(path, bytes) else path
            if path.strip():
                paths.append(path)
    return paths


def _nearest_existing(folder: str) -> str | None:
    """``folder`` or its nearest ancestor that is a directory."""
    while not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return folder


def _subfolders(folder: str) -> list[str]:
    """Up to :data:`_MAX_CANDIDATE_FOLDERS` subfolders of ``folder``, sorted (a bounded scan)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for i, entry in enumerate(entries):
                with contextlib.suppress(OSError):
                    if entry.is_dir() and not entry.name.startswith("."):
                        found.append(entry.path)
                if len(found) >= _MAX_CANDIDATE_FOLDERS or i >= 50 * _MAX_CANDIDATE_FOLDERS:
                    break
    except OSError:
        return []
    return sorted(found)


def _find_moved_folder(paths: list[str], folder: str, roots: list[str]) -> str | None:
    """A folder other than ``folder`` holding the first files of ``paths`` (same sub-paths).

    Looks in each root and its subfolders (at most :data:`_MAX_CANDIDATE_FOLDERS`
    per root), so the cost is bounded whatever the number of rows.
    """
    tails = [os.path.relpath(p, folder) for p in paths[:_NAMES_CHECKED]]
    seen = {folder}
    for root in roots:
        for candidate in [root, *_subfolders(root)]:
            if candidate in seen:
                continue
            seen.add(candidate)
            if all(os.path.isfile(os.path.join(candidate, t)) for t in tails):
                return candidate
    return None


def missing_files_hint(values: pd.Series, *, column, problems) -> str | None:
    """Advice for a column none of whose image files exist (a wrong folder, usually).

    Parameters
    ----------
    values : pandas.Series
        The cells of the column.
    column : hashable
        Its name, for the message.
    problems : iterable of tuple
        ``(position, row, reason)`` of the cells that could not be decoded
        (:func:`find_image_problems`).

    Returns
    -------
    hint : str or None
        None unless the column holds at least two paths and not one of them
        names an existing file. Otherwise it says how many files exist
        (none), the folder they would all be under and whether it exists,
        where the same file names are if a nearby folder (that folder's
        nearest existing ancestor, the current directory, its parent, or a
        subfolder of one of these) holds the first of them, and what to do.
        No estimator has an image-folder parameter: paths are used as they
        are, relative ones from the current directory; only
        :func:`skmm.datasets.load_image_text_folder` takes ``image_dir``.
    """
    n_missing = sum(str(reason).startswith(_NOT_FOUND) for _, _, reason in problems)
    if n_missing < 2:
        return None
    paths = _path_cells(values)
    if n_missing < len(paths):  # some path cell was found (or failed otherwise)
        return None
    cwd = os.getcwd()
    absolute = [os.path.abspath(p) for p in paths]
    try:
        folder = os.path.commonpath([os.path.dirname(p) for p in absolute])
    except ValueError:  # paths on different drives
        return None
    nearest = _nearest_existing(folder)
    col = shorten(repr(column))
    hint = f"0 of {len(paths)} files of column {col} exist: all would be under {folder}, "
    if nearest == folder:
        hint += "which holds none of them."
    else:
        hint += f"which does not exist (nearest existing folder: {nearest})."
    if any(p.startswith("~") for p in paths):
        hint += " A leading '~' is not expanded: apply os.path.expanduser first."
    roots = [r for r in dict.fromkeys([nearest, cwd, os.path.dirname(cwd)]) if r]
    moved = _find_moved_folder(absolute, folder, roots)
    if moved is not None:
        hint += f" The first file names are under {moved}: did you mean that folder?"
    if any(not os.path.isabs(p) for p in paths):
        hint += (f" Relative paths are looked up from the current directory {cwd}."
                 " No estimator takes an image folder: make the paths absolute,"
                 " e.g. os.path.join(<image folder>, p),")
    else:
        hint += " No estimator takes an image folder: point the paths at the right one,"
    hint += (" or read the CSV with"
             " skmm.datasets.load_image_text_folder(csv_path, image_dir=<image folder>).")
    return hint


def _image_problems_error(values, column, problems) -> InvalidRowsError:
    report = make_report((row, column, reason) for _, row, reason in problems)
    hint = missing_files_hint(values, column=column, problems=problems)
    return InvalidRowsError(report, hints=[hint] if hint else [])


def load_images(
    values: pd.Series, *, column, mode: str = "RGB", size=(64, 64), verbose: int = 0
) -> np.ndarray:
    """Decode a column of image cells into one uint8 ``(n, C, H, W)`` array.

    Parameters
    ----------
    values : pandas.Series
        The cells (see :func:`decode_image`); the index gives the row labels
        used in error messages.
    column : hashable
        Column name, for error messages.
    mode : {"RGB", "L"}, default="RGB"
        Output mode.
    size : int or (height, width), default=(64, 64)
        Output size.
    verbose : int, default=0
        Show a progress bar when > 0.

    Returns
    -------
    images : numpy.ndarray of uint8, shape (n, C, H, W)

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        After trying every cell, if any cannot be decoded; its ``report``
        lists them all, and its message adds a hint when no file of the
        column exists (:func:`missing_files_hint`).
    """
    if mode not in CHANNELS:
        raise ValueError(f"mode must be one of {sorted(CHANNELS)}; got {mode!r}")
    height, width = as_size(size)
    out = np.empty((len(values), CHANNELS[mode], height, width), dtype=np.uint8)
    problems = find_image_problems(
        values, column=column, mode=mode, size=(height, width), out=out, verbose=verbose
    )
    if problems:
        raise _image_problems_error(values, column, problems)
    return out


def check_images(
    values: pd.Series, *, column, mode: str = "RGB", size=(64, 64)
) -> pd.DataFrame:
    """Report the image cells that cannot be decoded, without raising.

    Parameters
    ----------
    values : pandas.Series
        The cells (see :func:`decode_image`).
    column : hashable
        Column name written in the report.
    mode : {"RGB", "L"}, default="RGB"
        Output mode.
    size : int or (height, width), default=(64, 64)
        Output size.

    Returns
    -------
    report : pandas.DataFrame
        Columns ``row``, ``column``, ``reason``; empty when every cell decodes.
        When no file of the column exists, ``report.attrs["hints"]`` holds
        the advice of :func:`missing_files_hint`, which
        :class:`~skmm.exceptions.InvalidRowsError` shows.
    """
    problems = find_image_problems(values, column=column, mode=mode, size=as_size(size))
    report = make_report((row, column, reason) for _, row, reason in problems)
    hint = missing_files_hint(values, column=column, problems=problems)
    if hint:  # InvalidRowsError(report) shows it
        report.attrs["hints"] = [hint]
    return report


class ImageLoader(FrameMixin, TransformerMixin, BaseEstimator):
    """Turn an image column into flattened uint8 pixels.

    A stateless transformer that makes a DataFrame's image column usable by
    any scikit-learn estimator, e.g. ``make_pipeline(ImageLoader(), PCA(5))``.

    Parameters
    ----------
    image_col : str, default="image"
        Column of ``X`` holding the images (see :func:`decode_image`); other
        columns are ignored.
    image_size : int or (height, width), default=(32, 32)
        Size images are resized to.
    mode : {"RGB", "L"}, default="RGB"
        Colour mode.
    verbose : int, default=0
        Show a progress bar when > 0.

    Attributes
    ----------
    image_size_ : tuple of int
        ``(height, width)``.
    n_features_in_ : int
        Number of columns of ``X`` read in fit: 1.
    feature_names_in_ : ndarray of str
        The columns of ``X`` read in fit: ``[image_col]``.
    n_features_out_ : int
        ``C * H * W``.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(ImageLoader(image_size=16), PCA(5))  # doctest: +SKIP
    >>> Z = pipe.fit_transform(df)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict] = {
        "image_col": [str],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "mode": [StrOptions(set(CHANNELS))],
        "verbose": ["verbose"],
    }

    def __init__(self, image_col="image", image_size=(32, 32), mode="RGB", verbose=0):
        self.image_col = image_col
        self.image_size = image_size
        self.mode = mode
        self.verbose = verbose

    def _columns(self):
        return [self.image_col]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and the parameters.

        Parameters
        ----------
        X : pandas.DataFrame
            Table with an ``image_col`` column.
        y : ignored
            Not used, present for API consistency.

        Returns
        -------
        self : ImageLoader
            The fitted transformer.
        """
        size = as_size(self.image_size)
        check_columns(
            check_frame(X), [self.image_col], context="image_col of ImageLoader"
        )
        set_input_features(self, X, self._columns())
        self.image_size_ = size
        self.n_features_out_ = CHANNELS[self.mode] * size[0] * size[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Decode and flatten the images.

        Parameters
        ----------
        X : pandas.DataFrame
            Table with an ``image_col`` column.

        Returns
        -------
        pixels : numpy.ndarray of uint8, shape (n_samples, C * H * W)
            Channel-major: the ``(n, C, H, W)`` array reshaped.

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            If any image cannot be decoded.
        """
        check_is_fitted(self)
        check_columns(
            check_frame(X), [self.image_col], context="image_col of ImageLoader"
        )
        images = load_images(
            X[self.image_col],
            column=self.image_col,
            mode=self.mode,
            size=self.image_size_,
            verbose=self.verbose,
        )
        return images.reshape(len(images), -1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output pixels, ``f"{image_col}_c{c}_y{y}_x{x}"``.

        Parameters
        ----------
        input_features : ignored
            Not used, present for API consistency.

        Returns
        -------
        names : ndarray of str, shape (C * H * W,)
        """
        check_is_fitted(self)
        (height, width), channels = self.image_size_, CHANNELS[self.mode]
        return np.asarray(
            [
                f"{self.image_col}_c{c}_y{y}_x{x}"
                for c in range(channels)
                for y in range(height)
                for x in range(width)
            ],
            dtype=object,
        )


class ImageColumn:
    """A column of image cells decoded lazily, batch by batch.

    Stands in for the uint8 ``(n, C, H, W)`` array of :func:`load_images`
    when the decoded images would not fit in memory: indexing it with a slice
    or an array of positions decodes only those rows. It pickles (it holds
    the cells, usually paths), so DataLoader worker processes can decode.

    Parameters
    ----------
    values : pandas.Series
        The cells (see :func:`decode_image`), usually file paths.
    column : hashable
        Column name, for error messages.
    mode : {"RGB", "L"}, default="RGB"
        Output mode.
    size : int or (height, width), default=(64, 64)
        Output size.
    present : array-like of bool or None, default=None
        Rows whose cell holds an image; the others (missing cells) read as
        black images. None means every row.

    Attributes
    ----------
    shape : tuple of int
        ``(n, C, H, W)``, as the decoded array would have.
    nbytes : int
        Bytes the decoded array would take.
    """

    def __init__(self, values: pd.Series, *, column, mode: str = "RGB", size=(64, 64),
                 present=None):
        if mode not in CHANNELS:
            raise ValueError(f"mode must be one of {sorted(CHANNELS)}; got {mode!r}")
        self.values = pd.Series(values.to_numpy(dtype=object), index=values.index)
        self.column = column
        self.mode = mode
        self.size = as_size(size)
        self.shape = (len(values), CHANNELS[mode], *self.size)
        self.dtype = np.dtype(np.uint8)
        self.present = None if present is None else np.asarray(present, dtype=bool)
        if self.present is not None and self.present.shape != (len(values),):
            raise ValueError(f"present must hold one flag per row ({len(values)}); "
                             f"got shape {self.present.shape}")

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        if not isinstance(index, slice):
            index = np.asarray(index)
        cells = self.values.iloc[index]
        if self.present is None:
            return load_images(cells, column=self.column, mode=self.mode, size=self.size)
        present = self.present[index]
        out = np.zeros((len(cells), *self.shape[1:]), dtype=np.uint8)
        if present.any():
            out[present] = load_images(cells[present], column=self.column, mode=self.mode,
                                       size=self.size)
        return out

    def __repr__(self):
        return f"ImageColumn({self.column!r}, n={len(self)}, mode={self.mode!r}, size={self.size})"
