"""The estimator template: one fit sequence for every skmm model trained with skorch.

:class:`NeuralEstimator` holds the sequence (see its docstring); the families
add what they share:

- :class:`BaseEmbedder`: transformers (``transform``, ``fit_transform``,
  ``score``, feature names, batched gradient-free encoding);
- :class:`NeuralClassifier`: classifiers (labels, early stopping,
  ``predict`` and ``predict_proba``).

The three embedders add two estimator-level mixins:
:class:`~skmm._scaling.ScalingMixin` (streamed images, Accelerate,
channels-last, ``torch.compile``) and :class:`~skmm._checkpointing.CheckpointMixin`
(``checkpoint_dir``: resumable training).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

import numpy as np
import pandas as pd
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch.callbacks import EarlyStopping, ProgressBar

from skmm._params import auto_epochs, auto_stopping
from skmm.exceptions import InputError, format_rows
from skmm.inputs import ImageColumn, check_images, load_images
from skmm.inputs.checks import FrameMixin, raise_problems, set_input_features
from skmm.nn.embeddings import unseen_rows
from skmm.training import (
    AcceleratedMultimodalNet,
    FixedSplit,
    MultimodalNet,
    PreparedData,
    RandomSplit,
    SliceLoader,
    TensorDict,
    resolve_device,
    torch_seed,
    torch_threads,
)
from skmm.training.callbacks import PlateauStopping
from skmm.training.checkpoint import EpochCheckpoint
from skmm.training.net import native_bf16


def check_labels(X: pd.DataFrame, y, *, estimator, min_classes: int = 2) -> np.ndarray:
    """Check ``y``: one label per row of ``X``, none missing, ``min_classes`` classes."""
    if y is None:
        raise ValueError(f"{type(estimator).__name__} is supervised: fit(X, y) needs class "
                         "labels y (y is required)")
    if isinstance(y, pd.Series | pd.DataFrame):
        y = y.to_numpy()
    y = column_or_1d(np.asarray(y), warn=True)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels; they must match")
    missing = np.asarray(pd.isna(pd.Series(y, dtype=object)), dtype=bool)
    if missing.any():
        rows = X.index[missing].tolist()
        raise InputError(f"y has missing labels for rows {format_rows(rows)}", column="y",
                         rows=rows)
    if len(np.unique(y)) < min_classes:
        raise ValueError(f"y needs at least {min_classes} classes to train "
                         f"{type(estimator).__name__}; got {np.unique(y)}")
    return y


#: Rows that :func:`sample_rows` reads at most.
SCALE_SAMPLE = 2048


def sample_rows(column, n: int = SCALE_SAMPLE) -> np.ndarray:
    """At most ``n`` evenly spaced rows of a tensor, array or lazy image column, as numpy."""
    index = np.unique(np.linspace(0, len(column) - 1, min(n, len(column))).astype(np.int64))
    rows = column[torch.from_numpy(index)] if isinstance(column, torch.Tensor) else column[index]
    return rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)


def image_variance(images) -> float:
    """The variance of the pixel values (scaled to [0, 1]) of uint8 images (sampled rows)."""
    return max(float(np.var(sample_rows(images).astype(np.float64) / 255.0)), 1e-12)


def holdout(n: int, fraction: float, seed: int):
    """A fixed validation hold-out for models sized by their training rows.

    Returns the sorted training positions and the :class:`FixedSplit`
    (at least 2 training rows).
    """
    split = RandomSplit(fraction, seed=seed)
    train_idx, valid_idx = (i.sort().values for i in split.indices(n, min_train=2))
    return train_idx, FixedSplit(train_idx, valid_idx)


def resolve_precision(precision: str, device) -> str:
    """What ``precision`` trains at on ``device``: ``"bf16"`` or ``"float32"``.

    ``"bf16"`` on CUDA, or on a CPU with bfloat16 instructions
    (:func:`skmm.training.net.native_bf16`); ``"auto"`` on CUDA also
    needs a GPU that supports bfloat16. Anything else trains in float32 (an
    explicit ``"bf16"`` on a CPU without those instructions warns, in the net).
    """
    if precision not in ("bf16", "auto"):
        return "float32"
    if precision == "bf16" and str(device).startswith("cuda"):
        return "bf16"
    return "bf16" if native_bf16(device) else "float32"


def as_tensors(data: dict) -> dict:
    """Numpy arrays of ``data`` as (contiguous) tensors; lazy columns as they are."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
            for k, v in data.items()}


