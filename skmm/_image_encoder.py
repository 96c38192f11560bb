"""The ``image_encoder`` parameters of the embedders: a user's module or a pretrained tower.

:class:`ImageEncoderMixin` gives an embedder ``image_encoder`` (``"cnn"``, a
``torch.nn.Module``, the tower ``"efficientnet_lite0"``, and for the
autoencoders ``"vectors"``), ``fine_tune_image_encoder`` and
``image_encoder_lr``, and reads the columns of vectors that a frozen tower
(image or text: :mod:`skmm.towers`) makes of a column, standardised on the
training rows (:meth:`ImageEncoderMixin._vectors`). For a module:

- ``fit`` works on a deep copy of the user's module (wrapped in an
  :class:`~skmm.nn.encoders.ImageFeatureEncoder`), never on the instance
  given, which ``clone`` deep-copies like any other non-estimator parameter;
- frozen (the default), the copy's features of every training image are
  computed once, in batches, on the training device
  (:func:`skmm.training.features.compute_features`), and cached in the
  training data; ``transform`` runs the same encoder batch by batch;
- fine-tuned, the copy trains at its own learning rate (a skorch parameter
  group);
- the estimator pickles its parameter so that it loads on a machine without
  CUDA (:class:`~skmm.training.features.PortableModule`), as the fitted net
  does.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler

from skmm._base import sample_rows
from skmm.inputs.checks import is_missing, load_vectors
from skmm.nn.encoders import ImageFeatureEncoder
from skmm.towers.features import (
    IMAGE_TOWERS,
    TEXT_TOWERS,
    image_module,
    image_tower_features,
    text_tower_features,
)
from skmm.training import resolve_device
from skmm.training.features import (
    PortableModule,
    compute_features,
    image_feature_patterns,
    probe_features,
)

__all__ = ["ImageEncoderMixin", "vector_variance"]


def vector_variance(vectors) -> float:
    """The variance of the values of precomputed vectors (sampled rows)."""
    return max(float(np.var(sample_rows(vectors).astype(np.float64))), 1e-12)


class ImageEncoderMixin:
    """``image_encoder``, ``fine_tune_image_encoder`` and ``image_encoder_lr``."""

    def _image_input(self) -> str:
        """``"cnn"``, ``"module"``, ``"vectors"`` or ``"tower"`` (a frozen pretrained
        tower): what ``image_encoder`` asks for. A fine-tuned tower is a module."""
        if isinstance(self.image_encoder, torch.nn.Module):
            return "module"
        if self.image_encoder in IMAGE_TOWERS:
            return "module" if self.fine_tune_image_encoder else "tower"
        return self.image_encoder

    def _image_tower(self) -> str | None:
        """The name of the frozen image tower, or None."""
        return self.image_encoder if self._image_input() == "tower" else None

    def _image_module(self) -> torch.nn.Module:
        """A new copy of the image module to train: the user's, or a tower's."""
        if isinstance(self.image_encoder, str):
            return image_module(self.image_encoder)
        return copy.deepcopy(self.image_encoder)

    def _feature_device(self):
        accelerator = getattr(self, "accelerator", None)
        if accelerator is not None:
            return accelerator.device
        return resolve_device(self.device)

    def _tower_scalers(self, state: dict | None) -> dict:
        """The standardisation of each towered column: new in ``state`` when fitting
        (``tower_scalers_``), else the fitted one."""
        if state is not None:
            return state.setdefault("tower_scalers_", {})
        return self.tower_scalers_

    def _vectors(self, values, *, column, length=None, tower=None,
                 scalers: dict | None = None) -> np.ndarray:
        """A column's vectors: precomputed in the cells, or a frozen tower's features.

        ``tower`` names an image tower (:data:`skmm.towers.IMAGE_TOWERS`) or a
        text tower (:data:`skmm.towers.TEXT_TOWERS`); its features of each
        cell are computed once per process (:data:`skmm.towers.feature_cache`)
        and standardised by the ``StandardScaler`` of the column in
        ``scalers`` (fitted on these rows and added when it is not there).
        A tower's features differ in scale by orders of magnitude from one
        dimension to the next; standardised, every dimension counts in the
        reconstruction terms (measured in the user guide's "Pretrained
        towers").
        """
        if tower is None:
            return load_vectors(values, column=column, length=length)
        if tower in TEXT_TOWERS:
            features = text_tower_features(values, tower=tower, column=column,
                                           n_threads=self.n_threads)
        else:
            features = image_tower_features(values, tower=tower, column=column,
                                             device=self._feature_device(),
                                             precision=self.precision,
                                             n_threads=self.n_threads, verbose=self.verbose)
        if scalers is None:
            return features
        if column not in scalers:
            scalers[column] = StandardScaler().fit(features)
        return scalers[column].transform(features).astype(np.float32)

    def _tower_frame(self, X, towers: dict, scalers: dict | None = None):
        """``X`` with the column of each ``{column: tower}`` replaced by the tower's vectors.

        A shallow copy; each cell becomes a float32 1-D array (standardised
        as in :meth:`_vectors`), and a missing cell stays missing, so the
        vector path of the model reads the column.
        """
        if not towers:
            return X
        X = X.copy(deep=False)
        for column, tower in towers.items():
            values = X[column]
            present = ~values.map(is_missing).to_numpy(dtype=bool)
            features = self._vectors(values[present], column=column, tower=tower,
                                     scalers=scalers)
            cells = np.empty(len(values), dtype=object)
            for i, vector in zip(np.flatnonzero(present), features):
                cells[i] = vector
            X[column] = pd.Series(cells, index=X.index, dtype=object)
        return X

    def _image_feature_encoder(self, images, image_shape, data: dict, key: str,
                               mask=None) -> ImageFeatureEncoder:
        """A copy of the user's module as an image encoder, ready for training.

        Frozen, the features of ``images`` (uint8, or a lazy column) are
        computed here and put in ``data[key]`` (zeros where ``mask`` is
        False); fine-tuned, the width of the features is probed.
        """
        fine_tune = bool(self.fine_tune_image_encoder)
        encoder = ImageFeatureEncoder(self._image_module(), fine_tune=fine_tune)
        device = self._feature_device()
        if fine_tune:
            encoder.out_features = probe_features(encoder, image_shape, device=device)
            return encoder
        features = self._frozen_features(encoder, images, mask)
        encoder.out_features = int(features.shape[1])
        data[key] = features
        return encoder

    def _frozen_features(self, encoder, images, mask=None) -> torch.Tensor:
        """The features of every row of ``images`` by a frozen ``encoder`` (zeros where
        ``mask`` is False), computed in batches on the training device."""
        loader = self._batches({"image": images}, max(self.batch_size, 256))
        features = compute_features(encoder, (batch["image"] for batch, _ in loader),
                                    device=self._feature_device())
        if mask is not None:
            features[~torch.as_tensor(mask, dtype=torch.bool)] = 0.0
        return features

    def _net_options(self, lazy: bool) -> dict:
        options = super()._net_options(lazy)
        if self._image_input() == "module" and self.fine_tune_image_encoder:
            lr = (self.image_encoder_lr if self.image_encoder_lr is not None
                  else self._learning_rate() / 10)
            options["optimizer__param_groups"] = image_feature_patterns(lr)
        return options

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("image_encoder"), torch.nn.Module):
            state = {**state, "image_encoder": PortableModule(state["image_encoder"])}
        return state
