"""The ``image_encoder`` parameters of the embedders: a user's pretrained image module.

:class:`ImageEncoderMixin` gives an embedder ``image_encoder`` (``"cnn"``, a
``torch.nn.Module``, and for the autoencoders ``"vectors"``),
``fine_tune_image_encoder`` and ``image_encoder_lr``:

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
import torch

from skmm._base import sample_rows
from skmm.nn.encoders import ImageFeatureEncoder
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
        """``"cnn"``, ``"module"`` or ``"vectors"``: what ``image_encoder`` asks for."""
        if isinstance(self.image_encoder, torch.nn.Module):
            return "module"
        return self.image_encoder

    def _feature_device(self):
        accelerator = getattr(self, "accelerator", None)
        if accelerator is not None:
            return accelerator.device
        return resolve_device(self.device)

    def _image_feature_encoder(self, images, image_shape, data: dict, key: str,
                               mask=None) -> ImageFeatureEncoder:
        """A copy of the user's module as an image encoder, ready for training.

        Frozen, the features of ``images`` (uint8, or a lazy column) are
        computed here and put in ``data[key]`` (zeros where ``mask`` is
        False); fine-tuned, the width of the features is probed.
        """
        fine_tune = bool(self.fine_tune_image_encoder)
        encoder = ImageFeatureEncoder(copy.deepcopy(self.image_encoder), fine_tune=fine_tune)
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
            lr = self.image_encoder_lr if self.image_encoder_lr is not None else self.lr / 10
            options["optimizer__param_groups"] = image_feature_patterns(lr)
        return options

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("image_encoder"), torch.nn.Module):
            state = {**state, "image_encoder": PortableModule(state["image_encoder"])}
        return state
