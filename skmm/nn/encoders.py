"""Encoders: a small VGG-style CNN for images, a recurrent net for word vectors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

RNN_TYPES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def as_float_image(image: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW pixels to float in [0, 1], on the tensor's own device."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image.float()


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
        h, w = image_size
        self.out_shape = (channels, h >> n_blocks, w >> n_blocks)
        if min(self.out_shape[1:]) < 1:
            raise ValueError(f"image_size {image_size} is too small for {n_blocks} poolings "
                             f"(needs at least {2 ** n_blocks} pixels a side)")
        self.out_features = channels * self.out_shape[1] * self.out_shape[2]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(as_float_image(image))


class RecurrentTextEncoder(nn.Module):
    """A stacked (bi)directional RNN/LSTM/GRU over frozen word vectors.

    Parameters
    ----------
    embedding : torch.nn.Embedding
        Frozen word vectors, row 0 the zero padding vector.
    rnn : {"rnn", "lstm", "gru"}
    hidden_size, num_layers : int
    bidirectional : bool

    Notes
    -----
    Sequences are packed, so padding never enters the recurrence; the output is
    the last layer's final hidden state of each direction, concatenated.
    """

    def __init__(self, embedding: nn.Embedding, rnn: str, hidden_size: int, num_layers: int,
                 bidirectional: bool):
        super().__init__()
        self.embedding = embedding
        self.rnn = RNN_TYPES[rnn](embedding.embedding_dim, hidden_size, num_layers=num_layers,
                                  bidirectional=bidirectional, batch_first=True)
        self.n_directions = 2 if bidirectional else 1
        self.out_features = hidden_size * self.n_directions

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, h = self.rnn(packed)
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        # h: (num_layers * directions, n, hidden): keep the last layer's directions
        return torch.cat(list(h[-self.n_directions:]), dim=1)
