"""MMEDA as torch modules: a multimodal encoder-decoder with matrix factorization.

An entity is seen as an image (AE0, a convolutional autoencoder) and a row of a
text matrix X1 (AE1, a feed-forward autoencoder). The codes of AE0 and AE1
are fused by a feed-forward network into the representation ``z``. A third
autoencoder, AE2, reads the *columns* of X1 (the rows of X1ᵀ, each as long as
the number of training entities) and its code ``v`` gives the factorization
``X1'' = z vᵀ``.

AE2's input width is the number of training rows, so it exists only for the
training set: :meth:`MMEDA.embed` (what ``transform`` uses) needs AE0, AE1 and
the fusion network alone.

:class:`AutoencoderMF` is the same factorization over one feature vector
per entity (the paper's "AE MF" baseline), and :class:`ImageAutoencoder` the
conv autoencoder alone (AE0, also the "ConvAE" image feature extractor).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.decoders import DeconvDecoder
from skmm.nn.encoders import ConvEncoder, as_float_image, conv_out_shape

__all__ = ["MLPAutoencoder", "ImageAutoencoder", "ColumnFactorization", "MMEDA",
           "AutoencoderMF"]


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """A feed-forward autoencoder ``in -> hidden -> code -> hidden -> in``.

    Parameters
    ----------
    in_features : int
    hidden_size : int
    code_size : int
    decoder : bool, default=True
        Build the decoder (variant I of MMEDA does not train one).
    """

    def __init__(self, in_features: int, hidden_size: int, code_size: int, decoder: bool = True):
        super().__init__()
        self.encoder = mlp([in_features, hidden_size, code_size])
        self.decoder = mlp([code_size, hidden_size, in_features]) if decoder else None
        self.in_features, self.code_size = in_features, code_size

    def forward(self, x: torch.Tensor):
        code = self.encoder(x)
        return code, (self.decoder(code) if self.decoder is not None else None)


class ImageAutoencoder(nn.Module):
    """Convolutional autoencoder (AE0): conv blocks -> linear code -> deconv blocks.

    Parameters
    ----------
    image_shape : (int, int, int)
        Channels, height, width.
    conv_channels : int
        Filters of each of the three conv blocks.
    code_size : int
        Width of the code.
    encoder : torch.nn.Module or None, default=None
        An image encoder with ``out_features`` (e.g. an
        :class:`~skmm.nn.encoders.ImageFeatureEncoder` around a pretrained
        backbone) in place of the conv blocks: the code is a linear map of
        its features, and the deconv blocks still rebuild the pixels.
    vectors : int or None, default=None
        The input is a precomputed vector of this length (``image_features``)
        instead of an image: the code is a linear map of it, and a linear
        decoder rebuilds the vector (MSE, no sigmoid).

    Notes
    -----
    The decoder outputs logits; the reconstruction is their sigmoid, compared
    with the pixels scaled to [0, 1]. Usable on its own through
    :class:`skmm.training.MultimodalNet` (``forward(image)`` and
    ``loss_terms``).
    """

    def __init__(self, image_shape, conv_channels: int = 16, code_size: int = 64,
                 encoder: nn.Module | None = None, vectors: int | None = None):
        super().__init__()
        c, h, w = image_shape
        self.target = "pixels" if vectors is None else "vector"
        if vectors is not None:
            self.conv = nn.Identity()
            self.to_code = nn.Linear(vectors, code_size)
            self.from_code = nn.Linear(code_size, vectors)
            self.deconv = nn.Identity()
        else:
            self.conv = ConvEncoder(c, (h, w), conv_channels) if encoder is None else encoder
            shape = conv_out_shape(conv_channels, (h, w))
            self.to_code = nn.Linear(self.conv.out_features, code_size)
            self.from_code = nn.Sequential(nn.Linear(code_size, math.prod(shape)),
                                           nn.ReLU(inplace=True))
            self.deconv = DeconvDecoder(shape, c, (h, w))
        self.code_size = code_size

    def encode(self, image: torch.Tensor | None = None,
               features: torch.Tensor | None = None) -> torch.Tensor:
        """The code of a batch of uint8 (or [0, 1] float) images, or of their ``features``
        (the encoder's output, cached, or precomputed vectors)."""
        return self.to_code(self.conv(image) if features is None else features)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Image logits (n, C, H, W), or vectors (n, D)."""
        return self.deconv(self.from_code(code))

    def forward(self, image=None, image_features=None):
        code = self.encode(image, image_features)
        return {"code": code, "image_logits": self.decode(code)}

    @staticmethod
    def image_error(logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Pixel MSE between ``sigmoid(logits)`` and the image in [0, 1]."""
        return F.mse_loss(torch.sigmoid(logits.float()), as_float_image(image))

    def error(self, out_image: torch.Tensor, batch: dict) -> torch.Tensor:
        """The reconstruction error of a batch: pixel MSE, or the MSE of the vectors."""
        if self.target == "vector":
            return F.mse_loss(out_image.float(), batch["image_features"].float())
        return self.image_error(out_image, batch["image"])

    def loss_terms(self, out, batch):
        """``image`` (pixel MSE) and ``loss`` (the same)."""
        image = self.error(out["image_logits"], batch)
        return {"loss": image, "image": image}


class ColumnFactorization(nn.Module):
    """AE2 and the factorization ``X'' = z vᵀ`` over the columns of a training matrix.

    Parameters
    ----------
    columns : torch.Tensor of shape (n_columns, n_train)
        The training matrix transposed (a buffer of the module, saved with it).
    hidden_size : int
    n_components : int
        Width of the column codes, equal to that of the row representation.
    column_batch_size : int or None
        Columns passed through AE2 at once; ``None`` for all.
    decoder : bool, default=True
        Build AE2's decoder (and report its reconstruction error).
    """

    def __init__(self, columns: torch.Tensor, hidden_size: int, n_components: int,
                 column_batch_size: int | None = None, decoder: bool = True):
        super().__init__()
        columns = torch.as_tensor(columns, dtype=torch.float32)
        self.register_buffer("columns", columns.contiguous())
        self.autoencoder = MLPAutoencoder(columns.shape[1], hidden_size, n_components, decoder)
        self.column_batch_size = column_batch_size
        self.n_train = int(columns.shape[1])

    def _chunks(self):
        n = self.columns.shape[0]
        step = self.column_batch_size or n
        for start in range(0, n, step):
            yield start, min(start + step, n)

    def codes(self) -> torch.Tensor:
        """Codes ``v`` of every column, shape (n_columns, n_components)."""
        return torch.cat([self.autoencoder.encoder(self.columns[a:b]) for a, b in self._chunks()])

    def errors(self, z: torch.Tensor, target: torch.Tensor):
        """Squared-error sums of the factorization and of AE2's reconstruction.

        Walks the column batches of X1ᵀ: for each, AE2 codes and (with a
        decoder) reconstructs those columns, and ``z @ codeᵀ`` predicts the
        matching columns of ``target`` (the rows of the current row batch).

        Returns
        -------
        factorization : torch.Tensor
            Sum over the batch of ``(z vᵀ - target)²``.
        columns : torch.Tensor or None
            Sum of ``(AE2(X1ᵀ) - X1ᵀ)²`` over all columns (``None`` without
            decoder).
        """
        fact = z.new_zeros(())
        cols = z.new_zeros(()) if self.autoencoder.decoder is not None else None
        for a, b in self._chunks():
            x = self.columns[a:b]
            code, recon = self.autoencoder(x)
            fact = fact + (z @ code.T - target[:, a:b]).pow(2).sum()
            if cols is not None:
                cols = cols + (recon - x).pow(2).sum()
        return fact, cols


class MMEDA(nn.Module):
    """Multimodal encoder-decoder with matrix factorization (variants I and II).

    Parameters
    ----------
    image_shape : (int, int, int)
        Channels, height, width of the images.
    columns : torch.Tensor of shape (n_text_features, n_train)
        X1ᵀ of the training rows: AE2's input (its width sizes AE2).
    n_components : int
        Width of the representation (and of AE2's code).
    variant : {"I", "II"}
        I: loss = image + factorization; II: image + text + columns + factorization.
    conv_channels : int
        Filters of AE0's conv blocks.
    image_code, text_code : int
        Widths of AE0's and AE1's codes.
    hidden_size : int
        Hidden width of AE1 and AE2.
    fusion_size : int
        Hidden width of the fusion network.
    column_batch_size : int or None
        Columns of X1ᵀ per AE2 pass within a row batch.
    image_encoder : torch.nn.Module or None, default=None
        AE0's encoder in place of the conv blocks (see :class:`ImageAutoencoder`).
    image_vectors : int or None, default=None
        AE0 reads and rebuilds precomputed vectors of this length.
    fused_image : bool, default=False
        Also rebuild the image from the representation ``z`` (a linear map
        of ``z`` to AE0's code, then AE0's decoder): the ``fused_image``
        term. Without it (the paper) ``z`` is trained only through the text
        factorization, and what only the image shows never enters it.
    scales : dict or None, default=None
        ``{"image": s, "text": s}``: the image terms are divided by
        ``scales["image"]`` and the text terms (factorization, AE1, AE2) by
        ``scales["text"]`` in the loss; the reported terms stay unscaled.
    """

    def __init__(self, image_shape, columns, n_components=50, variant="II", conv_channels=16,
                 image_code=64, text_code=32, hidden_size=128, fusion_size=128,
                 column_batch_size=None, image_encoder=None, image_vectors=None,
                 fused_image=False, scales=None):
        super().__init__()
        columns = torch.as_tensor(columns, dtype=torch.float32)
        n_text = columns.shape[0]
        full = variant == "II"
        self.variant = variant
        self.image_ae = ImageAutoencoder(image_shape, conv_channels, image_code, image_encoder,
                                         image_vectors)
        self.text_ae = MLPAutoencoder(n_text, hidden_size, text_code, decoder=full)
        self.fusion = mlp([image_code + text_code, fusion_size, n_components])
        self.factorization = ColumnFactorization(columns, hidden_size, n_components,
                                                 column_batch_size, decoder=full)
        self.z_to_image = nn.Linear(n_components, image_code) if fused_image else None
        self.scales = dict(scales or {})

    def embed(self, image: torch.Tensor | None, text: torch.Tensor,
              image_features: torch.Tensor | None = None) -> torch.Tensor:
        """The representation of a batch: AE0 and AE1 encoders, then fusion (no AE2)."""
        return self.fusion(torch.cat([self.image_ae.encode(image, image_features),
                                      self.text_ae.encoder(text)], dim=1))

    def forward(self, image=None, text=None, image_features=None):
        image_code = self.image_ae.encode(image, image_features)
        text_code, text_recon = self.text_ae(text)
        z = self.fusion(torch.cat([image_code, text_code], dim=1))
        fact, cols = self.factorization.errors(z.float(), text.float())
        out = {"z": z, "image_logits": self.image_ae.decode(image_code),
               "text_recon": text_recon, "factorization_sse": fact, "columns_sse": cols}
        if self.z_to_image is not None:
            out["fused_image_logits"] = self.image_ae.decode(self.z_to_image(z))
        return out

    def loss_terms(self, out, batch):
        """Mean squared errors of each reconstruction and their sum, ``loss``.

        ``image`` (X0' vs X0, pixels in [0, 1]) and ``factorization``
        (X1'' = z vᵀ vs X1) always; with variant II also ``text`` (AE1: X1'
        vs X1) and ``columns`` (AE2: X2' vs X1ᵀ, over every training column,
        so it does not depend on the rows of the batch); with ``fused_image``
        also ``fused_image`` (the image rebuilt from ``z``). ``loss`` divides
        each term by its modality's entry of ``scales``.
        """
        text = batch["text"].float()
        terms = {"image": self.image_ae.error(out["image_logits"], batch),
                 "factorization": out["factorization_sse"] / text.numel()}
        if "fused_image_logits" in out:
            terms["fused_image"] = self.image_ae.error(out["fused_image_logits"], batch)
        if self.variant == "II":
            terms["text"] = F.mse_loss(out["text_recon"].float(), text)
            terms["columns"] = out["columns_sse"] / self.factorization.columns.numel()
        image_scale, text_scale = self.scales.get("image", 1.0), self.scales.get("text", 1.0)
        terms["loss"] = sum(v / (image_scale if k in ("image", "fused_image") else text_scale)
                            for k, v in terms.items())
        return terms


class AutoencoderMF(nn.Module):
    """Autoencoder matrix factorization of one feature matrix X (the "AE MF" baseline).

    A row autoencoder codes each entity's feature vector into ``z``, a column
    autoencoder codes each column of X (length: the training rows) into
    ``v``, and ``X'' = z vᵀ``. Loss: MSE(rows) + MSE(columns) + MSE(X'', X).

    Parameters
    ----------
    columns : torch.Tensor of shape (n_features, n_train)
        Xᵀ of the training rows.
    n_components, hidden_size : int
    column_batch_size : int or None
    """

    def __init__(self, columns, n_components=50, hidden_size=128, column_batch_size=None):
        super().__init__()
        columns = torch.as_tensor(columns, dtype=torch.float32)
        self.row_ae = MLPAutoencoder(columns.shape[0], hidden_size, n_components)
        self.factorization = ColumnFactorization(columns, hidden_size, n_components,
                                                 column_batch_size)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Row codes (no column autoencoder involved)."""
        return self.row_ae.encoder(features)

    def forward(self, features):
        z, recon = self.row_ae(features)
        fact, cols = self.factorization.errors(z, features)
        return {"z": z, "recon": recon, "factorization_sse": fact, "columns_sse": cols}

    def loss_terms(self, out, batch):
        """``rows``, ``columns``, ``factorization`` MSEs and their sum ``loss``."""
        x = batch["features"]
        terms = {"rows": F.mse_loss(out["recon"], x),
                 "columns": out["columns_sse"] / self.factorization.columns.numel(),
                 "factorization": out["factorization_sse"] / x.numel()}
        terms["loss"] = sum(terms.values())
        return terms
