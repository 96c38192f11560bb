"""The torch modules of the neural baselines' branches and of their late fusion.

:class:`~skmm.baselines.ImageCNNClassifier` over a pretrained tower trains
:class:`FeatureClassifier` (the CNN's dense part over the tower's features),
and :class:`~skmm.baselines.LateFusionClassifier` trains :class:`BranchFusion`,
whose image and text branches are each either trained (:class:`CNNBranch`,
:class:`RecurrentBranch`) or a tower's frozen features (:class:`FeatureScaling`).

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

from skmm.nn.classifiers import PixelScaling, conv_dense_blocks
from skmm.nn.embeddings import word_vector_table
from skmm.nn.encoders import RecurrentTextEncoder

__all__ = ["BranchFusion", "CNNBranch", "FeatureClassifier", "FeatureScaling",
           "RecurrentBranch", "feature_stats"]


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

    Standardised pixels, conv 3x3 + ReLU + pool twice
    (:func:`~skmm.nn.classifiers.conv_dense_blocks`), dense + ReLU.

    Parameters
    ----------
    image_shape : (int, int, int)
        Channels, height, width.
    channels : (int, int)
        Filters of the two conv layers.
    dense_size : int
        Units of the dense layer (the branch's output).
    pixel_mean, pixel_std : float, default=0.0, 1.0
        Pixels (scaled to [0, 1]) are standardised with these first.
    """

    def __init__(self, image_shape, channels, dense_size, pixel_mean=0.0, pixel_std=1.0):
        super().__init__()
        self.scaling = PixelScaling(pixel_mean, pixel_std)
        self.cnn = conv_dense_blocks(image_shape, channels, dense_size)
        self.out_features = dense_size

    def forward(self, batch: dict) -> torch.Tensor:
        return self.cnn(self.scaling(batch["image"]))


class RecurrentBranch(nn.Module):
    """The text branch of the late fusion, trained: a word-vector table and a recurrent net.

    Token ids read a table initialised from word vectors (only the padding
    row 0 gets no gradient: ``<unk>`` trains with the words); a recurrent
    net (:class:`skmm.nn.encoders.RecurrentTextEncoder`) reads the packed
    sequences, and its last layer's final state of each direction
    (followed, with ``mean_pooling``, by the mean of the word vectors) is
    the branch's output. At ``cell="lstm"``, one layer, one direction, it is
    the classic late fusion's LSTM.

    Parameters
    ----------
    vectors : array-like of shape (vocabulary_size, dim)
        Initial word vectors, row 0 for padding.
    cell : {"rnn", "lstm", "gru"}
    hidden_size, num_layers : int
    bidirectional : bool
    mean_pooling : bool, default=False
    fine_tune : bool, default=True
        Train the table with the rest; frozen otherwise.
    """

    def __init__(self, vectors, cell, hidden_size, num_layers=1, bidirectional=False,
                 mean_pooling=False, fine_tune=True):
        super().__init__()
        table = word_vector_table(vectors, trainable=fine_tune, zero_specials=False)
        self.encoder = RecurrentTextEncoder(table, cell, hidden_size, num_layers, bidirectional,
                                            mean_pooling)
        self.out_features = self.encoder.out_features

    @property
    def embedding(self) -> nn.Embedding:
        """The word-vector table."""
        return self.encoder.embedding

    def forward(self, batch: dict) -> torch.Tensor:
        return self.encoder(batch["tokens"], batch["lengths"])


class BranchFusion(nn.Module):
    """Late fusion of an image branch and a text branch, fused at the output.

    Each branch maps the batch to features (:class:`CNNBranch`,
    :class:`RecurrentBranch`, or :class:`FeatureScaling` of frozen tower
    features); the text's and the image's are concatenated, passed through
    dropout, an optional dense ReLU layer (and dropout), and the output layer.

    Parameters
    ----------
    image, text : torch.nn.Module
        The branches; each has ``out_features``.
    dropout : float
        Dropout on the concatenated features (and after the fusion layer).
    n_classes : int
    fusion_size : int or None, default=None
        Width of a dense ReLU layer over the concatenation; ``None`` maps it
        straight to the class scores (text and image scores add up).
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
