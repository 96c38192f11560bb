"""The encoders of an embedder: resolved once per fit, run on their columns.

:class:`EncoderMixin` gives an embedder the parameters that hold encoders
(``image_encoder``, ``text_encoder``; the common space's per modality): each
is resolved once per fit by :func:`skmm.encoders._base.resolve_encoder` (a
shortcut string becomes its encoder object, an object is cloned), validated,
checked against what the embedder acts on
(:func:`~skmm.encoders._base.check_reads`), its ``"auto"`` settings resolved,
and kept as the fitted ``<parameter>_``. A frozen tower (:class:`ImageTower`,
:class:`TextTower`) is fitted on its column and its features are
standardised on the training rows (one rule for every fixed vector:
:meth:`EncoderMixin._vectors`). For a :class:`~skmm.encoders.ModuleEncoder`:

- ``fit`` works on a deep copy of the module (wrapped in an
  :class:`~skmm.nn.encoders.ImageFeatureEncoder`), never on the instance
  given, which ``clone`` deep-copies like any other non-estimator parameter;
- frozen (the default), the copy's features of every training image are
  computed once, in batches, on the training device
  (:func:`skmm.training.features.compute_features`), and cached in the
  training data; ``transform`` runs the same encoder batch by batch;
- fine-tuned, the copy trains at its own learning rate (a skorch parameter
  group);
- a module that fails is reported as the user's module failing
  (:class:`~skmm.exceptions.EncoderError`): before training, the copy is
  run on a probe batch of the real prepared images (the first
  :data:`PROBE_ROWS` rows), frozen features are checked for non-finite
  values row by row, and ``transform`` / ``score`` probe the fitted copy
  before embedding. The message names ``image_encoder``, the estimator, the
  module's class, the batch it was given and the original error (its
  ``__cause__``).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler

from skmm import _params
from skmm._base import sample_rows
from skmm.encoders._base import check_reads, encoder_role
from skmm.encoders._resolve import resolve_encoder
from skmm.exceptions import MAX_TEXT_CHARS, EncoderError, format_rows, shorten
from skmm.inputs.checks import load_vectors
from skmm.inputs.images import as_size
from skmm.nn.encoders import ImageFeatureEncoder
from skmm.towers.features import image_module
from skmm.training import PreparedData, unwrap
from skmm.training.features import (
    PortableModule,
    compute_features,
    image_feature_patterns,
)

__all__ = ["PROBE_ROWS", "EncoderMixin", "describe_batch", "vector_variance"]

#: How many images a user's module is first run on (the probe batch).
PROBE_ROWS = 2
#: What a user's image module must do, said in its errors.
_CONTRACT = ("image_encoder must map float RGB images (N, 3, H, W) with values in [0, 1] "
             "to features (N, D)")


def describe_batch(images) -> str:
    """The batch a user's module is given, as a message says it.

    Parameters
    ----------
    images : torch.Tensor
        uint8 (N, C, H, W) pixels, as prepared; the module receives them as
        float32 in [0, 1] (:func:`skmm.nn.encoders.as_float_image`).

    Returns
    -------
    str
        Shape, dtype and value range, e.g. ``"a batch of shape (2, 3, 16,
        16), dtype torch.float32, values in [0, 0.98]"``.
    """
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    if images.numel():
        low, high = float(images.min()) / scale, float(images.max()) / scale
        values = f", values in [{low:.3g}, {high:.3g}]"
    else:
        values = ""
    return f"a batch of shape {tuple(images.shape)}, dtype {torch.float32}{values}"


class _ReportErrors(torch.nn.Module):
    """Runs an encoder around a user's module; any exception becomes an EncoderError."""

    def __init__(self, encoder, report):
        super().__init__()
        self.encoder = encoder
        self.report = report
        self.training = encoder.training  # so that compute_features restores the encoder's mode

    def forward(self, images):
        try:
            return self.encoder(images)
        except EncoderError:
            raise
        except Exception as err:
            raise self.report(images, err) from err


def vector_variance(vectors) -> float:
    """The variance of the values of precomputed vectors (sampled rows)."""
    return max(float(np.var(sample_rows(vectors).astype(np.float64))), 1e-12)


