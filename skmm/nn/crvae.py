"""The convolutional-recurrent variational autoencoder (CRVAE) as a torch module."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.decoders import DeconvDecoder, RecurrentTextDecoder
from skmm.nn.embeddings import word_vector_table
from skmm.nn.encoders import ConvEncoder, RecurrentTextEncoder, as_float_image, conv_out_shape


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)), averaged over samples and latent dims."""
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


class CRVAE(nn.Module):
    """Image CNN + recurrent text encoder fused into a Gaussian latent, and decoders.

    Parameters
    ----------
    vectors : array-like of shape (vocabulary_size, vector_size)
        Word vectors, row 0 for padding; kept frozen inside the module.
    image_shape : (int, int, int)
        Channels, height, width.
    conv_channels : int
        Filters of each of the three conv blocks.
    rnn : {"rnn", "lstm", "gru"}
    hidden_size, num_layers : int
        Recurrent encoder and decoder sizes.
    bidirectional : bool
        Bidirectional text encoder.
    fusion_size : int
        Width of the dense layer after the concatenated features.
    n_components : int
        Latent dimensions.
    teacher_forcing : bool
        Feed the true previous word vector to the text decoder when training.
    text_weight, beta : float
        Weights of the text reconstruction and KL terms of the loss.
    image_encoder : torch.nn.Module or None, default=None
        The image encoder (with ``out_features``), e.g. an
        :class:`~skmm.nn.encoders.ImageFeatureEncoder`; None builds the conv
        blocks. The decoder rebuilds the pixels either way, from a
        ``conv_channels`` x (H/8) x (W/8) map.
    image_vectors : int or None, default=None
        The image input is a precomputed vector of this length (the batch's
        ``image_features``), also the reconstruction target (MSE, no
        sigmoid): no encoder, a linear decoder.
    """

    host_keys = ("lengths",)  # stay on the CPU: pack_padded_sequence wants them there

    def __init__(self, vectors, image_shape, conv_channels=16, rnn="gru", hidden_size=64,
                 num_layers=2, bidirectional=True, fusion_size=256, n_components=32,
                 teacher_forcing=True, text_weight=3.0, beta=1.0, image_encoder=None,
                 image_vectors=None):
        super().__init__()
        c, h, w = image_shape
        embedding = word_vector_table(vectors)
        if image_vectors is not None:  # precomputed vectors: rebuilt as they are
            self.image_encoder = nn.Identity()
            n_img = n_out = int(image_vectors)
        else:
            self.image_encoder = (ConvEncoder(c, (h, w), conv_channels) if image_encoder is None
                                  else image_encoder)
            conv_shape = conv_out_shape(conv_channels, (h, w))
            n_img, n_out = self.image_encoder.out_features, math.prod(conv_shape)
        self.text_encoder = RecurrentTextEncoder(embedding, rnn, hidden_size, num_layers,
                                                 bidirectional)
        n_txt = self.text_encoder.out_features
        self.image_norm = nn.BatchNorm1d(n_img)
        self.text_norm = nn.BatchNorm1d(n_txt)
        self.fusion = nn.Sequential(nn.Linear(n_img + n_txt, fusion_size), nn.ReLU(inplace=True))
        self.mu = nn.Linear(fusion_size, n_components)
        self.logvar = nn.Linear(fusion_size, n_components)
        self.expand = nn.Sequential(nn.Linear(n_components, fusion_size), nn.ReLU(inplace=True),
                                    nn.Linear(fusion_size, n_out + n_txt), nn.ReLU(inplace=True))
        self.split = (n_out, n_txt)
        self.image_target = "pixels" if image_vectors is None else "vectors"
        self.image_decoder = (DeconvDecoder(conv_shape, c, (h, w)) if image_vectors is None
                              else nn.Linear(n_out, n_out))
        self.text_decoder = RecurrentTextDecoder(rnn, embedding.embedding_dim, hidden_size,
                                                 num_layers, n_txt)
        self.teacher_forcing = teacher_forcing
        self.text_weight, self.beta = text_weight, beta

    @property
    def embedding(self) -> nn.Embedding:
        return self.text_encoder.embedding

    def encode(self, image, tokens, lengths, image_features=None):
        """Latent mean and log-variance of a batch.

        ``image_features``, when given, stand for the image encoder's output
        (cached features of a frozen encoder, or precomputed vectors).
        """
        if image_features is None:
            image_features = self.image_encoder(image)
        fi = self.image_norm(image_features)
        ft = self.text_norm(self.text_encoder(tokens, lengths))
        hidden = self.fusion(torch.cat([fi, ft], dim=1))
        return self.mu(hidden), self.logvar(hidden)

    def decode(self, z, length: int, targets=None):
        """Image logits (n, C, H, W), or image vectors (n, D), and predicted word vectors
        (n, length, dim)."""
        hi, ht = self.expand(z).split(self.split, dim=1)
        return self.image_decoder(hi), self.text_decoder(ht, length, targets)

    def forward(self, image=None, tokens=None, lengths=None, image_features=None):
        mu, logvar = self.encode(image, tokens, lengths, image_features)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        targets = self.embedding(tokens)
        image_logits, text_pred = self.decode(
            z, tokens.shape[1], targets if self.training and self.teacher_forcing else None)
        return {"mu": mu, "logvar": logvar, "image_logits": image_logits,
                "text_pred": text_pred, "text_target": targets}

    def loss_terms(self, out, batch):
        """``image`` (pixel MSE; with precomputed vectors, their MSE), ``text``
        (word-vector MSE), ``kl`` and ``loss``.

        The text term covers every word and the first padding position after
        it (trained towards the zero ``<pad>`` vector, which marks the end of
        the text in :meth:`decode`); the rest of the padding is masked out.
        """
        if self.image_target == "vectors":
            image = F.mse_loss(out["image_logits"].float(), batch["image_features"])
        else:
            image = F.mse_loss(torch.sigmoid(out["image_logits"].float()),
                               as_float_image(batch["image"]))
        tokens = batch["tokens"]
        n_words = (tokens != 0).sum(1, keepdim=True)
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] <= n_words
        err = (out["text_pred"].float() - out["text_target"]).pow(2).mean(-1)
        text = (err * mask).sum() / mask.sum()
        kl = gaussian_kl(out["mu"].float(), out["logvar"].float())
        loss = image + self.text_weight * text + self.beta * kl
        return {"loss": loss, "image": image, "text": text, "kl": kl}
