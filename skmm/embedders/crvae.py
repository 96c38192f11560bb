"""CRVAEEmbedder: the convolutional-recurrent variational autoencoder as a transformer."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import (
    BaseEmbedder,
    as_tensors,
    image_variance,
    sample_rows,
)
from skmm._checkpointing import CheckpointMixin
from skmm._encoding import EncoderMixin, vector_variance
from skmm._params import (
    AUTO_CONSTRAINTS,
    DEFAULT_MEMORY_BUDGET,
    INFRASTRUCTURE,
    TRAINING,
    constraints,
    fill_doc,
)
from skmm._scaling import ScalingMixin
from skmm.encoders import (
    ConvEncoder,
    ImageTower,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextTower,
)
from skmm.inputs.checks import collect_problems, raise_problems
from skmm.inputs.text import encode_new_texts
from skmm.inputs.tokenizers import shared_tokens
from skmm.nn.crvae import CRVAE
from skmm.nn.embeddings import mean_word_vectors
from skmm.training import PreparedData
from skmm.training.latent import KLWarmup, LatentDiagnostics

__all__ = ["CRVAEEmbedder", "PAPER_PRESET"]

#: ``beta="auto"``: (with a recurrent text encoder over pretrained word vectors,
#: otherwise). See the parameter's docs for the measurements.
BETA_AUTO = (1.0, 0.05)


#: The CRVAE paper's model: ``CRVAEEmbedder.paper()`` builds it (best trained on
#: a GPU): 120x200 images, 32 channels, a 2-layer bidirectional LSTM of 512 units
#: over 300 Word2Vec dimensions and the MSE of the word vectors, fusion 4000,
#: latent 1000, text weight 3, Adam 1e-4, batch 16, 500 epochs.
PAPER_PRESET = {
    "image_encoder": ConvEncoder(image_size=(120, 200), channels=32),
    "text_encoder": RecurrentTextEncoder(
        cell="lstm", hidden_size=512, num_layers=2, bidirectional=True, vector_size=300,
        mean_pooling=False, text_loss="mse", bow_weight=0.0, mean_vector_weight=0.0),
    "fusion_size": 4000,
    "n_components": 1000,
    "text_weight": 3.0,
    "beta": 1.0,
    "normalize_terms": False,
    "lr": 1e-4,
    "batch_size": 16,
    "max_epochs": 500,
}


def word_vector_variance(tokens, vectors: np.ndarray) -> float:
    """The variance of the word vectors the text decoder rebuilds (sampled rows).

    Over every word and the first padding position after it (the zero
    ``<pad>`` vector that ends a text), as in :meth:`skmm.nn.crvae.CRVAE.loss_terms`.
    """
    tokens = sample_rows(tokens)
    n_words = (tokens != 0).sum(1)
    mask = np.arange(tokens.shape[1])[None, :] <= n_words[:, None]
    target = vectors[tokens[mask]].astype(np.float64)
    return max(float(np.mean((target - target.mean(0)) ** 2)), 1e-12)


def mean_vector_variance(tokens, vectors: np.ndarray) -> float:
    """The variance of the texts' mean word vectors (sampled rows), the
    target of the mean-vector term (:func:`skmm.nn.embeddings.mean_word_vectors`)."""
    tokens = sample_rows(tokens)
    means = mean_word_vectors(torch.from_numpy(vectors[tokens].astype(np.float64)),
                              torch.from_numpy((tokens != 0).sum(1))).numpy()
    return max(float(np.mean(means.var(0))), 1e-12)


def word_entropy(tokens) -> float:
    """The entropy (nats) of the word frequencies the text decoder predicts (sampled rows).

    Over the same positions as :func:`word_vector_variance`: the
    cross-entropy of a decoder that always predicts these frequencies.
    """
    tokens = sample_rows(tokens)
    n_words = (tokens != 0).sum(1)
    mask = np.arange(tokens.shape[1])[None, :] <= n_words[:, None]
    _, counts = np.unique(tokens[mask], return_counts=True)
    p = counts / counts.sum()
    return max(float(-(p * np.log(p)).sum()), 1e-12)


@fill_doc
class CRVAEEmbedder(EncoderMixin, CheckpointMixin, ScalingMixin, BaseEmbedder):
    """Joint image-text embedding with a convolutional-recurrent VAE.

    Each column goes through its encoder (:mod:`skmm.encoders`): at the
    defaults the frozen pretrained towers, in the published model
    (:meth:`paper`) three conv 3x3 + ReLU + max-pool blocks for the image
    and a stacked bidirectional RNN, LSTM or GRU over frozen word vectors
    for the text. Both feature vectors are batch-normalised, concatenated
    and passed through a dense layer to the mean and log-variance of a
    Gaussian latent. The decoder mirrors the encoder: it rebuilds what each
    encoder reads (the pixels through transposed convolutions, the words
    through a teacher-forced recurrent decoder, or a tower's standardised
    features through a linear layer). The loss is ``image term +
    text_weight * text term + beta * KL``. :meth:`transform` returns the
    latent mean.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        Columns of ``X`` holding the images (paths, bytes, PIL images or
        arrays) and the texts (strings). Other columns are ignored.
    %(image_encoder)s
        With a :class:`~skmm.encoders.ModuleEncoder` its features replace
        the conv blocks' output and the decoder still rebuilds the pixels.
        With a tower or ``"passthrough"`` the image term of the loss (and of
        :meth:`score`) is the MSE of the rebuilt (standardised) vectors and
        :meth:`inverse_transform` returns vectors.
    text_encoder : TextTower, RecurrentTextEncoder, "use", "recurrent" or \
