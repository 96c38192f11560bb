"""The torch modules of the image CNN baseline (:class:`skmm.baselines.ImageCNNClassifier`).

:class:`ImageCNN` takes a batch of images (uint8 or float NCHW) and returns
class scores (logits); :meth:`~ImageCNN.loss_terms` gives the cross-entropy
against ``batch["y"]``. The late fusion's modules, whose image branch is
:func:`conv_dense_blocks`, are in :mod:`skmm.nn.tower_heads`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.encoders import as_float_image

__all__ = ["ImageCNN", "PixelScaling", "conv_dense_blocks"]


class PixelScaling(nn.Module):
    """uint8 (or float) NCHW pixels to ``(x / 255 - mean) / std``, on the device.

    Parameters
    ----------
    mean, std : float, default=0.0, 1.0
        The pixel mean and standard deviation (of pixels scaled to [0, 1])
        of the training images, kept as buffers so they travel with the
        module's state.
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The standardised float pixels of ``image``."""
        return (as_float_image(image) - self.mean) / self.std


def _cross_entropy(logits: torch.Tensor, batch: dict) -> dict:
    return {"loss": F.cross_entropy(logits.float(), batch["y"])}


class ImageCNN(nn.Module):
    """A two-layer CNN classifier of images.

    conv 5x5 + ReLU + max-pool 2x2, conv 5x5 + ReLU + max-pool 2x2, a dense
    layer + ReLU + dropout, and the output layer.

    Parameters
    ----------
    in_channels : int
        1 for grey images, 3 for RGB.
    image_size : (int, int)
        Height and width of the input.
    channels : (int, int)
        Filters of the two conv layers.
    hidden_size : int
        Units of the dense layer.
    dropout : float
        Dropout before the output layer.
    n_classes : int
        Outputs.
    pixel_mean, pixel_std : float, default=0.0, 1.0
        Pixels (scaled to [0, 1]) are standardised with these first.
    """

    def __init__(self, in_channels, image_size, channels, hidden_size, dropout, n_classes,
                 pixel_mean=0.0, pixel_std=1.0):
        super().__init__()
        self.scaling = PixelScaling(pixel_mean, pixel_std)
        h, w = image_size
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(c2 * (h // 4) * (w // 4), hidden_size), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden_size, n_classes))

    def forward(self, image, **_):
        """Class scores (n, n_classes) of a batch of images."""
        return self.head(self.features(self.scaling(image)))

    @staticmethod
    def loss_terms(logits, batch):
        """``loss``: the cross-entropy of the scores against ``batch["y"]``."""
        return _cross_entropy(logits, batch)


def conv_dense_blocks(image_shape, channels, dense_size) -> nn.Sequential:
    """The late fusion's image side: conv 3x3 + ReLU + pool twice, then dense + ReLU."""
    c, h, w = image_shape
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(c, c1, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * (h // 4) * (w // 4), dense_size), nn.ReLU(inplace=True))
