"""Shared parameter constraints and docstring fragments.

Every estimator declares its parameters once: its ``_parameter_constraints``
pick the shared entries from :data:`CONSTRAINTS` with :func:`constraints`
(adding its own), and its docstring names a shared parameter with a
``%(name)s`` line that :func:`fill_doc` replaces by the entry of :data:`DOCS`
(the way imbalanced-learn's ``Substitution`` decorator works). Validation runs
once per ``fit`` through scikit-learn's ``_fit_context``, which also skips the
validation of the inner estimators that a fit builds from validated
parameters.
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from numbers import Integral, Real

from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions

__all__ = ["AUTO_CONSTRAINTS", "CONSTRAINTS", "DEFAULT_MEMORY_BUDGET", "DOCS", "INFRASTRUCTURE",
           "constraints", "fill_doc", "is_torch_module"]

#: Default ``memory_budget``: decoded images above this many bytes are streamed
#: (with ``cache="auto"``).
DEFAULT_MEMORY_BUDGET = 4 * 2**30

_POSITIVE = Interval(Integral, 1, None, closed="left")

#: ``max_epochs="auto"``: the cap, in optimiser steps, and the bounds on its epochs.
AUTO_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 1000, 10, 1000
#: ``max_epochs="auto"`` when both columns enter as fixed vectors (the
#: pretrained towers, the defaults): the cap in optimiser steps. Measured on
#: the emoji groups, 3 folds: CRVAE and MMEDA-II on the towers at 400 steps
#: score within a fold's std of 1,000 steps, in a quarter to a third of the
#: time (``python -m skmm demo``, ``benchmarks/results/towers.md``; "When
#: training stops" in the CRVAE user guide).
AUTO_VECTOR_STEPS = 400
#: ``max_epochs="auto"``: the plateau rule. Training stops when the monitored
#: loss has not fallen below ``(1 - PLATEAU_THRESHOLD)`` x its best for a
#: patience of at least ``PLATEAU_PATIENCE`` epochs and ``PLATEAU_PATIENCE_STEPS``
#: optimiser steps, and not before ``PLATEAU_MIN_STEPS`` steps.
PLATEAU_THRESHOLD = 0.01
PLATEAU_PATIENCE, PLATEAU_PATIENCE_STEPS = 5, 200
PLATEAU_MIN_STEPS = 200


def _batches(n_train: float, batch_size: int) -> int:
    return max(math.ceil(n_train / batch_size), 1)


def auto_epochs(n_train: float, batch_size: int, steps: int | None = None) -> int:
    """The cap of ``max_epochs="auto"``: about ``steps`` optimiser steps
    (None: :data:`AUTO_STEPS`).

    ``ceil(steps / batches per epoch)``, within
    [:data:`AUTO_MIN_EPOCHS`, :data:`AUTO_MAX_EPOCHS`]: a 90-row table gets
    500 epochs of 2 batches, 800 rows 77 epochs of 13, 100,000 rows 10.
    """
    batches = _batches(n_train, batch_size)
    steps = AUTO_STEPS if steps is None else steps
    return int(min(max(math.ceil(steps / batches), AUTO_MIN_EPOCHS), AUTO_MAX_EPOCHS))


def auto_stopping(n_train: float, batch_size: int, steps: int | None = None) -> dict:
    """The plateau rule of ``max_epochs="auto"`` for ``n_train`` rows, in epochs.

    Returns the arguments ``patience``, ``threshold``, ``threshold_mode``
    and ``min_epochs`` of :class:`skmm.training.callbacks.PlateauStopping`:
    a relative threshold of :data:`PLATEAU_THRESHOLD`; a patience of
    :data:`PLATEAU_PATIENCE` epochs, more when an epoch has few batches
    (:data:`PLATEAU_PATIENCE_STEPS` steps at least: the mean loss of an
    epoch of 2 batches is noisy); at least :data:`PLATEAU_MIN_STEPS` steps
    (within the cap of :func:`auto_epochs` for ``steps``).
    """
    batches = _batches(n_train, batch_size)
    cap = auto_epochs(n_train, batch_size, steps)
    return {"patience": max(PLATEAU_PATIENCE, math.ceil(PLATEAU_PATIENCE_STEPS / batches)),
            "threshold": PLATEAU_THRESHOLD, "threshold_mode": "rel",
            "min_epochs": min(math.ceil(PLATEAU_MIN_STEPS / batches), cap)}


class _TorchDevice(HasMethods):
    """A ``torch.device``, recognised by its type's name: this module (and so
    :mod:`skmm.inputs`, which uses its fragments) never imports torch.

    (A subclass of scikit-learn's ``HasMethods`` only because
    ``_param_validation`` accepts no other constraint objects.)
    """

    def __init__(self):
        super().__init__([])

    def is_satisfied_by(self, val):
        return type(val).__name__ == "device" and type(val).__module__.startswith("torch")

    def __str__(self):
        return "an instance of 'torch.device'"


class _TorchModule(HasMethods):
    """A ``torch.nn.Module`` instance, recognised by its classes' names (no torch import)."""

    def __init__(self):
        super().__init__([])

    def is_satisfied_by(self, val):
        return not isinstance(val, type) and any(
            c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module"
            for c in type(val).__mro__)

    def __str__(self):
        return "an instance of 'torch.nn.Module'"