"passthrough", default="use"
        :class:`~skmm.encoders.TextTower` (``"use"``, the default): the
        pretrained multilingual Universal Sentence Encoder gives each text
        one vector (512 dimensions, any of its 16 languages, no tokenizer to
        choose), rebuilt by a linear decoder.
        :class:`~skmm.encoders.RecurrentTextEncoder` (``"recurrent"``): the
        published recurrent encoder over word vectors and its teacher-forced
        decoder; its tokenizer, word vectors, cell, sizes and decoding terms
        are its own parameters (``text_encoder__cell``; ``fine_tune=True``
        is refused: the decoder rebuilds the frozen vectors).
        ``"passthrough"``: ``text_col`` holds one precomputed vector per row
        (1-D arrays or lists of one length), rebuilt as they are.
    n_components : int, default=32
        Dimensions of the latent space (of the embedding).
    fusion_size : int, default=256
        Width of the dense fusion layer.
    text_weight : float, default=3.0
        Weight of the text reconstruction term.
    beta : float or "auto", default="auto"
        Weight of the KL term (per latent dimension, averaged). Higher pulls
        the latent towards the prior: it keeps less detail of single items,
        which a read-out of broad groups does not need. ``"auto"``
        (``beta_``): 1.0 with a recurrent text encoder over pretrained
        vectors (``word_vectors="wordllama"``, a file or KeyedVectors),
        0.05 otherwise (the towers, Word2Vec trained in fit). Lower it (e.g.
        0.05) when one word of templated captions is what matters; see
        "With pretrained word vectors" in :doc:`/user_guide/crvae` for the
        measurements.
    normalize_terms : bool, default=True
        Divide each reconstruction term of the loss by its scale in the
        training data (``reconstruction_scale_``: the pixel variance, the
        vectors' variance, the word-vector variance or the entropy of the
        word frequencies), so that neither modality dominates because of
        its units.
    free_bits : float, default=0.0
        Nats of KL per latent dimension that are not penalised (Kingma et
        al. 2016), a remedy for a collapsing latent.
    kl_warmup : int, default=0
        Raise the KL weight linearly from about 0 to ``beta`` over this many
        epochs (Bowman et al. 2016), another remedy for a collapsing latent.
    %(max_epochs_auto)s
    %(batch_size)s
    %(lr:3e-3)s
    %(validation_fraction)s
    %(infrastructure)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
        The trained skorch net; ``net_.module_`` is the torch module.
    image_encoder_, text_encoder_ : encoder or "passthrough"
        The fitted clones of ``image_encoder`` and ``text_encoder`` (a
        tower fitted on its column; a recurrent encoder with its ``"auto"``
        settings resolved: ``mean_pooling_``, ``mean_vector_weight_``).
    tokenizer_ : skmm.inputs.TextEncoder or None
        The fitted tokenizer of a recurrent text encoder: splits a text as
        its ``tokenizer`` says and maps its words to the ids of
        ``vocabulary_``, whose vectors are ``word_vectors_``. None, as
        those two, when the text column is read as vectors.
    text_vector_size_ : int or None
        The length of the text vectors (a tower or ``"passthrough"``), else None.
    vocabulary_ : skmm.inputs.Vocabulary or None
        The words of the training texts (``vocabulary_.itos[i]``: word ``i``).
    word_vectors_ : ndarray of shape (n_words, vector_size) or None
        Row ``i`` is the vector of ``vocabulary_.itos[i]``.
    reconstruction_scale_ : dict of str to float
        The variance, in the training data, of what each term of
        :meth:`score` rebuilds (pixels in [0, 1], image vectors, word
        vectors): the errors are divided by it.
    image_size_ : (int, int) or None
        The size images are read at by a trained CNN or a module, else None.
    image_vector_size_ : int or None
        The length of the image vectors (a frozen tower or ``"passthrough"``),
        else None.
    tower_scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        Per towered column, the standardisation of the tower's features
        (fitted on the training rows). Empty without a frozen tower.
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``train_image``, ``train_text``, ``train_kl``
        (``train_bow`` and ``train_mean_vector`` when those terms are on;
        ``valid_*`` with ``validation_fraction``), ``dur``.
    %(stopping_attributes)s
    beta_ : float
        ``beta`` with ``"auto"`` resolved.
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    skmm.inputs.validate_frame : find the unusable rows of a table before fitting.
    skmm.encoders : the encoders and their settings.

    Notes
    -----
    ``PAPER_PRESET`` (or :meth:`paper`) holds the published CRVAE:
    120x200 images, 32 channels, a 2-layer bidirectional LSTM of 512
    units, fusion 4000, latent 1000, text weight 3, Adam 1e-4, batch 16,
    500 epochs. The defaults here are the pretrained towers and much
    smaller sizes, for data sets of a few thousand rows on a CPU.

    Examples
    --------
    >>> from skmm import CRVAEEmbedder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(64, image_size=32, random_state=0)
    >>> emb = CRVAEEmbedder(n_components=8, max_epochs=2, random_state=0)  # the towers
    >>> emb.fit_transform(X).shape
    (64, 8)
    """

    _parameter_constraints = constraints(
        "image_col", "text_col", "image_encoder", "text_encoder", "n_components",
        "fusion_size", *TRAINING, *INFRASTRUCTURE,
        text_weight=[Interval(Real, 0, None, closed="left")],
        beta=[Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
        free_bits=[Interval(Real, 0, None, closed="left")],
        kl_warmup=[Interval(Integral, 0, None, closed="left")],
        normalize_terms=["boolean"],
    )

    def __init__(self, image_col="image", text_col="text", *,
                 image_encoder="efficientnet_lite0", text_encoder="use", n_components=32,
                 fusion_size=256, text_weight=3.0, beta="auto", normalize_terms=True,
                 free_bits=0.0, kl_warmup=0, max_epochs="auto", batch_size=64, lr=3e-3,
                 validation_fraction=None, device="auto", precision="auto",
                 cache="auto", memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2,
                 accelerator=None,
                 channels_last=True, compile=False, checkpoint_dir=None, n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.n_components = n_components
        self.fusion_size = fusion_size
        self.text_weight = text_weight
        self.beta = beta
        self.normalize_terms = normalize_terms
        self.free_bits = free_bits
        self.kl_warmup = kl_warmup
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.cache = cache
        self.memory_budget = memory_budget
        self.num_workers = num_workers
        self.accelerator = accelerator
        self.channels_last = channels_last
        self.compile = compile
        self.checkpoint_dir = checkpoint_dir
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def paper(cls, **overrides) -> CRVAEEmbedder:
        """The published model (:data:`PAPER_PRESET`, encoders cloned), updated by
        ``overrides``."""
        return cls(**{**clone(PAPER_PRESET, safe=False), **overrides})

    @classmethod
    def _encoder_rules(cls) -> dict:
        recurrent = tuple(n for n in RecurrentTextEncoder._defaults() if n != "fine_tune")
        return {"image_encoder": ("image", {ImageTower: "all", ConvEncoder: "all",
                                            ModuleEncoder: "all", str: "all"}),
                "text_encoder": ("text", {TextTower: "all", RecurrentTextEncoder: recurrent,
                                          str: "all"})}

    def _columns(self):
        return [self.image_col, self.text_col]

    def _resolve_auto(self) -> dict:
        """``beta_`` (by :data:`BETA_AUTO`) and the encoders, with the shared ones."""
        resolved = super()._resolve_auto()
        text = resolved["text_encoder_"]
        pretrained_words = self._role(text) == "words" and text.pretrained()
        resolved["beta_"] = (BETA_AUTO[0 if pretrained_words else 1] if self.beta == "auto"
                             else self.beta)
        return resolved

    # ---- data ------------------------------------------------------------
    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """Decode images and encode texts into the tensors the module reads."""
        image_encoder, text_encoder = (
            (state["image_encoder_"], state["text_encoder_"]) if fitting
            else (self.image_encoder_, self.text_encoder_))
        words = self._role(text_encoder) == "words"
        if fitting:
            encoder = text_encoder.text_encoder(state["seeds"]["word"]) if words else None
            size = self._image_size(image_encoder)
        else:
            encoder, size = self.tokenizer_, self.image_size_
        image_tower = image_encoder if self._role(image_encoder) == "tower" else None
        text_tower = text_encoder if self._role(text_encoder) == "tower" else None
        vectors = self._image_input(image_encoder) in ("vector", "tower")
        n_vector = None if fitting else self.image_vector_size_
        n_text = None if fitting else self.text_vector_size_
        out, unseen = {}, {}  # unseen: token-id key -> (first unseen id, pretrained vectors)
        scalers = self._tower_scalers(state)

        def images():
            if vectors:
                out["image_features"] = self._vectors(X[self.image_col], column=self.image_col,
                                                      length=n_vector, tower=image_tower,
                                                      scalers=scalers)
            else:
                out["image"] = self._image_data(X[self.image_col], column=self.image_col,
                                                mode="RGB", size=size)

        def texts():
            if not words:
                out["text_features"] = self._vectors(X[self.text_col], column=self.text_col,
                                                     length=n_text, tower=text_tower,
                                                     scalers=scalers)
            elif fitting:
                raise_problems(encoder.check(X[self.text_col], column=self.text_col))
            else:
                out["tokens"], out["lengths"] = encode_new_texts(
                    encoder, X[self.text_col], column=self.text_col, unseen=unseen,
                    key="tokens")

        collect_problems(texts, images)
        if fitting and not words:
            state.update(tokenizer_=None, vocabulary_=None, word_vectors_=None,
                         text_vector_size_=out["text_features"].shape[1])
            text_scale = vector_variance(out["text_features"])
        elif fitting:  # every row is usable: now the costlier word vectors
            encoder.fit(X[self.text_col], column=self.text_col)
            out["tokens"], out["lengths"] = encoder.encode(X[self.text_col],
                                                           column=self.text_col)
            state.update(tokenizer_=encoder, vocabulary_=encoder.vocabulary_,
                         word_vectors_=encoder.vectors_, text_vector_size_=None)
            text_scale = (word_entropy(out["tokens"])
                          if text_encoder.text_loss == "cross_entropy"
                          else word_vector_variance(out["tokens"], encoder.vectors_))
        if fitting:
            state.update(image_size_=size,
                         image_vector_size_=out["image_features"].shape[1] if vectors else None)
            state["reconstruction_scale_"] = {
                "image": vector_variance(out["image_features"]) if vectors
                else image_variance(out["image"]),
                "text": text_scale}
            if words and text_encoder.mean_vector_weight_ > 0:
                state["reconstruction_scale_"]["mean_vector"] = mean_vector_variance(
                    out["tokens"], encoder.vectors_)
        return self._labelled(PreparedData(as_tensors(out), unseen), X, fitting=fitting)

    def _word_tables(self, module) -> dict:
        return {} if module.embedding is None else {"tokens": module.embedding}

    _score_terms = ("image", "text")

    def _build_module(self, data: dict, state: dict) -> CRVAE:
        image, text = state["image_encoder_"], state["text_encoder_"]
        role = self._image_input(image)
        size = state["image_size_"] or (32, 32)  # no pixels with vectors
        image_encoder = None
        if role == "module":
            image_encoder = self._image_feature_encoder(data["image"], (3, *size), data,
                                                        "image_features", encoder=image)
        # the decoder of a module's images starts from a map of 16 channels
        words = {} if self._role(text) != "words" else dict(
            rnn=text.cell, hidden_size=text.hidden_size, num_layers=text.num_layers,
            bidirectional=text.bidirectional, text_loss=text.text_loss,
            word_dropout=text.word_dropout, bow_weight=text.bow_weight,
            mean_vector_weight=text.mean_vector_weight_, mean_pooling=text.mean_pooling_)
        return CRVAE(state["word_vectors_"], (3, *size), image_encoder=image_encoder,
                     text_vectors=state["text_vector_size_"],
                     image_vectors=state["image_vector_size_"],
                     conv_channels=image.channels if role == "cnn" else 16,
                     fusion_size=self.fusion_size, n_components=self.n_components,
                     text_weight=self.text_weight, beta=state["beta_"],
                     free_bits=self.free_bits,
                     scales=state["reconstruction_scale_"] if self.normalize_terms else None,
                     **words)

    def _callbacks(self, state: dict) -> list:
        callbacks = [("latent", LatentDiagnostics(self._posterior_batch))]
        if self.kl_warmup:
            callbacks.append(("kl_warmup", KLWarmup(self.kl_warmup)))
        return [*callbacks, *super()._callbacks(state)]  # before the checkpoint

    def _after_training(self, net, state: dict) -> None:
        active = net.history[-1, "active_units"]
        if active == 0:
            kl = float(np.mean(net.history[-1, "kl_per_dim"]))
            warnings.warn(
                f"{type(self).__name__}: the latent collapsed (0 of {self.n_components} "
                f"dimensions active, KL {kl:.4f} nats per dimension): transform returns about "
                "the same vector for every row. Train longer (max_epochs='auto' or more "
                "epochs), lower beta, or set free_bits (e.g. 0.1) or kl_warmup.",
                UserWarning, stacklevel=4)

    @staticmethod
    def _posterior_batch(module, batch):
        return module.encode(batch.get("image"), batch.get("tokens"), batch.get("lengths"),
                             batch.get("image_features"), batch.get("text_features"))

    @staticmethod
    def _encode_batch(module, batch):
        mu, _ = module.encode(batch.get("image"), batch.get("tokens"), batch.get("lengths"),
                              batch.get("image_features"), batch.get("text_features"))
        return mu

    # ---- decode ----------------------------------------------------------
    def inverse_transform(self, Z):
        """Decode embeddings back to images and texts.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        pandas.DataFrame
            ``image_col``: uint8 arrays (height, width, 3) (float32 vectors
            with ``image_encoder="vector"``); ``text_col``: the
            decoded word vectors verbalised by nearest-neighbour (cosine)
            lookup in the vocabulary, stopping at the first ``<pad>``; special
            tokens are dropped. Words are joined with spaces; wordllama's
            subword tokens (``word_vectors="wordllama"``) are joined back into
            text by its tokenizer's decoder (:meth:`TextEncoder.detokenize
            <skmm.inputs.TextEncoder.detokenize>`: ``"▁"`` starts a word, byte
            tokens are fused into characters).
        """
        check_is_fitted(self, "net_")
        # a copy: an array viewed from a DataFrame is read-only (pandas copy-on-write)
        Z = np.array(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.n_components:
            raise ValueError(f"Z must have shape (n_samples, {self.n_components}); got {Z.shape}")
        module = self.net_.module_.eval()
        device = next(module.parameters()).device
        if module.embedding is not None:
            table = module.embedding.weight  # (V, D), rows 0..2 special and zero
            norms = table.norm(dim=1)
            known = norms > 0
        images, texts = [], []
        length = 0 if self.tokenizer_ is None else self.tokenizer_.max_length_
        with torch.inference_mode():
            for start in range(0, len(Z), 256):
                z = torch.from_numpy(Z[start: start + 256]).to(device)
                logits, vectors = module.decode(z, length)
                if module.image_target == "vector":
                    images.extend(logits.float().cpu().numpy())
                else:
                    pixels = torch.sigmoid(logits.float()).mul(255).round().to(torch.uint8)
                    images.extend(pixels.permute(0, 2, 3, 1).cpu().numpy())
                if module.embedding is None:  # text vectors
                    texts.extend(vectors.float().cpu().numpy())
                elif module.text_loss == "cross_entropy":  # word logits
                    texts.extend(self._words(vectors.argmax(-1).cpu().numpy()))
                else:
                    texts.extend(self._verbalize(vectors.float(), table, norms, known))
        return pd.DataFrame({self.image_col: images, self.text_col: texts})

    def _verbalize(self, vectors, table, norms, known):
        # A predicted vector closer to zero than to any word is read as <pad>: the end.
        cos = vectors @ table.T / (vectors.norm(dim=-1, keepdim=True) * norms.clamp_min(1e-8))
        cos[..., ~known] = -np.inf
        best = cos.argmax(-1)
        nearest = table[best]
        is_end = vectors.norm(dim=-1) < (vectors - nearest).norm(dim=-1)
        ids = best.cpu().numpy()
        return self._words(np.where(is_end.cpu().numpy(), 0, ids))

    def _words(self, ids) -> list[str]:
        """Texts of rows of token ids, each ending at its first ``<pad>`` (id 0)."""
        itos, join = self.vocabulary_.itos, self.tokenizer_.detokenize
        out = []
        for row in ids:
            words = []
            for i in row:
                if i == 0:
                    break
                if i >= 3:  # <unk> and <sos> are dropped
                    words.append(itos[i])
            out.append(join(words))
        return out
