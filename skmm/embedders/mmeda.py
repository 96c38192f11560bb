"""MMEDAEmbedder: multimodal encoder-decoder with matrix factorization (variants I, II)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from skmm._base import (
    BaseEmbedder,
    as_tensors,
    holdout,
    image_variance,
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
from skmm.inputs import TextFeatures, as_size
from skmm.inputs.checks import collect_problems
from skmm.inputs.tokenizers import shared_tokens
from skmm.inputs.word_vectors import is_pretrained
from skmm.nn.mmeda import MMEDA

__all__ = ["MMEDAEmbedder", "PAPER_PRESET"]

#: The published MMEDA (variants I and II): the representation is trained only
#: through the text factorization and the raw MSEs are summed.
#: ``MMEDAEmbedder.paper(variant="I")`` builds it.
PAPER_PRESET = {"fused_image": False, "normalize_terms": False, "n_components": 50,
                "image_encoder": "cnn", "text_encoder": "word2vec"}


@fill_doc
class MMEDAEmbedder(EncoderMixin, CheckpointMixin, ScalingMixin, BaseEmbedder):
    """Multimodal encoder-decoder with matrix factorization (MMEDA).

    Each row of ``X`` is an entity seen as an image (X0) and a row of a text
    matrix X1 built from the text column (mean word vectors, TF-IDF or
    numeric columns: ``text_encoder``). One network learns one
    representation per entity from both:

    - AE0, a convolutional autoencoder over the images;
    - AE1, a feed-forward autoencoder over the rows of X1;
    - AE2, a feed-forward autoencoder over the columns of X1 (the rows of
      X1ᵀ, as long as the number of training rows);
    - a feed-forward fusion network maps the concatenated codes of AE0 and
      AE1 to the representation ``z`` (``n_components``), and
      ``X1'' = z vᵀ`` (``v``: AE2's codes of the columns) reconstructs X1.

    Variant ``"I"`` minimises MSE(X0', X0) + MSE(X1'', X1); variant ``"II"``
    adds MSE(X1', X1) (AE1) and MSE(X2', X2) (AE2). Each term is recorded per
    epoch in :attr:`history_`. Each training step takes one batch of rows
    and, within it, walks X1ᵀ by batches of ``column_batch_size`` columns
    through AE2, summing the factorization error over every column.

    AE2 belongs to the training set: :meth:`transform` on new rows uses AE0,
    AE1 and the fusion network alone, so the estimator is an ordinary
    inductive transformer (Pipeline, cross-validation). AE2's input width is
    the number of training rows; it is rebuilt on every fit.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        Columns holding the images and the texts. Other columns are ignored.
    variant : {"I", "II"}, default="II"
    %(image_size:32)s
    %(image_encoder)s
        With a module, AE0's code is a linear map of its features (in place
        of the conv blocks) and AE0's decoder still rebuilds the pixels.
        With ``"vector"``, AE0 is linear: a linear map of the vectors to
        ``image_code`` and back, and the image term of the loss (and of
        :meth:`score`) is the MSE of the vectors, in their own units.
    n_components : int, default=50
        Width of the representation (50 in the paper) and of AE2's code.
    text_encoder : {"use", "auto", "tfidf", "word2vec", "tfidf+word2vec", "vector"} or \
list of str, default="use"
        How X1 is built. ``"use"`` (the default): the pretrained multilingual Universal
        Sentence Encoder (:mod:`skmm.towers`; 512 dimensions, computed once
        per process, no tokenizer to choose), standardised. Otherwise see
        :class:`TextFeatures` (standardised mean word
        vectors; TF-IDF scaled by ``sqrt(n_words)``; both side by side;
        ``"vector"``: a column of precomputed text vectors, e.g. sentence
        embeddings, standardised; or the named numeric columns,
        standardised, in which case ``text_col`` is not read). ``"auto"``
        (``text_encoder_``): ``"tfidf"`` with Word2Vec trained in fit
        (``word_vectors="word2vec"``), ``"tfidf+word2vec"`` with pretrained
        vectors (``"wordllama"``, a file or KeyedVectors). The paper
        averaged Word2Vec; TF-IDF keeps the words that a mean of Word2Vec
        vectors trained on a small corpus blurs, and pretrained vectors add
        what they know of words (measured in "The text matrix and its
        code", :doc:`/user_guide/mmeda`).
    %(tokenizer)s
    %(vector_size)s
    %(word_vectors)s
    %(word_vector_dims)s
    max_text_features : int, default=1000
        Vocabulary cap of ``"tfidf"``.
    conv_channels : int, default=16
        Filters of each of AE0's three conv blocks.
    image_code : int, default=64
        Code width of AE0.
    text_code : int or "auto", default="auto"
        Code width of AE1. ``"auto"`` (``text_code_``): an eighth of the
        width of X1, between 32 and 128: 32 for the few words of templated
        captions, 128 for a wide matrix such as 1,000 TF-IDF words next to
        256 wordllama dimensions, which a narrow code squeezes (measured in
        "The text matrix and its code", :doc:`/user_guide/mmeda`).
    hidden_size : int, default=128
        Hidden width of AE1 and AE2.
    fusion_size : int, default=128
        Hidden width of the fusion network.
    column_batch_size : int or None, default=256
        Columns of X1ᵀ through AE2 at once (``None``: all).
    fused_image : bool, default=True
        Also rebuild the image from the representation ``z`` (through a
        linear map to AE0's code and AE0's decoder), the ``fused_image``
        term. In the paper (``False``) ``z`` is trained only through the text
        factorization, so what only the image shows (the shape of
        ``make_shapes``) never enters the embedding.
    normalize_terms : bool, default=True
        Divide the image terms of the loss by the pixel variance and the text
        terms by the variance of the text matrix (``reconstruction_scale_``),
        so that neither modality dominates because of its units. ``False``
        (the paper) sums the raw MSEs.
    %(max_epochs_auto)s
    %(batch_size)s
    %(lr:1e-3)s
    validation_fraction : float or None, default=None
        Hold out this fraction of the rows (AE2 is then sized and fed with the
        remaining training rows only) to record ``valid_*`` terms.
    %(infrastructure)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
        The trained net; ``net_.module_`` is a :class:`skmm.nn.mmeda.MMEDA`.
    text_features_ : TextFeatures
        The fitted text matrix builder.
    components_ : ndarray of shape (n_text_features, n_components)
        AE2's codes ``v`` of the training columns: ``transform(X) @
        components_.T`` approximates the text matrix X1 of ``X``.
    n_train_ : int
        Rows AE2 was sized with (fit rows less the validation rows).
    text_code_ : int
        AE1's code width (``text_code`` with ``"auto"`` resolved).
    image_size_ : (int, int)
    image_vector_size_ : int or None
        The length of the image vectors (``image_encoder="vector"`` or a
        frozen tower), else None.
    reconstruction_scale_ : dict of str to float
        The variance, in the training data, of what each term of
        :meth:`score` rebuilds (pixels in [0, 1] or image vectors, and the
        text matrix): the errors are divided by it.
    history_ : skorch.history.History
        Per epoch ``train_loss``, ``train_image``, ``train_factorization``
        and, for variant II, ``train_text``, ``train_columns``.
    %(stopping_attributes)s
    text_encoder_ : str or list of str
        ``text_encoder`` with ``"auto"`` resolved (``"tfidf"`` or
        ``"tfidf+word2vec"``).
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.embedders.mmeda import MMEDAEmbedder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(40, image_size=16, random_state=0)
    >>> emb = MMEDAEmbedder(n_components=4, max_epochs=1, random_state=0)  # the towers
    >>> emb.fit_transform(X).shape
    (40, 4)
    """

    _parameter_constraints = constraints(
        "image_col", "text_col", "image_size", "image_encoder", "n_components", "tokenizer",
        "vector_size", "word_vectors", "word_vector_dims", "max_text_features", "conv_channels",
        "hidden_size",
        "fusion_size", "column_batch_size", *TRAINING, *INFRASTRUCTURE,
        variant=[StrOptions({"I", "II"})],
        text_encoder=[StrOptions({"auto", "word2vec", "tfidf", "tfidf+word2vec", "use",
                                  "vector"}),
                       list, tuple],
        image_code=[Interval(Integral, 1, None, closed="left")],
        text_code=[Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
        fine_tune_image_encoder=["boolean"], image_encoder_lr=["no_validation"],  # TODO port
        fused_image=["boolean"],
        normalize_terms=["boolean"],
    )

    def __init__(self, image_col="image", text_col="text", *, variant="II", image_size=32,
                 image_encoder="efficientnet_lite0", fine_tune_image_encoder=False,
                 image_encoder_lr=None,
                 n_components=50, text_encoder="use", tokenizer="english",
                 vector_size=50, word_vectors="word2vec", word_vector_dims=None,
                 max_text_features=1000, conv_channels=16, image_code=64, text_code="auto",
                 hidden_size=128,
                 fusion_size=128, column_batch_size=256, fused_image=True,
                 normalize_terms=True, max_epochs="auto", batch_size=64,
                 lr=1e-3, validation_fraction=None, device="auto", precision="auto",
                 cache="auto", memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2,
                 accelerator=None,
                 channels_last=True, compile=False, checkpoint_dir=None, n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.variant = variant
        self.image_size = image_size
        self.image_encoder = image_encoder
        self.fine_tune_image_encoder = fine_tune_image_encoder
        self.image_encoder_lr = image_encoder_lr
        self.n_components = n_components
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.max_text_features = max_text_features
        self.conv_channels = conv_channels
        self.image_code = image_code
        self.text_code = text_code
        self.hidden_size = hidden_size
        self.fusion_size = fusion_size
        self.column_batch_size = column_batch_size
        self.fused_image = fused_image
        self.normalize_terms = normalize_terms
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
    def paper(cls, **overrides) -> MMEDAEmbedder:
        """The published model (:data:`PAPER_PRESET`), updated by ``overrides``."""
        return cls(**{**PAPER_PRESET, **overrides})

    def _resolve_auto(self) -> dict:
        """``text_encoder_``: ``"auto"`` is ``"tfidf+word2vec"`` with pretrained
        ``word_vectors``, ``"tfidf"`` with Word2Vec trained in fit."""
        resolved = super()._resolve_auto()
        text_encoder = self.text_encoder
        if isinstance(text_encoder, str) and text_encoder == "auto":
            text_encoder = "tfidf+word2vec" if is_pretrained(self.word_vectors) else "tfidf"
        return {**resolved, "text_encoder_": text_encoder}

    def _text_builder(self, text_encoder, seed=None) -> TextFeatures:
        """The text matrix builder of a resolved ``text_encoder`` (``"use"``: its vectors)."""
        kind = "vector" if isinstance(text_encoder, str) and text_encoder == "use" \
            else text_encoder
        return TextFeatures(self.text_col, list(kind) if not isinstance(kind, str) else kind,
                            tokenizer=self.tokenizer, vector_size=self.vector_size,
                            word_vectors=self.word_vectors,
                            word_vector_dims=self.word_vector_dims,
                            max_text_features=self.max_text_features, random_state=seed)

    def _columns(self):
        return [self.image_col, *self._text_builder(self.text_encoder).columns()]

    # ---- data ------------------------------------------------------------
    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """Decode the images and build the text matrix into tensors."""
        if fitting:
            builder = self._text_builder(state["text_encoder_"], state["seeds"]["word"])
            size, n_vector = as_size(self.image_size), None
            image_tower, text_tower = self._image_tower(), self._text_tower()
        else:
            builder, size, n_vector = self.text_features_, self.image_size_, \
                self.image_vector_size_
            image_tower, text_tower = self.image_tower_, self.text_tower_
        vectors = (self._image_input() in ("vector", "tower") if fitting
                   else n_vector is not None)
        out = {}
        frames = {"text": X}  # with text_encoder="use", the text column becomes its vectors
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
            if text_tower:
                frames["text"] = self._tower_frame(X, {self.text_col: text_tower}, scalers)
            if fitting:
                builder.check(frames["text"])
            else:
                out["text"] = builder.transform(frames["text"])

        collect_problems(texts, images)
        if fitting:  # every row is usable: now fit the text features
            out["text"] = builder.fit_transform(frames["text"])
            state.update(image_size_=size, text_features_=builder, image_tower_=image_tower,
                         text_tower_=text_tower,
                         image_vector_size_=out["image_features"].shape[1] if vectors else None)
            text = out["text"].astype(np.float64)
            state["reconstruction_scale_"] = {
                "image": vector_variance(out["image_features"]) if vectors
                else image_variance(out["image"]),
                "factorization": max(float(np.mean((text - text.mean(0)) ** 2)), 1e-12)}
        return self._labelled(as_tensors(out), X, fitting=fitting)

    # ---- fit -------------------------------------------------------------
    def _train_split(self, n: int, state: dict):
        """A fixed hold-out: AE2 is sized with the training rows only."""
        state["train_idx"] = None
        if not self.validation_fraction:
            return None
        state["train_idx"], split = holdout(n, self.validation_fraction,
                                            state["seeds"]["shuffle"] + 1)
        return split

    def _build_module(self, data: dict, state: dict) -> MMEDA:
        train_idx = state["train_idx"]
        train_text = data["text"] if train_idx is None else data["text"][train_idx]
        state["n_train_"] = int(train_text.shape[0])
        state["text_code_"] = (self.text_code if self.text_code != "auto"
                               else int(np.clip(train_text.shape[1] // 8, 32, 128)))
        shape = (3, *state["image_size_"])
        image_encoder = None
        if self._image_input() == "module":
            image_encoder = self._image_feature_encoder(data["image"], shape, data,
                                                        "image_features")
        return MMEDA(shape, train_text.T, n_components=self.n_components,
                     image_encoder=image_encoder, image_vectors=state["image_vector_size_"],
                     variant=self.variant, conv_channels=self.conv_channels,
                     image_code=self.image_code, text_code=state["text_code_"],
                     hidden_size=self.hidden_size, fusion_size=self.fusion_size,
                     column_batch_size=self.column_batch_size, fused_image=self.fused_image,
                     scales={"image": state["reconstruction_scale_"]["image"],
                             "text": state["reconstruction_scale_"]["factorization"]}
                     if self.normalize_terms else None)

    def _after_training(self, net, state: dict) -> None:
        module = net.module_.eval()
        with torch.inference_mode():
            state["components_"] = module.factorization.codes().float().cpu().numpy()

    @staticmethod
    def _encode_batch(module, batch):
        return module.embed(batch.get("image"), batch["text"], batch.get("image_features"))

    def score(self, X, y=None):
        """How well the model rebuilds the rows of ``X`` (higher is better; at most 0).

        Minus the mean of two relative errors: the image MSE (AE0) over the
        variance of the training pixels, and the factorization MSE
        (``transform(X) @ components_.T`` against the text matrix of ``X``)
        over the variance of the training text matrix. Both variants are
        scored alike (variant II's extra AE1 and AE2 terms are training aids,
        not part of the score), so GridSearchCV can compare them.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        score : float
        """
        return super().score(X, y)

    _score_terms = ("image", "factorization")