def is_torch_module(value) -> bool:
    """Whether ``value`` is a ``torch.nn.Module`` instance (without importing torch)."""
    return _TorchModule().is_satisfied_by(value)


#: The constraint of every parameter that more than one estimator takes.
CONSTRAINTS = {
    # columns and sizes
    "image_col": [str],
    "text_col": [str],
    "image_size": [Interval(Integral, 8, None, closed="left"), tuple, list],
    # an encoder object, a shortcut or a module: resolved in fit by
    # skmm.encoders._base.resolve_encoder, which says what is wrong
    "image_encoder": [str, HasMethods(["get_params"]), _TorchModule()],
    "text_encoder": [str, HasMethods(["get_params"])],
    "n_components": [_POSITIVE],
    "conv_channels": [_POSITIVE],
    "hidden_size": [_POSITIVE],
    "fusion_size": [_POSITIVE],
    "column_batch_size": [_POSITIVE, None],
    # text
    "tokenizer": [StrOptions({"english", "jieba"}), callable],
    "word_vectors": [str, os.PathLike, HasMethods(["get_vector"])],
    "word_vector_dims": [Options(Integral, {64, 128, 256}), None],
    "vector_size": [_POSITIVE],
    "min_count": [_POSITIVE],
    "max_vocabulary": [_POSITIVE, None],
    "max_length": [_POSITIVE, None],
    "text_features": [StrOptions({"word2vec", "tfidf", "tfidf+word2vec", "vector"}), list,
                      tuple],
    "max_text_features": [_POSITIVE],
    # image features of the factorization baselines
    "image_features": [StrOptions({"pixels", "pca", "convae", "vector"})],
    "n_image_components": [_POSITIVE],
    # training
    "max_epochs": [_POSITIVE],
    "batch_size": [Interval(Integral, 2, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "patience": [_POSITIVE],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "device": [str, _TorchDevice()],
    "precision": [StrOptions({"auto", "float32", "bf16"})],
    # scaling
    "cache": [StrOptions({"auto", "memory", "none"})],
    "memory_budget": [Interval(Integral, 0, None, closed="left"), None],
    "num_workers": [Interval(Integral, 0, None, closed="left")],
    "accelerator": [HasMethods(["prepare", "backward"]), None],
    "channels_last": ["boolean"],
    "compile": ["boolean", dict],
    # resumable training, reproducibility and output
    "checkpoint_dir": [str, os.PathLike, None],
    "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

#: The training parameters of every network an estimator trains with skorch.
TRAINING = ("max_epochs", "batch_size", "lr", "validation_fraction", "device")
#: The scaling parameters of the three embedders.
SCALING = ("cache", "memory_budget", "num_workers", "accelerator", "channels_last", "compile")
#: The infrastructure parameters of the three embedders (the same defaults in
#: each): constrained by :data:`CONSTRAINTS` and documented by the
#: ``%(infrastructure)s`` fragment, in this order.
INFRASTRUCTURE = ("device", "precision", *SCALING, "checkpoint_dir", "n_threads",
                  "random_state", "verbose")
#: The constraints of the embedders' training parameters that also take
#: ``"auto"`` (the baselines' do not).
AUTO_CONSTRAINTS = {"max_epochs": [_POSITIVE, StrOptions({"auto"})]}


def constraints(*names: str, **own) -> dict:
    """The shared constraints of ``names``, updated with the estimator's ``own``."""
    unknown = [n for n in names if n not in CONSTRAINTS]
    if unknown:
        raise KeyError(f"no shared constraint for {unknown}")
    return {**{n: CONSTRAINTS[n] for n in names}, **own}


#: Docstring entries (numpydoc) of the shared parameters, unindented.
DOCS = {
    "image_size": """\
image_size : int or (int, int), default=%(default)s
    Images are converted to RGB and resized to (height, width) for a
    trained CNN or a module (a frozen pretrained tower reads them at its
    own input size).""",
    "image_encoder": """\
image_encoder : ImageTower, ConvEncoder, ModuleEncoder, torch.nn.Module, \
"efficientnet_lite0", "cnn" or "passthrough", default="efficientnet_lite0"
    How the image column becomes input to the model (:mod:`skmm.encoders`;
    its settings are nested parameters, ``image_encoder__image_size``).
    :class:`~skmm.encoders.ImageTower` (``"efficientnet_lite0"``, the
    default): the pretrained ImageNet EfficientNet-Lite0, frozen; its 2,768
    features of each image (every stage pooled: ``layers``) are computed once
    per process and the model learns from their standardised values.
    :class:`~skmm.encoders.ConvEncoder` (``"cnn"``): the papers' conv blocks,
    trained (:meth:`paper`).
    :class:`~skmm.encoders.ModuleEncoder` (or a ``torch.nn.Module``, taken
    as a frozen one): a pretrained backbone of yours, frozen or fine-tuned.
    ``"passthrough"``: the column holds precomputed 1-D feature vectors (the
    same length in every row).""",
    "tokenizer": """\
tokenizer : {"english", "jieba"} or callable, default="english"
    How texts are split into words; ``"jieba"`` for Chinese, or a callable
    mapping a string to a list of tokens. With ``word_vectors="wordllama"``
    texts are split by wordllama's own subword tokenizer: leave the
    default (then ignored); ``"jieba"`` or a callable raises ValueError.""",
    "word_vectors": """\
word_vectors : "word2vec", "wordllama", path or gensim KeyedVectors, default="word2vec"
    ``"word2vec"`` trains gensim Word2Vec on the training texts (seeded by
    ``random_state``); ``"wordllama"`` uses the pretrained 256-dimensional
    token vectors shipped inside the ``wordllama`` wheel (read offline in
    ``fit``, with its own subword tokenizer, case kept); a path loads a
    KeyedVectors file (``.kv``), a word2vec binary (``.bin``) or a text
    file (``.txt``/``.vec``, GloVe files without header too). Words without
    a vector get zeros. The fitted estimator keeps only the vectors of its
    vocabulary.""",
    "word_vector_dims": """\
word_vector_dims : {64, 128, 256} or None, default=None
    With ``word_vectors="wordllama"``, keep the first 64, 128 or 256
    dimensions of its Matryoshka-trained vectors (None: all 256); any
    other ``word_vectors`` raises ValueError unless None.""",
    "vector_size": """\
vector_size : int, default=50
    Word2Vec dimensions (``word_vectors="word2vec"`` only: another value with
    loaded vectors or wordllama raises ValueError).""",
    "min_count": """\
min_count : int, default=1
    Words seen fewer times in training map to ``<unk>``.""",
    "max_vocabulary": """\
max_vocabulary : int or None, default=None
    Keep only the most frequent words.""",
    "max_length": """\
max_length : int or None, default=None
    Truncate texts to this many words.""",
    "max_epochs": """\
max_epochs : int, default=%(default)s
    Passes over the training rows.""",
    "max_epochs_auto": """\
max_epochs : int or "auto", default="auto"
    ``"auto"``: train until the loss stops improving, under a cap. The cap
    (``max_epochs_``) scales with the data so that a fit takes at most
    about 1,000 optimiser steps (at least 10 epochs, at most 1,000): a
    90-row table gets 500 epochs of 2 batches, 800 rows 77, 20,000 rows
    10. When both columns enter as fixed vectors (the pretrained towers
    of the defaults, or precomputed vectors) the cap is 400 steps: the
    model learns only light layers over them, and 400 steps score within
    a fold's spread of 1,000 (the user guide, "When training stops").
    Training stops earlier when the monitored loss (``valid_loss``
    with ``validation_fraction``, else ``train_loss``) has not fallen
    by 1% of its best for a patience of 5 epochs and at least 200
    optimiser steps, and not before 200 steps; with a validation split the
    weights of the epoch with the lowest ``valid_loss`` are restored, on
    the training loss the last weights are kept. ``n_epochs_`` and
    ``stopped_early_`` say what happened. An int is a fixed budget:
    exactly that many epochs, never stopped early (to reproduce a
    schedule, or to compare models at equal training). A fixed small
    number of epochs starves a small table (about 40 steps for 90 rows at
    20 epochs), whose latent then collapses; the user guide gives the
    time and quality at both.""",
    "stopping_attributes": """\
max_epochs_ : int
    The most epochs the last fit could train: ``max_epochs``, or the cap
    of ``"auto"``.
n_epochs_ : int
    The epochs it trained (those restored from a checkpoint included).
stopped_early_ : bool
    Whether it stopped before ``max_epochs_`` because the monitored loss
    had stopped improving (``max_epochs="auto"``).""",
    "runtime_attributes": """\
device_ : str
    The device the last fit trained on (``device`` with ``"auto"``
    resolved; the accelerator's with ``accelerator``).
precision_ : {"float32", "bf16", "fp16"}
    The precision of its forward pass (``precision`` with ``"auto"``
    resolved; the accelerator's mixed precision with ``accelerator``).
cache_ : {"memory", "none"}
    ``"none"`` when its images were streamed (``cache="none"``, or
    ``"auto"`` over ``memory_budget``), else ``"memory"``.""",
    "batch_size": """\
batch_size : int, default=64
    Rows per optimiser step.""",
    "lr": """\
lr : float, default=%(default)s
    Adam learning rate.""",
    "validation_fraction": """\
validation_fraction : float or None, default=None
    Hold out this fraction of the rows to record ``valid_*`` loss terms;
    with ``max_epochs="auto"`` training then stops on a plateau of
    ``valid_loss`` and keeps the weights of its lowest epoch.""",
    "device": """\
device : str, default="auto"
    ``"auto"`` trains on CUDA when present, else on the CPU (the device
    used is ``device_``).""",
    "precision": """\
precision : {"auto", "float32", "bf16"}, default=%(default)s
    ``"bf16"`` runs the forward pass under bfloat16 autocast on CUDA, and
    on a CPU with bfloat16 instructions (AVX-512 BF16 or AMX); on another
    CPU it warns and trains in float32. ``"auto"`` is bf16 where it is
    fast (a GPU that supports it, a CPU with those instructions) and
    float32 elsewhere, without a warning. The weights and the optimiser
    stay float32; convolutions and dense layers run in bf16 (the packed
    recurrent layers stay float32). Results are repeatable bit for bit at a
    given precision, not across precisions. The value used is
    ``precision_``; speed and loss at each precision: "bf16 on the CPU" in
    :doc:`/scaling`.""",
    "cache": """\
cache : {"auto", "memory", "none"}, default="auto"
    ``"memory"`` decodes all images once into one uint8 array (the fast
    path); ``"none"`` streams them: every batch is decoded again from the
    cells (usually file paths) by ``num_workers`` DataLoader worker
    processes, so memory is bounded by the batch size and the workers,
    not by the data set. ``"auto"`` streams when the decoded images
    would take more than ``memory_budget`` bytes (what was chosen is
    ``cache_``). Same seed, same result either way.""",
    "memory_budget": """\
memory_budget : int or None, default=4 GiB
    Bytes of decoded images above which ``cache="auto"`` streams.""",
    "num_workers": """\
num_workers : int, default=2
    Decoding processes when streaming (0: in the training process).""",
    "accelerator": """\
accelerator : accelerate.Accelerator or None, default=None
    Train through Hugging Face Accelerate (skorch's ``AccelerateMixin``):
    the same estimator then trains on several GPUs or nodes under
    ``accelerate launch``, with the accelerator's mixed precision
    (``Accelerator(mixed_precision="bf16")``); ``device`` and
    ``precision`` are then ignored. See the scaling page of the docs.""",
    "channels_last": """\
channels_last : bool, default=True
    Keep convolution weights and image batches in the channels-last
    memory format: faster convolutions on tensor-core GPUs and on the CPU
    (measured in :doc:`/scaling`).""",
    "compile": """\
compile : bool or dict, default=False
    Compile the module with ``torch.compile`` (skorch's ``compile``); a
    dict holds its arguments, e.g. ``{"mode": "max-autotune"}``. The
    first epoch pays for the compilation. Results agree with the eager
    module up to rounding (inductor also draws its own random numbers).""",
    "checkpoint_dir": """\
checkpoint_dir : str, os.PathLike or None, default=None
    Save the training state to this folder after every epoch (module,
    optimiser, history, random-number generators; one file, replaced
    atomically) and resume from it: a ``fit`` that finds a checkpoint of
    the same parameters and data goes on from its last epoch, to the
    result of an uninterrupted fit (bit for bit on the CPU at the same
    ``n_threads``); a complete checkpoint is restored without training,
    and a larger ``max_epochs`` goes on from it. A checkpoint of other
    parameters or data is refused with a ``ValueError`` before training
    (``verbose``, ``n_threads``, ``device``, ``cache``, ``memory_budget``
    and ``num_workers`` may change). Use one folder per fit; see the
    scaling page of the docs.""",
    "n_threads": """\
n_threads : int or None, default=None
    Torch's intra-op threads during ``fit``, ``transform`` and ``score``
    (restored afterwards). The CPU results of a seeded fit are identical
    bit for bit only at the same number of threads: set it to make them
    independent of the caller's setting (e.g. of ``GridSearchCV(n_jobs=...)``).
    None uses torch's current setting.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds every random draw of the fit (word vectors, weights, sampling,
    shuffling, the validation split): on the CPU the same seed gives the
    same result bit for bit at a given number of torch threads.""",
    "verbose": """\
verbose : int, default=0
    0 prints nothing; 1 prints skorch's table of loss terms per epoch
    (coloured on a terminal, plain text in logs) and, on a terminal, a
    progress bar while decoding 1,000 images or more (never in
    ``transform`` of fewer rows, e.g. inside cross-validation); 2 adds a
    per-batch progress bar on a terminal.""",
}

#: ``%(scaling)s`` in a docstring: every scaling parameter, in order.
DOCS["scaling"] = "\n".join(DOCS[name] for name in SCALING)
#: ``%(infrastructure)s``: every parameter of :data:`INFRASTRUCTURE`, in order.
DOCS["infrastructure"] = "\n".join(
    '%(precision:"auto")s' if name == "precision" else f"%({name})s"
    for name in ("device", "precision", "scaling", "checkpoint_dir", "n_threads",
                 "random_state", "verbose"))

_PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)%\((?P<name>\w+)(?::(?P<default>[^)]*))?\)s$",
                          re.MULTILINE)