class EncoderMixin:
    """The encoder parameters of an embedder (see the module's docstring).

    An embedder declares :meth:`_encoder_rules`; the resolved encoders are
    read with :meth:`_encoder` (in a fit, the fit's; else the fitted ones).
    """

    @classmethod
    def _encoder_rules(cls) -> dict:
        """``{parameter: (modality, {encoder class or str: what it acts on})}``.

        ``str`` stands for ``"passthrough"``; "what it acts on" is a tuple of
        the encoder's parameter names, or ``"all"``.
        """
        return {}

    def _resolve_encoder(self, value, modality: str, rules: dict, parameter: str):
        """``value`` as a new encoder object, validated and with its "auto" resolved."""
        encoder = resolve_encoder(value, modality, allowed=tuple(rules), estimator=self,
                                  parameter=parameter)
        if isinstance(encoder, str):
            return encoder
        encoder._validate_params()
        check_reads(encoder, rules[type(encoder)], estimator=self, parameter=parameter)
        if hasattr(encoder, "resolve_auto"):
            encoder.resolve_auto()
        return encoder

    def _resolve_auto(self) -> dict:
        resolved = super()._resolve_auto()
        for parameter, (modality, rules) in self._encoder_rules().items():
            resolved[f"{parameter}_"] = self._resolve_encoder(getattr(self, parameter),
                                                              modality, rules, parameter)
        return resolved

    def _encoder(self, parameter: str = "image_encoder"):
        """The resolved encoder of ``parameter``: the fit's in a fit, else the fitted one."""
        return self._resolved(parameter)

    @staticmethod
    def _role(encoder) -> str:
        """``"tower"``, ``"cnn"``, ``"module"``, ``"words"``, ``"matrix"`` or ``"vector"``."""
        return encoder_role(encoder)

    def _image_input(self, encoder=None) -> str:
        """How the image enters the model: ``"cnn"``, ``"module"``, ``"vector"`` or
        ``"tower"`` (``encoder``: by default the resolved ``image_encoder``)."""
        return self._role(self._encoder("image_encoder") if encoder is None else encoder)

    def _auto_steps(self) -> int | None:
        """The optimiser steps of the ``max_epochs="auto"`` cap:
        :data:`~skmm._params.AUTO_VECTOR_STEPS` when every column enters as
        fixed vectors (frozen towers or precomputed), else None (the default
        cap)."""
        roles = {self._role(self._encoder(p)) for p in self._encoder_rules()}
        return _params.AUTO_VECTOR_STEPS if roles <= {"vector", "tower"} else None

    @staticmethod
    def _image_size(encoder) -> tuple | None:
        """The (height, width) a trained CNN or a module reads images at, else None."""
        size = getattr(encoder, "image_size", None)
        return as_size(size) if encoder_role(encoder) in ("cnn", "module") else None

    @staticmethod
    def _image_module(encoder) -> torch.nn.Module:
        """A new copy of the module of a :class:`~skmm.encoders.ModuleEncoder`."""
        if isinstance(encoder.module, str):
            return image_module(encoder.module)
        return copy.deepcopy(encoder.module)

    def _feature_device(self):
        return self._resolved("device")  # the accelerator's, with one

    def _adopt_tower(self, tower, column):
        """Fit the resolved ``tower`` (in place) on ``column``; returns it.

        The tower reads the embedder's column: a ``column`` of its own that
        differs raises. Its infrastructure settings left at their defaults
        follow the embedder's (device, precision, threads, verbosity).
        """
        if hasattr(tower, "column_"):
            return tower
        if tower.column is not None and tower.column != column:
            raise ValueError(f"{type(self).__name__}: {type(tower).__name__}(column="
                             f"{tower.column!r}) reads another column than the embedder's "
                             f"{column!r}; leave the tower's column=None")
        params, own = {"column": column}, tower.get_params(deep=False)
        inherit = {"device": ("auto", self._feature_device()),
                   "precision": ("auto", getattr(self, "precision", "auto")),
                   "n_threads": (None, self.n_threads), "verbose": (0, self.verbose)}
        for name, (default, value) in inherit.items():
            if name in own and own[name] == default:
                params[name] = value
        tower.set_params(**params)
        tower._validate_params()
        return tower._fit_column(column)

    def _tower_scalers(self, state: dict | None) -> dict:
        """The standardisation of each towered column: new in ``state`` when fitting
        (``tower_scalers_``), else the fitted one."""
        if state is not None:
            return state.setdefault("tower_scalers_", {})
        return self.tower_scalers_

    def _vectors(self, values, *, column, length=None, tower=None,
                 scalers: dict | None = None) -> np.ndarray:
        """A column's vectors: precomputed in the cells, or a frozen tower's features.

        ``tower`` is a resolved :class:`~skmm.encoders.ImageTower` or
        :class:`~skmm.encoders.TextTower` (fitted on the column here if it
        is not yet, :meth:`_adopt_tower`); its features of each cell are
        computed once per process (:data:`skmm.towers.feature_cache`) and
        standardised by the ``StandardScaler`` of the column in ``scalers``
        (fitted on these rows and added when it is not there). A tower's
        features differ in scale by orders of magnitude from one dimension
        to the next; standardised, every dimension counts in the
        reconstruction terms (measured in the user guide's "Pretrained
        towers").
        """
        if tower is None:
            return load_vectors(values, column=column, length=length)
        features = self._adopt_tower(tower, column).transform(values.rename(column))
        if scalers is None:
            return features
        if column not in scalers:
            scalers[column] = StandardScaler().fit(features)
        return scalers[column].transform(features).astype(np.float32)

    def _image_feature_encoder(self, images, image_shape, data: dict, key: str,
                               mask=None, encoder=None) -> ImageFeatureEncoder:
        """A copy of the user's module as an image encoder, ready for training.

        The copy is first run on a probe batch of ``images`` (uint8, or a
        lazy column): the first :data:`PROBE_ROWS` rows where ``mask`` is
        True, which also gives the width of its features. Frozen, the
        features of every row are then computed here and put in
        ``data[key]`` (zeros where ``mask`` is False), checked for
        non-finite values; the rows are named by ``data.rows`` (the row
        labels, see :meth:`_labelled`) where ``data`` has them.

        Raises
        ------
        skmm.exceptions.EncoderError
            The module raised on the probe batch or on a batch of rows,
            returned no (N, D) tensor, or returned NaN or infinite values.
        """
        spec = self._encoder("image_encoder") if encoder is None else encoder
        fine_tune = bool(spec.fine_tune)
        encoder = ImageFeatureEncoder(self._image_module(spec), fine_tune=fine_tune)
        where = (f"column {self.image_col!r}" if key == "image_features"
                 and hasattr(self, "image_col") else f"modality {key.rpartition('__')[0]!r}")
        device = self._feature_device()
        probe = self._probe(encoder, images, mask, where=where, device=device)
        if fine_tune:
            if probe is None:
                raise ValueError(f"{where} has no image to run image_encoder on")
            encoder.out_features = int(probe.shape[1])
            return encoder
        features = self._frozen_features(encoder, images, mask,
                                         rows=getattr(data, "rows", None), where=where)
        encoder.out_features = int(features.shape[1])
        data[key] = features
        return encoder

    def _frozen_features(self, encoder, images, mask=None, *, rows=None,
                         where: str = "") -> torch.Tensor:
        """The features of every row of ``images`` by a frozen ``encoder`` (zeros where
        ``mask`` is False), computed in batches on the training device.

        A row whose features are not finite raises an
        :class:`~skmm.exceptions.EncoderError` naming its label in ``rows``
        (its position when ``rows`` is None).
        """
        loader = self._batches({"image": images}, max(self.batch_size, 256))
        features = compute_features(self._reporting(encoder, where),
                                    (batch["image"] for batch, _ in loader),
                                    device=self._feature_device())
        bad = ~torch.isfinite(features).all(dim=1)
        if mask is not None:
            present = torch.as_tensor(mask, dtype=torch.bool)
            features[~present] = 0.0
            bad &= present
        if bad.any():
            positions = np.flatnonzero(bad.numpy())
            labels = (positions.tolist() if rows is None
                      else pd.Index(rows)[positions].tolist())
            named = "rows at positions" if rows is None else "rows"
            raise EncoderError(
                f"{self._module_prefix(encoder, where)} returned non-finite values (NaN or "
                f"inf) for {len(positions)} of {len(features)} rows, {named} "
                f"{format_rows(labels)}; {_CONTRACT}, finite for every image",
                column=self._column_of(where), rows=labels)
        return features

    # ---- a user's module that fails ------------------------------------------
    def _module_prefix(self, encoder, where: str) -> str:
        backbone = getattr(encoder, "backbone", encoder)
        return (f"image_encoder of {type(self).__name__} ({where}): the module "
                f"{type(backbone).__name__}")

    @staticmethod
    def _column_of(where: str):
        return None if not where.startswith("column ") else where.partition(" ")[2].strip("'")

    def _reporting(self, encoder, where: str) -> _ReportErrors:
        """``encoder`` whose exceptions become :class:`~skmm.exceptions.EncoderError`."""
        def report(images, err):
            return EncoderError(
                f"{self._module_prefix(encoder, where)} failed on {describe_batch(images)}: "
                f"{type(err).__name__}: {shorten(err, MAX_TEXT_CHARS)} ({_CONTRACT})",
                column=self._column_of(where))
        return _ReportErrors(encoder, report)

    def _probe(self, encoder, images, mask=None, *, where: str, device) -> torch.Tensor:
        """Run ``encoder`` on the first :data:`PROBE_ROWS` rows of ``images`` (where
        ``mask`` is True); return its features (None without such a row), raising an
        EncoderError if it fails."""
        positions = (np.arange(len(images)) if mask is None
                     else np.flatnonzero(np.asarray(mask, dtype=bool)))[:PROBE_ROWS]
        if not len(positions):
            return None  # no image to run it on
        if isinstance(images, torch.Tensor):
            batch = images[torch.from_numpy(positions)]
        else:  # a lazy column: decodes these rows only
            batch = torch.from_numpy(np.ascontiguousarray(images[positions]))
        features = compute_features(self._reporting(encoder, where), [batch], device=device)
        if not torch.isfinite(features).all():
            raise EncoderError(
                f"{self._module_prefix(encoder, where)} returned non-finite values (NaN or "
                f"inf) for {describe_batch(batch)}; {_CONTRACT}, finite for every image",
                column=self._column_of(where))
        return features

    def _labelled(self, data: dict, X: pd.DataFrame, *, fitting: bool) -> PreparedData:
        """Prepared ``data`` with the row labels of ``X`` (``data.rows``), checked.

        Called at the end of ``_prepare``: the labels name the rows of a
        frozen module's non-finite features in fit; for a fitted embedder,
        its copies of the user's module are first probed on the new images
        (:meth:`_probe_fitted`).
        """
        if not isinstance(data, PreparedData):
            data = PreparedData(data)
        data.rows = X.index
        if not fitting:
            self._probe_fitted(data)
        return data

    def _probe_fitted(self, data: dict) -> None:
        """Run each fitted copy of a user's module on the first rows of its new images."""
        module = unwrap(self.net_.module_)
        branches = getattr(module, "branches", None)
        if branches is not None:  # the common space: one branch per modality
            found = [(f"{m}__", b.encoder, f"modality {m!r}") for m, b in branches.items()]
        else:
            found = [("", m, f"column {getattr(self, 'image_col', 'image')!r}")
                     for m in module.modules() if isinstance(m, ImageFeatureEncoder)][:1]
        for prefix, encoder, where in found:
            key, features = f"{prefix}image", f"{prefix or 'image_'}features"
            if not isinstance(encoder, ImageFeatureEncoder) or key not in data or features in data:
                continue  # no module, or its features are already computed
            mask = data.get(f"{prefix}mask")
            if mask is not None and not bool(torch.as_tensor(mask).any()):
                continue
            parameter = next(encoder.parameters(), None)
            device = parameter.device if parameter is not None else torch.device("cpu")
            self._probe(encoder, data[key], mask, where=where, device=device)

    def _image_encoders(self) -> list:
        """The resolved image encoders of the fit (or the fitted ones)."""
        return [self._encoder("image_encoder")]

    def _net_options(self, lazy: bool) -> dict:
        options = super()._net_options(lazy)
        tuned = [e for e in self._image_encoders()
                 if self._role(e) == "module" and e.fine_tune]
        if tuned:
            rates = {e.lr for e in tuned}
            if len(rates) > 1:
                raise ValueError(f"{type(self).__name__}: the fine-tuned ModuleEncoders have "
                                 f"different lr {sorted(rates, key=str)}; give them one")
            lr = rates.pop()
            options["optimizer__param_groups"] = image_feature_patterns(
                lr if lr is not None else self._learning_rate() / 10)
        return options

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("image_encoder"), torch.nn.Module):
            state = {**state, "image_encoder": PortableModule(state["image_encoder"])}
        return state
