"""What every skmm embedder shares: seeding, device, the net, batched transform."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import ProgressBar

from skmm.exceptions import InvalidRowsError
from skmm.inputs import ImageColumn, check_columns, check_frame, check_images, load_images
from skmm.inputs.frame import _set_input_features as set_input_features
from skmm.training import (
    AcceleratedMultimodalNet,
    MultimodalNet,
    RandomSplit,
    SliceLoader,
    TensorDict,
    WorkerLoader,
    resolve_device,
    torch_seed,
)

#: Default ``memory_budget``: decoded images above this many bytes are streamed
#: (with ``cache="auto"``).
DEFAULT_MEMORY_BUDGET = 4 * 2**30

#: Parameter constraints of the scaling options (``cache``, ``memory_budget``,
#: ``num_workers``, ``accelerator``, ``channels_last``, ``compile``) that the
#: embedders share.
SCALING_CONSTRAINTS = {
    "cache": [StrOptions({"auto", "memory", "none"})],
    "memory_budget": [Interval(Integral, 0, None, closed="left"), None],
    "num_workers": [Interval(Integral, 0, None, closed="left")],
    "accelerator": [HasMethods(["prepare", "backward"]), None],
    "channels_last": ["boolean"],
    "compile": ["boolean", dict],
}


def collect_problems(*checks) -> None:
    """Run input checks, each a callable that may raise InvalidRowsError.

    Every check runs, so one error lists the problems of all columns at once.
    """
    reports = []
    for check in checks:
        try:
            check()
        except InvalidRowsError as err:
            reports.append(err.report)
    if reports:
        raise InvalidRowsError(pd.concat(reports, ignore_index=True))


class BaseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the skmm embedders (not for direct use).

    Subclasses implement ``_columns()`` (the columns they read),
    ``_build_module(data, seed)`` and ``_encode_batch(module, batch)``, and
    prepare data with ``_prepare(X, fitting)`` into a dict of tensors.
    """

    # ---- sklearn plumbing ------------------------------------------------
    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = self.random_state is None
        return tags

    def _check_X(self, X, *, fitted: bool = False) -> pd.DataFrame:
        """Check X is a DataFrame with rows and with the columns the model reads."""
        X = check_frame(X)
        check_columns(X, self._columns(), context="it was used in fit" if fitted else "")
        if len(X) == 0:
            raise ValueError("X has no rows")
        return X

    def _set_input_features(self, X: pd.DataFrame) -> None:
        set_input_features(self, X)

    # ---- training --------------------------------------------------------
    def _seeds(self):
        """Independent integer seeds for word vectors, torch and shuffling."""
        rng = check_random_state(self.random_state)
        return [int(s) for s in rng.randint(0, 2**31 - 1, size=3)]

    #: Seed torch inside a block, leaving the caller's global RNG state untouched.
    _torch_seed = staticmethod(torch_seed)

    # ---- data larger than memory -----------------------------------------
    def _streams(self, n_bytes: int) -> bool:
        """Whether images of ``n_bytes`` decoded are streamed instead of cached."""
        cache = getattr(self, "cache", "memory")
        if cache == "none":
            return True
        budget = getattr(self, "memory_budget", None)
        return cache == "auto" and budget is not None and n_bytes > budget

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
        report = check_images(cells, column=column, mode=mode, size=size)
        if len(report):
            raise InvalidRowsError(report)
        return lazy

    def _loader_kwargs(self, prefix: str, lazy: bool) -> dict:
        if not lazy:
            return {prefix: SliceLoader}
        return {prefix: WorkerLoader,
                f"{prefix}__num_workers": getattr(self, "num_workers", 2)}

    def _batches(self, data: dict, batch_size: int):
        """An inference loader over prepared ``data``: worker processes if it streams."""
        dataset = TensorDict(data)
        if dataset.lazy:
            return WorkerLoader(dataset, batch_size=batch_size,
                                num_workers=getattr(self, "num_workers", 2))
        return SliceLoader(dataset, batch_size=batch_size)

    def _gpu_options(self) -> dict:
        """The net's ``channels_last`` and ``compile`` (``compile__*``) parameters."""
        compile_ = getattr(self, "compile", False)
        options = {"channels_last": getattr(self, "channels_last", False),
                   "compile": compile_ is True or isinstance(compile_, dict)}
        if isinstance(compile_, dict):
            options.update({f"compile__{k}": v for k, v in compile_.items()})
        return options

    # ---- the net ---------------------------------------------------------
    def _make_net(self, module, shuffle_seed: int, *, lazy: bool = False, train_split=None,
                  **kwargs) -> MultimodalNet:
        """The skorch net of ``module``; ``train_split`` replaces the random
        hold-out of ``validation_fraction`` (e.g. a :class:`FixedSplit`)."""
        generator = torch.Generator().manual_seed(shuffle_seed)
        split = train_split
        if split is None and self.validation_fraction:
            split = RandomSplit(self.validation_fraction, seed=shuffle_seed + 1)
        callbacks = [("progress_bar", ProgressBar())] if self.verbose >= 2 else []
        accelerator = getattr(self, "accelerator", None)
        if accelerator is None:
            cls = MultimodalNet
            placement = {"device": resolve_device(self.device),
                         "autocast": "bf16" if self.precision == "bf16" else None}
        else:  # device and mixed precision are the accelerator's
            cls = AcceleratedMultimodalNet
            placement = {"accelerator": accelerator, "device": None}
        return cls(
            module,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            train_split=split,
            callbacks=callbacks,
            verbose=self.verbose,
            **self._loader_kwargs("iterator_train", lazy),
            **self._loader_kwargs("iterator_valid", lazy),
            **placement,
            **self._gpu_options(),
            **kwargs,
        )

    def _fit_net(self, module, data: dict, shuffle_seed: int, torch_seed: int, *,
                 train_split=None) -> MultimodalNet:
        """Build the net (see :meth:`_make_net`) and train it on ``data``, seeded."""
        net = self._make_net(module, shuffle_seed, lazy=TensorDict(data).lazy,
                             train_split=train_split)
        with self._torch_seed(torch_seed):
            net.initialize()
            net.partial_fit(TensorDict(data))
        return net

    # ---- inference -------------------------------------------------------
    def _encode(self, data: dict) -> np.ndarray:
        """Batched, gradient-free encoding of prepared data to float32."""
        check_is_fitted(self, "net_")
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

    def fit(self, X, y=None):
        """Train the model on the rows of ``X`` (``y`` is ignored); return self."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then embed the training rows without decoding them a second time."""
        return self._encode(self._fit(X))

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
        return self._encode(self._prepare(X, fitting=False))

    def score(self, X, y=None):
        """Negative mean training objective on ``X`` (higher is better).

        Lets :class:`~sklearn.model_selection.GridSearchCV` tune the model
        without labels. Computed in eval mode (latent mean, no sampling).
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        data = self._prepare(X, fitting=False)
        return -self.net_.evaluate_terms(TensorDict(data))["loss"]

    @property
    def history_(self):
        """The skorch History of the last fit: one dict per epoch with each loss term."""
        check_is_fitted(self, "net_")
        return self.net_.history