def fill_doc(obj=None, /, **fragments):
    """Decorator: replace each ``%(name)s`` line of ``obj``'s docstring by ``DOCS[name]``.

    A line ``%(name:value)s`` also sets the ``%(default)s`` of that entry,
    for parameters whose default differs between estimators (e.g.
    ``%(image_size:64)s``). The entry is indented like the placeholder.
    ``fill_doc(name=text, ...)`` adds fragments of a family of estimators
    (e.g. the baselines' feature blocks) to the shared ones.
    """
    if obj is None:
        return lambda cls: _fill(cls, {**DOCS, **fragments})
    return _fill(obj, DOCS)


def _fill(obj, docs: dict):
    def entry(match):
        name, default = match["name"], match["default"]
        if name not in docs:
            raise KeyError(f"{obj.__qualname__}: no docstring fragment named {name!r}")
        text = docs[name]
        if "%(default)s" in text:
            if default is None:
                raise KeyError(f"{obj.__qualname__}: %({name})s needs a default, "
                               f"written %({name}:VALUE)s")
            text = text.replace("%(default)s", default)
        text = _PLACEHOLDER.sub(entry, text)  # a fragment may name shared entries
        return textwrap.indent(text, match["indent"])

    if obj.__doc__:
        obj.__doc__ = _PLACEHOLDER.sub(entry, obj.__doc__)
    return obj
