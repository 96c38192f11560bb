"""Decoders: transposed convolutions for images, a recurrent net for word vectors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.encoders import RNN_TYPES


class DeconvDecoder(nn.Module):
    """Mirror of :class:`~skmm.nn.encoders.ConvEncoder`.

    Each block is a 2x2 stride-2 transposed convolution followed by a 3x3
    convolution (both with ReLU); a last 3x3 convolution gives ``out_channels``
    logits, resized to ``image_size`` when the poolings floored an odd size.
    """

    def __init__(self, in_shape: tuple[int, int, int], out_channels: int,
                 image_size: tuple[int, int], n_blocks: int = 3):
        super().__init__()
        c = in_shape[0]
        layers = []
        for _ in range(n_blocks):
            layers += [nn.ConvTranspose2d(c, c, 2, stride=2), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.in_shape = tuple(in_shape)
        self.image_size = tuple(image_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.net(h.view(-1, *self.in_shape))
        if x.shape[-2:] != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        return x


class RecurrentTextDecoder(nn.Module):
    """Predicts a sequence of word vectors (or word logits) from a state vector.

    The initial hidden state of every layer is a linear map of ``state``; the
    first input is a learned start vector (the ``<sos>`` step). With teacher
    forcing the input at step t is the true word vector t-1 (one parallel
    pass); without it, the previous prediction (a loop over steps).

    With ``vocabulary_size`` the decoder also scores every word of the
    vocabulary at each step (``head``, logits for a cross-entropy loss), and
    without teacher forcing it feeds back the vector of the best-scored word
    (``embedding``) instead of its predicted vector.
    """

    def __init__(self, rnn: str, vector_size: int, hidden_size: int, num_layers: int,
                 state_size: int, vocabulary_size: int | None = None):
        super().__init__()
        self.kind = rnn
        self.num_layers, self.hidden_size = num_layers, hidden_size
        n_states = 2 if rnn == "lstm" else 1
        self.init = nn.Linear(state_size, n_states * num_layers * hidden_size)
        self.rnn = RNN_TYPES[rnn](vector_size, hidden_size, num_layers=num_layers,
                                  batch_first=True)
        self.out = nn.Linear(hidden_size, vector_size)
        self.head = None if vocabulary_size is None else nn.Linear(hidden_size, vocabulary_size)
        if self.head is not None:
            # the head replaces ``out``, which gets no gradient: frozen, so that
            # DistributedDataParallel does not wait for one (built all the same,
            # so that a seed initialises the other layers as before)
            self.out.requires_grad_(False)
        self.sos = nn.Parameter(torch.zeros(vector_size))

    def initial_state(self, state: torch.Tensor):
        n = state.shape[0]
        h = torch.tanh(self.init(state)).view(n, -1, self.num_layers, self.hidden_size)
        h = h.permute(1, 2, 0, 3).contiguous()  # (n_states, layers, n, hidden)
        return (h[0], h[1]) if self.kind == "lstm" else h[0]

    def _outputs(self, out: torch.Tensor):
        return self.out(out) if self.head is None else self.head(out)

    def forward(self, state: torch.Tensor, length: int, targets: torch.Tensor | None = None,
                embedding: nn.Module | None = None):
        """Predicted word vectors (n, length, vector_size), or word logits
        (n, length, vocabulary_size) with a ``head``.

        ``targets`` (n, length, vector_size) switches on teacher forcing;
        without it and with a head, ``embedding`` maps the best word of each
        step to the next input.
        """
        n = state.shape[0]
        hidden = self.initial_state(state)
        start = self.sos.expand(n, 1, -1)
        if targets is not None:
            inputs = torch.cat([start, targets[:, : length - 1]], dim=1)
            out, _ = self.rnn(inputs, hidden)
            return self._outputs(out)
        step, outputs = start, []
        for _ in range(length):
            out, hidden = self.rnn(step, hidden)
            pred = self._outputs(out)
            step = pred if self.head is None else embedding(pred.argmax(-1)).to(pred.dtype)
            outputs.append(pred)
        return torch.cat(outputs, dim=1)