class NeuralEstimator(FrameMixin, BaseEstimator):
    """The fit sequence of every skmm estimator that trains a torch module.

    :meth:`_fit` runs, in order:

    1. check ``X`` (a DataFrame with the columns of :meth:`_columns`, at least
       2 rows) and, for a supervised model, ``y``;
    2. draw the seeds (:attr:`_seed_names`, from ``random_state``);
    3. ``_prepare(X, fitting=True, state=state)``: every input problem is
       raised here, before training; the dict of tensors is returned and what
       fit learns on the way (a text encoder, the image size ...) goes into
       ``state`` under names ending with ``_``;
    4. ``_targets(y, state)``: the label tensors of a supervised model;
    5. ``_train_split(n, state)`` and ``_build_module(data, state)``
       (seeded);
    6. build the skorch net (:meth:`_make_net`) and train it, seeded;
    7. ``_after_training(net, state)``, then commit: the ``*_`` entries of
       ``state``, ``net_`` and the input features become attributes. Only
       now is a previously fitted state replaced, so a failed fit keeps it.

    Every ``"auto"`` parameter is resolved once, into ``state`` under its
    name with a trailing ``_`` (``device_``, ...): :meth:`_resolve_auto`
    before step 1, :meth:`_resolve_data_auto` after step 3 (what depends on
    the data, such as ``cache_``). The steps read the resolved values from
    ``state``, or through :meth:`_resolved` where they are not handed it.

    Parameters are validated once, by scikit-learn's ``_fit_context`` around
    ``fit``, which also skips validating the inner estimators a fit builds.
    """

    #: The names of the seeds drawn, in this order, from ``random_state``.
    _seed_names = ("word", "torch", "shuffle")
    #: Whether ``fit`` needs labels ``y``, and how many classes at least.
    _supervised = False
    _min_classes = 2

    # ---- what a model implements ------------------------------------------
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """The tensors the module reads (fitting: also fill ``state``)."""
        raise NotImplementedError

    def _build_module(self, data: dict, state: dict) -> torch.nn.Module:
        """The untrained torch module (called under the torch seed)."""
        raise NotImplementedError

    def _word_tables(self, module) -> dict:
        """``{token-id key of the prepared data: the module's word-vector table}``."""
        return {}

    def _unseen_words(self, data) -> ExitStack:
        """A context in which the module's tables read the unseen tokens of ``data``.

        ``data`` from ``_prepare(X, fitting=False)`` may be a
        :class:`~skmm.training.PreparedData` whose ``unseen`` entries give
        the pretrained vectors of tokens that fit did not see; each is
        appended to its table (``_word_tables``) for the duration of the
        context (:func:`skmm.nn.embeddings.unseen_rows`).
        """
        stack = ExitStack()
        unseen = getattr(data, "unseen", {})
        if unseen:
            tables = self._word_tables(self.net_.module_)
            for key, (_, rows) in unseen.items():
                stack.enter_context(unseen_rows(tables[key], rows))
        return stack

    def _targets(self, y, state: dict) -> dict:
        """Tensors of the labels, added to the training data (supervised models)."""
        return {}

    def _train_split(self, n: int, state: dict):
        """The skorch ``train_split``: a seeded random hold-out, or None."""
        if not self.validation_fraction:
            return None
        return RandomSplit(self.validation_fraction, seed=state["seeds"]["shuffle"] + 1)

    def _callbacks(self, state: dict) -> list:
        """Extra skorch callbacks of the net."""
        return []

    def _after_training(self, net, state: dict) -> None:
        """Add what is read from the trained net to ``state`` (before commit)."""

    def _resolve_auto(self) -> dict:
        """The ``"auto"`` parameters resolved before the data is prepared, as
        ``{"<name>_": value}`` (fitted attributes once the fit succeeds)."""
        return {"device_": resolve_device(self.device)}

    def _resolve_data_auto(self, data: dict) -> dict:
        """The ``"auto"`` parameters that depend on the prepared ``data``."""
        return {}

    # ---- the sequence ------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # unseeded, or compiled (inductor draws its own random numbers)
        tags.non_deterministic = self.random_state is None or bool(getattr(self, "compile",
                                                                           False))
        return tags

    def _seeds(self) -> dict:
        """Independent integer seeds, named by :attr:`_seed_names`."""
        rng = check_random_state(self.random_state)
        draws = rng.randint(0, 2**31 - 1, size=len(self._seed_names))
        return {name: int(s) for name, s in zip(self._seed_names, draws)}

    def _fit(self, X, y=None) -> dict:
        """Run the fit sequence (with ``n_threads``); return the prepared training tensors."""
        with torch_threads(self.n_threads):
            return self._fit_sequence(X, y)

    def _resolved(self, name: str):
        """What ``"auto"`` of ``name`` resolved to: in the fit in progress, else
        in the last fit (the fitted ``<name>_``). Each ``"auto"`` is resolved
        once, by :meth:`_resolve_auto`, and only read afterwards."""
        in_progress = getattr(self, "_fit_state", None)
        if in_progress is not None and f"{name}_" in in_progress:
            return in_progress[f"{name}_"]
        return getattr(self, f"{name}_")

    def _fit_sequence(self, X, y) -> dict:
        resolved = self._resolve_auto()  # an unusable device is refused before any work
        state = {"seeds": self._seeds(), **resolved}
        self._fit_state = state  # read by _resolved while the fit runs, then forgotten
        try:
            return self._fit_steps(X, y, state)
        finally:
            del self._fit_state

    def _fit_steps(self, X, y, state: dict) -> dict:
        X = self._check_X(X)
        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 rows to fit, got {len(X)}")
        if self._supervised:
            y = check_labels(X, y, estimator=self, min_classes=self._min_classes)
        data = self._prepare(X, fitting=True, state=state)
        state.update(self._resolve_data_auto(data))
        if self._supervised:
            data.update(self._targets(y, state))
        split = self._train_split(len(X), state)
        with torch_seed(state["seeds"]["torch"]):
            module = self._build_module(data, state)
        net = self._train_net(module, data, state["seeds"], train_split=split,
                              callbacks=self._callbacks(state))
        self._after_training(net, state)
        # only now, with training done, replace any previously fitted state
        for key, value in state.items():
            if key.endswith("_"):
                setattr(self, key, value)
        self.net_ = net
        set_input_features(self, X, self._columns())
        return data

    # ---- the net -----------------------------------------------------------
    def _train_net(self, module, data: dict, seeds: dict, *, train_split=None, callbacks=()):
        """Build the net of ``module`` (:meth:`_make_net`) and train it on ``data``, seeded.

        With ``max_epochs="auto"`` a :class:`~skmm.training.callbacks.PlateauStopping`
        (:meth:`_stopping`) ends training when the monitored loss stops
        improving; it comes last among the callbacks, so that the epoch where
        it stops is checkpointed. An
        :class:`~skmm.training.checkpoint.EpochCheckpoint` among ``callbacks``
        (:class:`~skmm._checkpointing.CheckpointMixin`) first restores its checkpoint into the
        initialised net, which then trains only the epochs left.
        """
        n_train = len(TensorDict(data)) * (1 - (self.validation_fraction or 0))
        callbacks = [*callbacks, *self._stopping(n_train, validated=train_split is not None)]
        net = self._make_net(module, seeds["shuffle"], lazy=TensorDict(data).lazy,
                             train_split=train_split, callbacks=callbacks,
                             max_epochs=self._epochs(n_train))
        checkpoint = next((cb for cb in (c[1] if isinstance(c, tuple) else c for c in callbacks)
                           if isinstance(cb, EpochCheckpoint)), None)
        with torch_threads(self.n_threads), torch_seed(seeds["torch"]):
            net.initialize()
            epochs = None if checkpoint is None else checkpoint.resume(net, data)
            if epochs is None:
                net.partial_fit(TensorDict(data))
            elif epochs > 0:
                net.partial_fit(TensorDict(data), epochs=epochs)
        return net

    def _stopping(self, n_train: float, *, validated: bool) -> list:
        """The plateau rule of ``max_epochs="auto"`` (none for an int ``max_epochs``).

        It watches ``valid_loss`` when the net holds rows out (``validated``)
        and restores the best epoch's weights; otherwise ``train_loss``, and
        the last weights are kept (see :func:`skmm._params.auto_stopping`).
        """
        if self.max_epochs != "auto":
            return []
        rule = auto_stopping(n_train, self.batch_size, self._auto_steps())
        monitor = "valid_loss" if validated else "train_loss"
        return [("stopping", PlateauStopping(monitor=monitor, load_best=validated, sink=print,
                                             **rule))]

    def _learning_rate(self) -> float:
        """The Adam learning rate of the net (``lr``, with any ``"auto"`` resolved)."""
        return self.lr

    def _net_options(self, lazy: bool) -> dict:
        """Placement and loader parameters of the net."""
        return {"device": self._resolved("device")}

    def _epochs(self, n_train: float) -> int:
        """``max_epochs``; ``"auto"``: the cap of :func:`auto_epochs` for ``n_train`` rows."""
        if self.max_epochs == "auto":
            return auto_epochs(n_train, self.batch_size, self._auto_steps())
        return self.max_epochs

    def _auto_steps(self) -> int | None:
        """The optimiser steps of the ``max_epochs="auto"`` cap (None: the
        default, :data:`skmm._params.AUTO_STEPS`)."""
        return None

    def _make_net(self, module, shuffle_seed: int, *, lazy: bool = False, train_split=None,
                  callbacks=(), max_epochs=None) -> MultimodalNet:
        """The skorch net that trains ``module`` (shuffling seeded by ``shuffle_seed``)."""
        callbacks = list(callbacks)
        if self.verbose >= 2 and sys.stderr is not None and sys.stderr.isatty():
            callbacks.append(("progress_bar", ProgressBar()))
        options = self._net_options(lazy)
        cls = AcceleratedMultimodalNet if options.get("accelerator") else MultimodalNet
        return cls(
            module,
            optimizer=torch.optim.Adam,
            lr=self._learning_rate(),
            max_epochs=self.max_epochs if max_epochs is None else max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(shuffle_seed),
            train_split=train_split,
            callbacks=callbacks,
            verbose=self.verbose,
            **options,
        )

    def _batches(self, data: dict, batch_size: int):
        """An inference loader over prepared ``data``."""
        return SliceLoader(TensorDict(data), batch_size=batch_size)

    @property
    def history_(self):
        """The skorch History of the last fit: one dict per epoch with each loss term."""
        check_is_fitted(self, "net_")
        return self.net_.history

    @property
    def max_epochs_(self) -> int:
        """The epochs the last fit could train: ``max_epochs``, or the cap of ``"auto"``."""
        check_is_fitted(self, "net_")
        return int(self.net_.max_epochs)

    @property
    def n_epochs_(self) -> int:
        """The epochs the last fit trained (a resumed fit counts the restored ones)."""
        check_is_fitted(self, "net_")
        return len(self.net_.history)

    @property
    def stopped_early_(self) -> bool:
        """Whether the last fit stopped before ``max_epochs_`` (its loss had stopped improving)."""
        return self.n_epochs_ < self.max_epochs_


class BaseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, NeuralEstimator):
    """Base class of the skmm embedders (not for direct use).

    Adds to the fit sequence of :class:`NeuralEstimator` what every
    transformer shares: ``fit_transform`` that embeds the tensors fit already
    prepared, ``transform`` (``_prepare`` then batched ``_encode_batch``),
    ``score``, feature names and honest tags.
    """

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # float32 whatever the input
        return tags

    def get_feature_names_out(self, input_features=None):
        """Names of the output dimensions: ``<classname>0``, ``<classname>1``, ...

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "net_")
        return super().get_feature_names_out(input_features)

    def _resolve_auto(self) -> dict:
        resolved = super()._resolve_auto()
        return {**resolved, "precision_": resolve_precision(self.precision,
                                                            resolved["device_"])}

    def _net_options(self, lazy: bool) -> dict:
        options = super()._net_options(lazy)
        # an explicit "bf16" is honoured (emulated, with a warning from the net) where the
        # device has no bf16 instructions and precision_ says float32
        bf16 = self.precision == "bf16" or self._resolved("precision") == "bf16"
        return {**options, "autocast": "bf16" if bf16 else None}

    # ---- images ------------------------------------------------------------
    def _streams(self, n_bytes: int) -> bool:
        """Whether images of ``n_bytes`` decoded are streamed instead of cached."""
        return False

    def _image_data(self, values, *, column, mode: str = "RGB", size, present=None):
        """The uint8 NCHW images of a column: decoded now, or an ImageColumn to stream.

        Either way every cell is decoded once here, so an unreadable image is
        reported before training starts. With a boolean mask ``present``
        only those cells are read; the other rows are black images.
        """
        lazy = ImageColumn(values, column=column, mode=mode, size=size, present=present)
        cells = values if present is None else values[present]
        if not self._streams(lazy.nbytes):
            pixels = load_images(cells, column=column, mode=mode, size=size,
                                 verbose=self.verbose)
            if present is None:
                return pixels
            full = np.zeros(lazy.shape, dtype=np.uint8)
            full[present] = pixels
            return full
        raise_problems(check_images(cells, column=column, mode=mode, size=size))
        return lazy

    # ---- fit and inference ---------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the model on the rows of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per item, with the columns the model reads; others are
            ignored.
        y : array-like of shape (n_samples,) or None
            Class labels for a supervised model; ignored otherwise.

        Returns
        -------
        self

        Raises
        ------
        skmm.exceptions.MissingColumnError
            A column is missing.
        skmm.exceptions.InvalidRowsError
            Some rows hold an unusable image or text; the message names the
            column, the row labels and the reason. Nothing is trained, and a
            previously fitted state is kept.
        skmm.exceptions.NonFiniteLossError
            The loss became NaN or infinite (a previous fit is kept).
        """
        self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then embed the training rows without decoding them a second time.

        Parameters
        ----------
        X : pandas.DataFrame
        y : array-like of shape (n_samples,) or None

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
        """
        return self._encode(self._fit(X, y))

    def transform(self, X):
        """Embed the rows of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds the columns used in :meth:`fit`; others are ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
            (a DataFrame with ``set_output(transform="pandas")``).
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        return self._encode(self._prepare(X, fitting=False, state=None))

    def score(self, X, y=None):
        """How well the model rebuilds the rows of ``X`` (higher is better; at most 0).

        Minus the mean, over the modalities the model rebuilds, of the
        reconstruction error on ``X`` divided by the variance of that
        modality in the training data: 0 is a perfect reconstruction, about
        -1 is no better than predicting the average. It is not the training
        objective: hyperparameters that weight the objective (``beta``,
        ``text_weight``, MMEDA's ``variant``) do not redefine it, so
        :class:`~sklearn.model_selection.GridSearchCV` compares models, not
        objectives, without labels. Computed in eval mode (the latent mean,
        no sampling).

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        with torch_threads(self.n_threads):
            return self._score(X, self._prepare(X, fitting=False, state=None), y)

    #: The loss terms :meth:`score` reads: unweighted reconstruction errors,
    #: each divided by ``reconstruction_scale_[term]`` (the variance of what
    #: it rebuilds, in the training data). Empty: minus the objective, less
    #: the terms of ``_transductive_terms``.
    _score_terms: tuple = ()
    #: Loss terms that do not depend on the rows scored (e.g. a column
    #: autoencoder over the training columns).
    _transductive_terms: tuple = ()

    def _score(self, X: pd.DataFrame, data: dict, y) -> float:
        if isinstance(data, PreparedData):  # the decoders score the fitted vocabulary only
            data = data.known_tokens()
        terms = self.net_.evaluate_terms(TensorDict(data))
        if self._score_terms:
            scale = self.reconstruction_scale_
            return -float(np.mean([terms[t] / scale[t] for t in self._score_terms]))
        return -(terms["loss"] - sum(terms.get(t, 0.0) for t in self._transductive_terms))

    def _encode_batch(self, module, batch) -> torch.Tensor:
        """The embedding of one batch of prepared tensors."""
        raise NotImplementedError

    def _encode(self, data: dict) -> np.ndarray:
        """Batched, gradient-free encoding of prepared data to float32."""
        check_is_fitted(self, "net_")
        with torch_threads(self.n_threads), self._unseen_words(data):
            return self._encode_batches(data)

    def _encode_batches(self, data: dict) -> np.ndarray:
        net = self.net_
        module = net.module_
        module.eval()
        out = np.empty((len(next(iter(data.values()))), self.n_components), dtype=np.float32)
        loader = self._batches(data, max(self.batch_size, 256))
        start = 0
        with torch.inference_mode():
            for batch, _ in loader:
                z = self._encode_batch(module, net.to_device(batch))
                out[start: start + len(z)] = z.float().cpu().numpy()
                start += len(z)
        return out


class NeuralClassifier(ClassifierMixin, NeuralEstimator):
    """Base class of the torch classifiers (not for direct use).

    Labels are encoded by a :class:`~sklearn.preprocessing.LabelEncoder`
    (``classes_``); with ``validation_fraction`` training stops early when the
    validation loss stops improving for ``patience`` epochs, keeping the
    weights of the best epoch.
    """

    _seed_names = ("torch", "shuffle", "word")
    _supervised = True

    def _targets(self, y, state: dict) -> dict:
        encoder = LabelEncoder().fit(y)
        state["label_encoder_"] = encoder
        state["classes_"] = encoder.classes_
        state["n_classes"] = len(encoder.classes_)
        return {"y": torch.from_numpy(encoder.transform(y).astype(np.int64))}

    def _callbacks(self, state: dict) -> list:
        if not self.validation_fraction:
            return []
        return [("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.patience,
                                                 load_best=True, sink=self._sink))]

    def _sink(self, *args, **kwargs):
        if self.verbose:
            print(*args, **kwargs)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on the rows of ``X`` and the labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per item with the columns the classifier reads.
        y : array-like of shape (n_samples,)
            Class labels (any hashable values).

        Returns
        -------
        self

        Raises
        ------
        skmm.exceptions.MissingColumnError
            A column is missing.
        skmm.exceptions.InvalidRowsError
            Some rows hold an unusable image or text; the message names the
            column, the row labels and the reason. Nothing is trained and a
            previously fitted state is kept.
        ValueError
            ``y`` has the wrong length, missing labels or a single class, or
            the validation split leaves no rows.
        skmm.exceptions.NonFiniteLossError
            The loss became NaN or infinite (a previous fit is kept).
        """
        self._fit(X, y)
        return self

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        data = self._prepare(X, fitting=False, state=None)
        net = self.net_
        module = net.module_.eval()
        chunks = []
        with torch_threads(self.n_threads), self._unseen_words(data), torch.inference_mode():
            for batch, _ in self._batches(data, max(self.batch_size, 256)):
                chunks.append(module(**net.to_device(batch)).float().cpu())
        return torch.cat(chunks)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float32
            Columns in the order of ``classes_``.
        """
        return torch.softmax(self._logits(X), dim=1).numpy()

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self, "net_")
        return self.classes_[self._logits(X).argmax(dim=1).numpy()]
