"""The torch modules of the neural baselines over frozen tower features.

:class:`~skmm.baselines.ImageCNNClassifier` with ``image_encoder="efficientnet_lite0"``
trains :class:`FeatureClassifier` (the CNN's dense part over the tower's
features), and :class:`~skmm.baselines.LateFusionClassifier` with a tower on
either side trains :class:`BranchFusion`, whose image and text branches are
each either trained (the conv blocks, the LSTM) or the frozen features.

Plain torch modules, beside those of :mod:`skmm.nn.classifiers`: a batch comes as
keyword tensors (``image``, ``tokens``, ``lengths``, ``image_features``,
``text_features``) and the output is the class scores (logits);
:meth:`loss_terms` gives the cross-entropy against ``batch["y"]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from skmm.nn.classifiers import PixelScaling, conv_dense_blocks
from skmm.nn.embeddings import word_vector_table

__all__ = ["BranchFusion", "FeatureClassifier", "FeatureScaling", "feature_stats"]


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (1 where constant) of training features."""
    values = np.asarray(features, dtype=np.float64)
    mean, std = values.mean(axis=0), values.std(axis=0)
    std[std < 1e-8] = 1.0  # a feature constant on the training rows: left unscaled
    return mean.astype(np.float32), std.astype(np.float32)


class FeatureScaling(nn.Module):
    """Standardise feature vectors: ``(x - mean) / std`` per feature.

    Parameters
    ----------
    mean, std : array-like of shape (n_features,)
        The statistics of the training features, kept as buffers so that
        they travel with the module's state.
    key : str
        The batch entry read by :meth:`forward` when given the whole batch.
    """

    def __init__(self, mean, std, key: str):
        super().__init__()
        self.key = key
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, dtype=np.float32)))

    @property
    def out_features(self) -> int:
        return int(self.mean.numel())

    def forward(self, batch: dict) -> torch.Tensor:
        """The standardised features of ``batch[key]``."""
        return (batch[self.key].float() - self.mean) / self.std


def _cross_entropy(logits: torch.Tensor, batch: dict) -> dict:
    return {"loss": F.cross_entropy(logits.float(), batch["y"])}


class FeatureClassifier(nn.Module):
    """A dense classifier of frozen features: standardise, dense + ReLU + dropout, output.

    Parameters
    ----------
    mean, std : array-like of shape (n_features,)
        Statistics of the training features.
    hidden_size : int
        Units of the dense layer.
    dropout : float
        Dropout before the output layer.
    n_classes : int
    key : str, default="image_features"
        The batch entry holding the features.
    """

    def __init__(self, mean, std, hidden_size, dropout, n_classes, key="image_features"):
        super().__init__()
        self.scaling = FeatureScaling(mean, std, key)
        self.head = nn.Sequential(
            nn.Linear(self.scaling.out_features, hidden_size), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden_size, n_classes))

    def forward(self, **batch):
        """Class scores (n, n_classes)."""
        return self.head(self.scaling(batch))

    @staticmethod
    def loss_terms(logits, batch):
        """``loss``: the cross-entropy of the scores against ``batch["y"]``."""
        return _cross_entropy(logits, batch)


class CNNBranch(nn.Module):
    """The image branch of the late fusion, trained: conv 3x3 blocks and a dense layer.

    The same layers as :class:`skmm.nn.classifiers.LateFusion`'s image side:
    standardised pixels, conv 3x3 + ReLU + pool twice, dense + ReLU.
    """

    def __init__(self, image_shape, channels, dense_size, pixel_mean=0.0, pixel_std=1.0):
        super().__init__()
        self.scaling = PixelScaling(pixel_mean, pixel_std)
        self.cnn = conv_dense_blocks(image_shape, channels, dense_size)
        self.out_features = dense_size

    def forward(self, batch: dict) -> torch.Tensor:
        return self.cnn(self.scaling(batch["image"]))


class LSTMBranch(nn.Module):
    """The text branch of the late fusion, trained: token embedding and an LSTM.

    The same layers as :class:`skmm.nn.classifiers.LateFusion`'s text side:
    a trainable embedding initialised from word vectors, an LSTM over packed
    sequences, its last hidden state.
    """

    def __init__(self, vectors, hidden_size):
        super().__init__()
        self.embedding = word_vector_table(vectors, trainable=True, zero_specials=False)
        self.lstm = nn.LSTM(self.embedding.embedding_dim, hidden_size, batch_first=True)
        self.out_features = hidden_size

    def forward(self, batch: dict) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(batch["tokens"]), batch["lengths"].cpu(),
                                      batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]


class BranchFusion(nn.Module):
    """Late fusion of an image branch and a text branch, fused at the output.

    Each branch maps the batch to features (:class:`CNNBranch`,
    :class:`LSTMBranch`, or :class:`FeatureScaling` of frozen tower
    features); they are concatenated, passed through dropout, an optional
    dense ReLU layer, and the output layer, as in
    :class:`skmm.nn.classifiers.LateFusion`.

    Parameters
    ----------
    image, text : torch.nn.Module
        The branches; each has ``out_features``.
    dropout : float
    n_classes : int
    fusion_size : int or None, default=None
    """

    def __init__(self, image, text, dropout, n_classes, fusion_size=None):
        super().__init__()
        self.image = image
        self.text = text
        self.dropout = nn.Dropout(dropout)
        width = image.out_features + text.out_features
        if fusion_size:
            self.fusion = nn.Sequential(nn.Linear(width, fusion_size), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout))
            width = fusion_size
        else:
            self.fusion = nn.Identity()
        self.out = nn.Linear(width, n_classes)

    def forward(self, **batch):
        """Class scores (n, n_classes)."""
        fused = torch.cat([self.text(batch), self.image(batch)], dim=1)
        return self.out(self.fusion(self.dropout(fused)))

    @staticmethod
    def loss_terms(logits, batch):
        """``loss``: the cross-entropy of the scores against ``batch["y"]``."""
        return _cross_entropy(logits, batch)
