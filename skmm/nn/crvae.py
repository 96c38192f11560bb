"""The convolutional-recurrent variational autoencoder (CRVAE) as a torch module."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.decoders import DeconvDecoder, RecurrentTextDecoder
from skmm.nn.embeddings import mean_word_vectors, word_vector_table
from skmm.nn.encoders import ConvEncoder, RecurrentTextEncoder, as_float_image, conv_out_shape

#: Bound of the latent log-variance: a posterior standard deviation between
#: e^-5 and e^5. Beyond it, ``exp(logvar)`` overflows float32 once an update
#: overshoots (seen at ``lr=3e-3`` with text vectors: logvar 100, then a NaN
#: loss), and no useful posterior lies there.
LOGVAR_BOUND = 10.0


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)), averaged over samples and latent dims.

    With ``free_bits`` > 0 each dimension's batch-mean KL counts as at least
    ``free_bits`` nats (Kingma et al. 2016): below it the term has no
    gradient, so the encoder may use that much information per dimension
    for free instead of collapsing to the prior.
    """
    per_dim = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp(), dim=0)
    if free_bits > 0:
        per_dim = per_dim.clamp_min(free_bits)
    return per_dim.mean()


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
    text_weight, beta : float
        Weights of the text reconstruction and KL terms of the loss.
    text_loss : {"mse", "cross_entropy"}, default="mse"
        The text term: MSE of the predicted word vectors (the paper), or
        cross-entropy of the predicted words over the vocabulary (a
        ``head`` on the decoder scores every word).
    word_dropout : float, default=0.0
        Share of the teacher-forced decoder inputs replaced by the zero
        ``<unk>`` vector in training (Bowman et al. 2016), so that the
        decoder must read the words from the latent.
    free_bits : float, default=0.0
        Nats of KL per dimension that are not penalised (see :func:`gaussian_kl`).
    bow_weight : float, default=0.0
        Weight of a bag-of-words term (Zhao et al. 2017): a linear map of
        the latent scores every word of the vocabulary, and the words of the
        text must score high (their mean cross-entropy). It makes the latent
        carry the words, whatever the recurrent decoder learns from the
        previous ones.
    mean_vector_weight : float, default=0.0
        Weight of a mean-vector term: a small MLP of the latent rebuilds the
        mean of the text's word vectors (their MSE, divided by its
        ``scales`` entry ``"mean_vector"``). The word terms treat every word
        as its own class; this one asks the latent for the point of the
        text in the vectors' space, where pretrained neighbours share a
        meaning.
    scales : dict or None, default=None
        ``{"image": s, "text": s}``: each reconstruction term is divided by
        its scale in the loss (per-modality normalisation); the reported
        terms stay unscaled.
    image_encoder : torch.nn.Module or None, default=None
        The image encoder (with ``out_features``), e.g. an
        :class:`~skmm.nn.encoders.ImageFeatureEncoder`; None builds the conv
        blocks. The decoder rebuilds the pixels either way, from a
        ``conv_channels`` x (H/8) x (W/8) map.
    image_vectors : int or None, default=None
        The image input is a precomputed vector of this length (the batch's
        ``image_features``), also the reconstruction target (MSE, no
        sigmoid): no encoder, a linear decoder.
    text_vectors : int or None, default=None
        The text input is a precomputed vector of this length (the batch's
        ``text_features``, e.g. a sentence embedding), also the
        reconstruction target (MSE): no recurrent encoder, a linear decoder,
        no bag-of-words term; ``vectors`` may be None.
    mean_pooling : bool, default=False
        The text features are the recurrent state next to the mean of the
        word vectors (see :class:`~skmm.nn.encoders.RecurrentTextEncoder`).
    """

    host_keys = ("lengths",)  # stay on the CPU: pack_padded_sequence wants them there

    def __init__(self, vectors, image_shape, conv_channels=16, rnn="gru", hidden_size=64,
                 num_layers=2, bidirectional=True, fusion_size=256, n_components=32,
                 text_weight=3.0, beta=1.0, image_encoder=None,
                 image_vectors=None, text_loss="mse", word_dropout=0.0, free_bits=0.0,
                 bow_weight=0.0, scales=None, text_vectors=None, mean_vector_weight=0.0,
                 mean_pooling=False):
        super().__init__()
        c, h, w = image_shape
        embedding = word_vector_table(vectors) if text_vectors is None else None
        if image_vectors is not None:  # precomputed vectors: rebuilt as they are
            self.image_encoder = nn.Identity()
            n_img = n_out = int(image_vectors)
        else:
            self.image_encoder = (ConvEncoder(c, (h, w), conv_channels) if image_encoder is None
                                  else image_encoder)
            conv_shape = conv_out_shape(conv_channels, (h, w))
            n_img, n_out = self.image_encoder.out_features, math.prod(conv_shape)
        self.text_vectors = text_vectors
        if text_vectors is None:
            self.text_encoder = RecurrentTextEncoder(embedding, rnn, hidden_size, num_layers,
                                                     bidirectional, mean_pooling)
            n_txt = self.text_encoder.out_features
        else:  # precomputed vectors: rebuilt as they are
            self.text_encoder, n_txt = None, int(text_vectors)
        self.image_norm = nn.BatchNorm1d(n_img)
        self.text_norm = nn.BatchNorm1d(n_txt)
        self.fusion = nn.Sequential(nn.Linear(n_img + n_txt, fusion_size), nn.ReLU(inplace=True))
        self.mu = nn.Linear(fusion_size, n_components)
        self.logvar = nn.Linear(fusion_size, n_components)
        self.expand = nn.Sequential(nn.Linear(n_components, fusion_size), nn.ReLU(inplace=True),
                                    nn.Linear(fusion_size, n_out + n_txt), nn.ReLU(inplace=True))
        self.split = (n_out, n_txt)
        self.image_target = "pixels" if image_vectors is None else "vector"
        self.image_decoder = (DeconvDecoder(conv_shape, c, (h, w)) if image_vectors is None
                              else nn.Linear(n_out, n_out))
        self.text_loss = text_loss if text_vectors is None else "mse"
        if text_vectors is None:
            self.text_decoder = RecurrentTextDecoder(
                rnn, embedding.embedding_dim, hidden_size, num_layers, n_txt,
                vocabulary_size=embedding.num_embeddings if text_loss == "cross_entropy"
                else None)
        else:
            self.text_decoder = nn.Linear(n_txt, n_txt)
        self.text_weight, self.beta = text_weight, beta
        self.word_dropout, self.free_bits = word_dropout, free_bits
        self.scales = dict(scales or {})
        self.bow_weight = bow_weight
        self.bow = (nn.Linear(n_components, embedding.num_embeddings)
                    if bow_weight > 0 and text_vectors is None else None)
        self.mean_vector_weight = mean_vector_weight
        self.mean_vector = (nn.Sequential(nn.Linear(n_components, fusion_size),
                                          nn.ReLU(inplace=True),
                                          nn.Linear(fusion_size, embedding.embedding_dim))
                            if mean_vector_weight > 0 and text_vectors is None else None)
        #: multiplies ``beta``; a KL warm-up callback raises it from 0 to 1
        self.kl_weight = 1.0

    @property
    def embedding(self) -> nn.Embedding | None:
        """The word-vector table (None with text vectors)."""
        return None if self.text_encoder is None else self.text_encoder.embedding

    def encode(self, image, tokens, lengths, image_features=None, text_features=None):
        """Latent mean and log-variance of a batch (the log-variance clamped to
        ``[-LOGVAR_BOUND, LOGVAR_BOUND]``).

        ``image_features``, when given, stand for the image encoder's output
        (cached features of a frozen encoder, or precomputed vectors);
        ``text_features`` are the precomputed text vectors (``text_vectors``).
        """
        if image_features is None:
            image_features = self.image_encoder(image)
        fi = self.image_norm(image_features)
        ft = self.text_norm(text_features if self.text_encoder is None
                            else self.text_encoder(tokens, lengths))
        hidden = self.fusion(torch.cat([fi, ft], dim=1))
        return self.mu(hidden), self.logvar(hidden).clamp(-LOGVAR_BOUND, LOGVAR_BOUND)

    def decode(self, z, length: int, targets=None):
        """Image logits (n, C, H, W), or image vectors (n, D), and predicted word vectors
        (n, length, dim), or word logits (n, length, vocabulary) with
        ``text_loss="cross_entropy"``."""
        hi, ht = self.expand(z).split(self.split, dim=1)
        if self.text_encoder is None:  # text vectors
            return self.image_decoder(hi), self.text_decoder(ht)
        return self.image_decoder(hi), self.text_decoder(ht, length, targets, self.embedding)

    def forward(self, image=None, tokens=None, lengths=None, image_features=None,
                text_features=None):
        mu, logvar = self.encode(image, tokens, lengths, image_features, text_features)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        if self.text_encoder is None:
            image_logits, text_pred = self.decode(z, 0)
            return {"mu": mu, "logvar": logvar, "image_logits": image_logits,
                    "text_pred": text_pred}
        targets = self.embedding(tokens)
        inputs = None
        if self.training:  # teacher forcing: the true previous words, one parallel pass
            inputs = targets
            if self.word_dropout > 0:  # dropped words read as the zero <unk> vector
                keep = torch.rand(tokens.shape, device=tokens.device) >= self.word_dropout
                inputs = targets * keep.unsqueeze(-1).to(targets.dtype)
        image_logits, text_pred = self.decode(z, tokens.shape[1], inputs)
        out = {"mu": mu, "logvar": logvar, "image_logits": image_logits,
               "text_pred": text_pred, "text_target": targets}
        if self.bow is not None:
            out["bow_logits"] = self.bow(z)
        if self.mean_vector is not None:
            out["mean_vector"] = self.mean_vector(z)
        return out

    def _text_error(self, out, batch) -> torch.Tensor:
        tokens = batch.get("tokens")
        if self.text_encoder is None:  # text vectors
            return F.mse_loss(out["text_pred"].float(), batch["text_features"].float())
        n_words = (tokens != 0).sum(1, keepdim=True)
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] <= n_words
        if self.text_loss == "cross_entropy":
            err = F.cross_entropy(out["text_pred"].float().transpose(1, 2), tokens,
                                  reduction="none")
        else:
            err = (out["text_pred"].float() - out["text_target"]).pow(2).mean(-1)
        return (err * mask).sum() / mask.sum()

    def loss_terms(self, out, batch):
        """``image`` (pixel MSE; with precomputed vectors, their MSE), ``text``
        (word-vector MSE, or word cross-entropy in nats), ``kl`` and ``loss``.

        The text term covers every word and the first padding position after
        it (trained towards the zero ``<pad>`` vector, or the ``<pad>`` word,
        which marks the end of the text in :meth:`decode`); the rest of the
        padding is masked out. ``loss`` divides each reconstruction term by
        its entry of ``scales`` and weights the KL by ``beta * kl_weight``.
        """
        if self.image_target == "vector":
            image = F.mse_loss(out["image_logits"].float(), batch["image_features"])
        else:
            image = F.mse_loss(torch.sigmoid(out["image_logits"].float()),
                               as_float_image(batch["image"]))
        text = self._text_error(out, batch)
        mu, logvar = out["mu"].float(), out["logvar"].float()
        kl = gaussian_kl(mu, logvar)
        penalty = gaussian_kl(mu, logvar, self.free_bits) if self.free_bits > 0 else kl
        scales = self.scales
        loss = (image / scales.get("image", 1.0)
                + self.text_weight * text / scales.get("text", 1.0)
                + self.beta * self.kl_weight * penalty)
        terms = {"image": image, "text": text, "kl": kl}
        if self.bow is not None:  # every word of the text against the latent's word scores
            tokens = batch["tokens"]
            logp = torch.log_softmax(out["bow_logits"].float(), dim=-1).gather(1, tokens)
            words = (tokens >= 3).to(logp.dtype)
            terms["bow"] = -(logp * words).sum() / words.sum().clamp_min(1)
            loss = loss + self.bow_weight * terms["bow"] / scales.get("text", 1.0)
        if "mean_vector" in out:  # the latent's guess of the mean word vector
            target = mean_word_vectors(out["text_target"].float(), batch["lengths"])
            terms["mean_vector"] = F.mse_loss(out["mean_vector"].float(), target)
            loss = (loss + self.mean_vector_weight * terms["mean_vector"]
                    / scales.get("mean_vector", 1.0))
        return {"loss": loss, **terms}
