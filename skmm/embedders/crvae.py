"""CRVAEEmbedder: the convolutional-recurrent variational autoencoder as a transformer."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import (
    BaseEmbedder,
    as_tensors,
    image_variance,
    sample_rows,
)
from skmm._checkpointing import CheckpointMixin
from skmm._image_encoder import ImageEncoderMixin, vector_variance
from skmm._params import (
    AUTO_CONSTRAINTS,
    DEFAULT_MEMORY_BUDGET,
    INFRASTRUCTURE,
    TRAINING,
    constraints,
    fill_doc,
)
from skmm._scaling import ScalingMixin
from skmm.inputs import TextEncoder, as_size
from skmm.inputs.checks import collect_problems, raise_problems
from skmm.inputs.text import encode_new_texts
from skmm.inputs.tokenizers import shared_tokens
from skmm.inputs.word_vectors import is_pretrained
from skmm.nn.crvae import CRVAE
from skmm.nn.embeddings import mean_word_vectors
from skmm.training import PreparedData
from skmm.training.latent import KLWarmup, LatentDiagnostics

__all__ = ["CRVAEEmbedder", "PAPER_PRESET"]

#: The values of the ``"auto"`` parameters: (with pretrained word vectors,
#: with Word2Vec trained in fit). See each parameter's docs for the measurements.
PRETRAINED_AUTO = {
    "text_encoder": ("recurrent+mean", "recurrent"),
    "mean_vector_weight": (3.0, 0.0),
    "beta": (1.0, 0.05),
}

#: The sizes of the CRVAE paper. ``CRVAEEmbedder(**PAPER_PRESET)`` or
#: ``CRVAEEmbedder.paper(...)`` builds it (best trained on a GPU).
PAPER_PRESET = {
    "image_size": (120, 200),
    "conv_channels": 32,
    "rnn": "lstm",
    "hidden_size": 512,
    "num_layers": 2,
    "bidirectional": True,
    "fusion_size": 4000,
    "n_components": 1000,
    "vector_size": 300,
    "text_weight": 3.0,
    "beta": 1.0,
    "text_loss": "mse",
    "normalize_terms": False,
    "bow_weight": 0.0,
    "mean_vector_weight": 0.0,
    "image_encoder": "cnn",
    "text_encoder": "recurrent",
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
class CRVAEEmbedder(ImageEncoderMixin, CheckpointMixin, ScalingMixin, BaseEmbedder):
    """Joint image-text embedding with a convolutional-recurrent VAE.

    The image goes through three conv 3x3 + ReLU + max-pool blocks, the text
    (as frozen word vectors) through a stacked bidirectional RNN, LSTM or GRU;
    both feature vectors are batch-normalised, concatenated and passed through
    a dense layer to the mean and log-variance of a Gaussian latent. The
    decoder mirrors the encoder: transposed convolutions rebuild the image, and
    a recurrent decoder started from the decoded state predicts the word
    vectors. The loss is ``image MSE + text_weight * text MSE + beta * KL``.
    :meth:`transform` returns the latent mean.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        Columns of ``X`` holding the images (paths, bytes, PIL images or
        arrays) and the texts (strings). Other columns are ignored.
    %(image_size:64)s
    %(image_encoder)s
        With a module, its features replace the conv blocks' output before
        the same batch normalisation and dense fusion; the decoder still
        rebuilds the pixels. With ``"vector"`` there are no pixels: the
        image term of the loss (and of :meth:`score`) is the MSE of the
        rebuilt vectors, in the vectors' own units, and
        :meth:`inverse_transform` returns vectors.
    %(fine_tune_image_encoder)s
    %(image_encoder_lr)s
    n_components : int, default=32
        Dimensions of the latent space (of the embedding).
    conv_channels : int, default=16
        Filters of each conv block (and of the map the image decoder starts
        from).
    rnn : {"gru", "lstm", "rnn"}, default="gru"
        Recurrent cell of the text encoder and decoder.
    hidden_size : int, default=64
        Hidden units of the recurrent layers.
    num_layers : int, default=2
        Stacked recurrent layers.
    bidirectional : bool, default=True
        Bidirectional text encoder.
    fusion_size : int, default=256
        Width of the dense fusion layer.
    text_weight : float, default=3.0
        Weight of the text reconstruction term.
    beta : float or "auto", default="auto"
        Weight of the KL term (per latent dimension, averaged). Higher pulls
        the latent towards the prior: it keeps less detail of single items,
        which a read-out of broad groups does not need. ``"auto"``
        (``beta_``): 1.0 with pretrained vectors (as ``mean_vector_weight``),
        0.05 with Word2Vec trained in fit. Lower it (e.g. 0.05) when one word
        of templated captions is what matters; see "With pretrained word
        vectors" in :doc:`/user_guide/crvae` for the measurements.
    text_loss : {"cross_entropy", "mse"}, default="cross_entropy"
        The text term. ``"mse"`` (the paper) is the MSE of the predicted word
        vectors; it cannot tell apart words whose vectors are close, and
        Word2Vec trained on a small corpus gives words that share their
        contexts (colours, moods) almost the same vector.
        ``"cross_entropy"`` scores every word of the
        vocabulary at each step; :meth:`inverse_transform` then reads the
        best-scored words.
    bow_weight : float, default=1.0
        Weight of the bag-of-words term (Zhao et al. 2017): a linear map of
        the latent must score the words of the text high (their mean
        cross-entropy over the vocabulary). A teacher-forced decoder can
        predict much of a caption from its previous words and leave the
        latent without what only the text says; this term puts the words
        into the latent. 0 switches it off.
    mean_vector_weight : float or "auto", default="auto"
        Weight of the mean-vector term: a small MLP of the latent rebuilds
        the mean of the text's word vectors (their MSE, divided by its
        variance in the training texts). The word terms treat every word as
        its own class; this one asks the latent where the text lies in the
        vectors' space, in which pretrained neighbours share a meaning.
        ``"auto"`` (``mean_vector_weight_``): 3.0 with pretrained vectors
        (``word_vectors="wordllama"``, a file or KeyedVectors), 0 (off) with
        Word2Vec trained in fit, whose vectors of a small corpus barely
        differ between words. Measured with and without in "With pretrained
        word vectors", :doc:`/user_guide/crvae`.
    normalize_terms : bool, default=True
        Divide each reconstruction term of the loss by its scale in the
        training data (``reconstruction_scale_``: the pixel variance, the
        word-vector variance or the entropy of the word frequencies), so that
        neither modality dominates because of its units.
    word_dropout : float, default=0.0
        Share of the teacher-forced decoder inputs replaced by the zero
        ``<unk>`` vector in training (Bowman et al. 2016).
    free_bits : float, default=0.0
        Nats of KL per latent dimension that are not penalised (Kingma et
        al. 2016), a remedy for a collapsing latent.
    kl_warmup : int, default=0
        Raise the KL weight linearly from about 0 to ``beta`` over this many
        epochs (Bowman et al. 2016), another remedy for a collapsing latent.
    text_encoder : {"use", "auto", "recurrent", "recurrent+mean", "vector"}, default="use"
        ``"use"`` (the default): the pretrained multilingual Universal Sentence Encoder
        (:mod:`skmm.towers`, 512 dimensions, any of its 16 languages, no
        tokenizer to choose) gives each text one vector, computed once per
        process; the model then works as with ``"vector"`` below.
        ``"recurrent"``: the bidirectional recurrent net over the text's
        word vectors, trained (the published architecture, :meth:`paper`).
        ``"recurrent+mean"``: the mean of the text's word vectors joins the
        recurrent net's final state before the batch normalisation, a linear
        path that keeps where the text lies in the vectors' space.
        ``"auto"`` (``text_encoder_``): ``"recurrent+mean"`` with pretrained
        vectors, ``"recurrent"`` with Word2Vec trained in fit (as
        ``mean_vector_weight``).
        ``"vector"``: ``text_col`` holds one precomputed vector per row
        (a sentence embedding, SkipThoughts features ...: 1-D arrays or
        lists of one length). They replace the recurrent encoder's output
        before the batch normalisation and fusion; a linear decoder rebuilds
        them (MSE, in their own units, also in :meth:`score`); the word
        parameters, ``text_loss`` and ``bow_weight`` do not apply, and
        :meth:`inverse_transform` returns vectors.
    %(tokenizer)s
    %(word_vectors)s
    %(word_vector_dims)s
    %(vector_size)s
    %(min_count)s
    %(max_vocabulary)s
    max_length : int or None, default=100
        Truncate texts to this many words. The recurrent encoder and the
        teacher-forced decoder run over every position up to the longest
        training text, so without a cap one long transcript makes every
        batch as long (the cost is measured in "Speed and memory",
        :doc:`/user_guide/crvae`). None keeps every word: raise it when
        the words past the cap matter.
    %(max_epochs_auto)s
    %(batch_size)s
    %(lr:3e-3)s
    %(validation_fraction)s
    %(infrastructure)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
        The trained skorch net; ``net_.module_`` is the torch module.
    tokenizer_ : skmm.inputs.TextEncoder or None
        The fitted tokenizer: splits a text as ``tokenizer`` says and maps
        its words to the ids of ``vocabulary_``, whose vectors are
        ``word_vectors_``. None, as those two, when the text column is
        read as vectors (``text_encoder="vector"`` or ``"use"``).
    text_vector_size_ : int or None
        The length of the text vectors (``text_encoder="vector"`` or
        ``"use"``), else None.
    vocabulary_ : skmm.inputs.Vocabulary or None
        The words of the training texts (``vocabulary_.itos[i]``: word ``i``).
    word_vectors_ : ndarray of shape (n_words, vector_size) or None
        Row ``i`` is the vector of ``vocabulary_.itos[i]``.
    reconstruction_scale_ : dict of str to float
        The variance, in the training data, of what each term of
        :meth:`score` rebuilds (pixels in [0, 1], image vectors, word
        vectors): the errors are divided by it.
    image_vector_size_ : int or None
        The length of the image vectors (``image_encoder="vector"`` or a
        frozen tower), else None.
    %(tower_attributes)s
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``train_image``, ``train_text``, ``train_kl``
        (``train_bow`` and ``train_mean_vector`` when those terms are on;
        ``valid_*`` with ``validation_fraction``), ``dur``.
    %(stopping_attributes)s
    beta_, mean_vector_weight_ : float
        ``beta`` and ``mean_vector_weight`` with ``"auto"`` resolved.
    text_encoder_ : str
        ``text_encoder`` with ``"auto"`` resolved (``"recurrent+mean"`` or
        ``"recurrent"``).
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    skmm.inputs.validate_frame : find the unusable rows of a table before fitting.

    Notes
    -----
    ``PAPER_PRESET`` (or :meth:`paper`) holds the sizes of the published
    CRVAE: 120x200 images, 32 channels, hidden 512, 2 layers, fusion 4000,
    latent 1000, text weight 3, Adam 1e-4, batch 16, 500 epochs. The
    defaults here are much smaller, for data sets of a few thousand rows on a
    CPU.

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
        "image_col", "text_col", "image_size", "image_encoder", "fine_tune_image_encoder",
        "image_encoder_lr", "n_components", "conv_channels", "hidden_size",
        "fusion_size", "tokenizer", "word_vectors", "word_vector_dims", "vector_size", "min_count",
        "max_vocabulary", "max_length", *TRAINING, *INFRASTRUCTURE,
        rnn=[StrOptions({"rnn", "lstm", "gru"})],
        num_layers=[Interval(Integral, 1, None, closed="left")],
        bidirectional=["boolean"],
        text_weight=[Interval(Real, 0, None, closed="left")],
        beta=[Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
        text_loss=[StrOptions({"mse", "cross_entropy"})],
        text_encoder=[StrOptions({"auto", "recurrent", "recurrent+mean", "vector", "use"})],
        word_dropout=[Interval(Real, 0, 1, closed="left")],
        free_bits=[Interval(Real, 0, None, closed="left")],
        kl_warmup=[Interval(Integral, 0, None, closed="left")],
        bow_weight=[Interval(Real, 0, None, closed="left")],
        mean_vector_weight=[Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        normalize_terms=["boolean"],
    )

    def __init__(self, image_col="image", text_col="text", *, image_size=64,
                 image_encoder="efficientnet_lite0", fine_tune_image_encoder=False,
                 image_encoder_lr=None,
                 n_components=32, conv_channels=16, rnn="gru", hidden_size=64, num_layers=2,
                 bidirectional=True,
                 fusion_size=256, text_weight=3.0, beta="auto",
                 text_loss="cross_entropy", word_dropout=0.0, free_bits=0.0, kl_warmup=0,
                 normalize_terms=True, bow_weight=1.0, mean_vector_weight="auto",
                 text_encoder="use",
                 tokenizer="english", word_vectors="word2vec", word_vector_dims=None,
                 vector_size=50, min_count=1, max_vocabulary=None, max_length=100,
                 max_epochs="auto", batch_size=64, lr=3e-3,
                 validation_fraction=None, device="auto", precision="auto",
                 cache="auto", memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2,
                 accelerator=None,
                 channels_last=True, compile=False, checkpoint_dir=None, n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_size = image_size
        self.image_encoder = image_encoder
        self.fine_tune_image_encoder = fine_tune_image_encoder
        self.image_encoder_lr = image_encoder_lr
        self.n_components = n_components
        self.conv_channels = conv_channels
        self.rnn = rnn
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.fusion_size = fusion_size
        self.text_weight = text_weight
        self.beta = beta
        self.text_loss = text_loss
        self.word_dropout = word_dropout
        self.free_bits = free_bits
        self.kl_warmup = kl_warmup
        self.normalize_terms = normalize_terms
        self.bow_weight = bow_weight
        self.mean_vector_weight = mean_vector_weight
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.max_length = max_length
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
        """An embedder with the paper's sizes (:data:`PAPER_PRESET`), updated by ``overrides``."""
        return cls(**{**PAPER_PRESET, **overrides})

    def _columns(self):
        return [self.image_col, self.text_col]

    def _resolve_auto(self) -> dict:
        """``beta_``, ``mean_vector_weight_`` and ``text_encoder_``: ``"auto"``
        resolved by :data:`PRETRAINED_AUTO`, with the shared ones."""
        resolved = super()._resolve_auto()
        pretrained = is_pretrained(self.word_vectors)
        for name, (with_pretrained, with_word2vec) in PRETRAINED_AUTO.items():
            value = getattr(self, name)
            if isinstance(value, str) and value == "auto":
                value = with_pretrained if pretrained else with_word2vec
            resolved[f"{name}_"] = value
        return resolved

    # ---- data ------------------------------------------------------------
    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """Decode images and encode texts into the tensors the module reads."""
        if fitting:
            seed = state["seeds"]["word"]
            encoder = TextEncoder(tokenizer=self.tokenizer, min_count=self.min_count,
                                  max_vocabulary=self.max_vocabulary, max_length=self.max_length,
                                  word_vectors=self.word_vectors,
                                  word_vector_dims=self.word_vector_dims,
                                  vector_size=self.vector_size, random_state=seed)
            size = as_size(self.image_size)
            n_vector = n_text = None
            image_tower, text_tower = self._image_tower(), self._text_tower()
            text_vectors = text_tower is not None or state["text_encoder_"] == "vector"
        else:
            encoder, size, n_vector = self.tokenizer_, self.image_size_, self.image_vector_size_
            n_text = self.text_vector_size_
            text_vectors = n_text is not None
            image_tower, text_tower = self.image_tower_, self.text_tower_
        vectors = (self._image_input() in ("vector", "tower") if fitting
                   else n_vector is not None)
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
            if text_vectors:
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
        if fitting and text_vectors:
            state.update(tokenizer_=None, vocabulary_=None, word_vectors_=None,
                         text_vector_size_=out["text_features"].shape[1])
            text_scale = vector_variance(out["text_features"])
        elif fitting:  # every row is usable: now the costlier word vectors
            encoder.fit(X[self.text_col], column=self.text_col)
            out["tokens"], out["lengths"] = encoder.encode(X[self.text_col],
                                                           column=self.text_col)
            state.update(tokenizer_=encoder, vocabulary_=encoder.vocabulary_,
                         word_vectors_=encoder.vectors_, text_vector_size_=None)
            text_scale = (word_entropy(out["tokens"]) if self.text_loss == "cross_entropy"
                          else word_vector_variance(out["tokens"], encoder.vectors_))
        if fitting:
            state.update(image_tower_=image_tower, text_tower_=text_tower, image_size_=size,
                         image_vector_size_=out["image_features"].shape[1] if vectors else None)
            state["reconstruction_scale_"] = {
                "image": vector_variance(out["image_features"]) if vectors
                else image_variance(out["image"]),
                "text": text_scale}
            if state["mean_vector_weight_"] > 0 and not text_vectors:
                state["reconstruction_scale_"]["mean_vector"] = mean_vector_variance(
                    out["tokens"], encoder.vectors_)
        return self._labelled(PreparedData(as_tensors(out), unseen), X, fitting=fitting)

    def _word_tables(self, module) -> dict:
        return {} if module.embedding is None else {"tokens": module.embedding}

    _score_terms = ("image", "text")

    def _build_module(self, data: dict, state: dict) -> CRVAE:
        shape = (3, *state["image_size_"])
        image_encoder = None
        if self._image_input() == "module":
            image_encoder = self._image_feature_encoder(data["image"], shape, data,
                                                        "image_features")
        return CRVAE(state["word_vectors_"], shape, image_encoder=image_encoder,
                     text_vectors=state["text_vector_size_"],
                     image_vectors=state["image_vector_size_"],
                     conv_channels=self.conv_channels, rnn=self.rnn, hidden_size=self.hidden_size,
                     num_layers=self.num_layers, bidirectional=self.bidirectional,
                     fusion_size=self.fusion_size, n_components=self.n_components,
                     text_weight=self.text_weight,
                     beta=state["beta_"], text_loss=self.text_loss,
                     word_dropout=self.word_dropout,
                     free_bits=self.free_bits, bow_weight=self.bow_weight,
                     mean_vector_weight=state["mean_vector_weight_"],
                     mean_pooling=state["text_encoder_"] == "recurrent+mean",
                     scales=state["reconstruction_scale_"] if self.normalize_terms else None)

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
