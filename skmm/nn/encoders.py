"""Encoders: a small VGG-style CNN for images, a user's image module, a recurrent net for
word vectors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from skmm.nn.embeddings import mean_word_vectors

RNN_TYPES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def as_float_image(image: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW pixels to float in [0, 1], on the tensor's own device."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image.float()


def conv_out_shape(channels: int, image_size: tuple[int, int],
                   n_blocks: int = 3) -> tuple[int, int, int]:
    """The (channels, height, width) after ``n_blocks`` 2x2 poolings of ``image_size``."""
    h, w = image_size
    shape = (channels, h >> n_blocks, w >> n_blocks)
    if min(shape[1:]) < 1:
        raise ValueError(f"image_size {tuple(image_size)} is too small for {n_blocks} poolings "
                         f"(needs at least {2 ** n_blocks} pixels a side)")
    return shape


class ConvEncoder(nn.Module):
    """``n_blocks`` x (conv 3x3 + ReLU + max-pool 2x2), flattened.

    Parameters
    ----------
    in_channels : int
        3 for RGB, 1 for grey images.
    image_size : (int, int)
        Height and width of the input.
    channels : int
        Filters of every conv layer.
    n_blocks : int, default=3
    """

    def __init__(self, in_channels: int, image_size: tuple[int, int], channels: int,
                 n_blocks: int = 3):
        super().__init__()
        layers, c = [], in_channels
        for _ in range(n_blocks):
            layers += [nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c = channels
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_shape = conv_out_shape(channels, image_size, n_blocks)
        self.out_features = channels * self.out_shape[1] * self.out_shape[2]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(as_float_image(image))


def as_features(output, n: int) -> torch.Tensor:
    """A user module's output for ``n`` images as float (n, D) features.

    Any dimensions after the first are flattened (a backbone that ends in a
    pooling layer returns (n, D, 1, 1)).
    """
    if not isinstance(output, torch.Tensor) or output.dim() < 2 or len(output) != n:
        got = (f"a tensor of shape {tuple(output.shape)}" if isinstance(output, torch.Tensor)
               else f"a {type(output).__name__}")
        raise ValueError(f"image_encoder must map a batch of images (N, 3, H, W) to features "
                         f"(N, D); for N={n} it returned {got}")
    return output.reshape(n, -1).float()


class ImageFeatureEncoder(nn.Module):
    """A user's module as the image encoder: RGB in [0, 1] to (N, D) features.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps float images (N, 3, H, W) in [0, 1] to (N, D) features (any
        normalisation it needs, e.g. ImageNet's mean and std, is its own).
        Owned by this encoder: pass a copy of the user's instance.
    out_features : int or None
        D, when known (set it later otherwise).
    fine_tune : bool, default=False
        False: the backbone is frozen (``requires_grad`` False, always in
        eval mode, whatever the mode of the model around it). True: it
        trains with the rest, the parameters that required a gradient
        when it was given (the others stay frozen), and follows the model's
        train/eval mode.
    """

    def __init__(self, backbone: nn.Module, out_features: int | None = None, *,
                 fine_tune: bool = False):
        super().__init__()
        self.backbone = backbone
        self.out_features = out_features
        self.fine_tune = fine_tune
        self.tunable = tuple(name for name, p in backbone.named_parameters()
                             if fine_tune and p.requires_grad)
        backbone.requires_grad_(False)
        self.set_trainable(True)
        backbone.eval()

    def set_trainable(self, trainable: bool) -> None:
        """Let the tunable parameters train (``trainable``) or freeze them all."""
        tunable = set(self.tunable)
        for name, p in self.backbone.named_parameters():
            p.requires_grad_(trainable and name in tunable)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.fine_tune:
            self.backbone.eval()
        return self

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return as_features(self.backbone(as_float_image(image)), len(image))


class RecurrentTextEncoder(nn.Module):
    """A stacked (bi)directional RNN/LSTM/GRU over frozen word vectors.

    Parameters
    ----------
    embedding : torch.nn.Embedding
        Frozen word vectors, row 0 the zero padding vector.
    rnn : {"rnn", "lstm", "gru"}
    hidden_size, num_layers : int
    bidirectional : bool
    mean_pooling : bool, default=False
        Also return the mean of the text's word vectors (padding excluded)
        after the recurrent state: a linear path that keeps where the text
        lies in the vectors' space.

    Notes
    -----
    Sequences are packed, so padding never enters the recurrence; the output is
    the last layer's final hidden state of each direction, concatenated.
    """

    def __init__(self, embedding: nn.Embedding, rnn: str, hidden_size: int, num_layers: int,
                 bidirectional: bool, mean_pooling: bool = False):
        super().__init__()
        self.embedding = embedding
        self.rnn = RNN_TYPES[rnn](embedding.embedding_dim, hidden_size, num_layers=num_layers,
                                  bidirectional=bidirectional, batch_first=True)
        self.n_directions = 2 if bidirectional else 1
        self.mean_pooling = mean_pooling
        self.out_features = (hidden_size * self.n_directions
                             + (embedding.embedding_dim if mean_pooling else 0))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors = self.embedding(tokens)
        packed = pack_padded_sequence(vectors, lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, h = self.rnn(packed)
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        # h: (num_layers * directions, n, hidden): keep the last layer's directions
        state = list(h[-self.n_directions:])
        if self.mean_pooling:
            state.append(mean_word_vectors(vectors, lengths).to(state[0].dtype))
        return torch.cat(state, dim=1)
