"""A user's image module around training: features computed once, portable pickles.

A frozen image encoder (:class:`skmm.nn.encoders.ImageFeatureEncoder` around
the user's module) is run once per fit over every training image,
in batches, under ``torch.inference_mode``, on the training device
(:func:`compute_features`); the features are cached on the host as one float32
tensor, a column of the training data like any other, so that every epoch
costs what it costs with vector input. :func:`probe_features` finds the width
of a module that is fine-tuned instead (its features change every step).

:class:`PortableModule` pickles a module so that it loads on a machine
without CUDA even when it was saved from a GPU (the way skorch's nets
unpickle their own modules): the user's module held as a parameter follows
the fitted net to the CPU.
"""

from __future__ import annotations

import io
import pickle

import torch

__all__ = ["PortableModule", "compute_features", "image_feature_patterns", "probe_features"]


def compute_features(encoder: torch.nn.Module, batches, *, device) -> torch.Tensor:
    """The features of every image of ``batches``, as one float32 tensor on the CPU.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps a batch of uint8 images to (n, D) features; moved to ``device``
        and run in eval mode (its mode is restored afterwards).
    batches : iterable of torch.Tensor
        uint8 (n, C, H, W) image batches, in row order.
    device : str or torch.device
        Where the encoder runs.

    Returns
    -------
    torch.Tensor of shape (n_rows, D), float32
        A normal tensor (not an inference tensor): training may use it.
    """
    encoder.to(device)
    mode = encoder.training
    encoder.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for images in batches:
                chunks.append(encoder(images.to(device, non_blocking=True)).float().cpu())
    finally:
        encoder.train(mode)
    if not chunks:
        raise ValueError("no image to compute features of")
    return torch.cat(chunks)  # outside inference mode: a normal tensor


def probe_features(encoder: torch.nn.Module, image_shape, *, device) -> int:
    """The width D of an encoder's features, from two black images (eval mode, no gradient)."""
    encoder.to(device)
    mode = encoder.training
    encoder.eval()
    try:
        with torch.inference_mode():
            out = encoder(torch.zeros((2, *image_shape), dtype=torch.uint8, device=device))
    finally:
        encoder.train(mode)
    return int(out.shape[1])


def image_feature_patterns(lr: float) -> list:
    """skorch's ``optimizer__param_groups`` giving every user image module learning rate ``lr``.

    The user's module is the ``backbone`` of an
    :class:`~skmm.nn.encoders.ImageFeatureEncoder`, wherever it sits in the
    model (``*`` also matches the prefix of a compiled or distributed model).
    """
    return [("*backbone.*", {"lr": lr})]


def _map_location():
    return None if torch.cuda.is_available() else "cpu"


class _MappingUnpickler(pickle.Unpickler):
    """Unpickle with the tensors' storages loaded by ``torch.load(map_location=...)``."""

    def find_class(self, module, name):
        if module == "torch.storage" and name == "_load_from_bytes":
            location = _map_location()

            def load(b):
                return torch.load(io.BytesIO(b), map_location=location, weights_only=False)
            return load
        return super().find_class(module, name)


def _load(payload: bytes):
    return _MappingUnpickler(io.BytesIO(payload)).load()


class PortableModule:
    """A module that pickles to bytes loadable without CUDA.

    Unpickling it gives back the module itself: on its own devices where
    they exist, on the CPU when the pickle holds CUDA tensors and this
    machine has no GPU.
    """

    def __init__(self, module):
        self.module = module

    def __reduce__(self):
        return _load, (pickle.dumps(self.module, protocol=pickle.HIGHEST_PROTOCOL),)
