"""MMEDAEmbedder: multimodal encoder-decoder with matrix factorization (variants I, II)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
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
from skmm.encoders import ConvEncoder, ImageTower, ModuleEncoder, TextMatrix, TextTower
from skmm.inputs.checks import collect_problems
from skmm.inputs.text_features import text_matrix
from skmm.inputs.tokenizers import shared_tokens
from skmm.nn.mmeda import MMEDA

__all__ = ["MMEDAEmbedder", "PAPER_PRESET"]

#: The published MMEDA (variants I and II): the paper's conv blocks (32x32
#: images, 16 channels) and averaged Word2Vec (50 dimensions); the
#: representation is trained only through the text factorization and the raw
#: MSEs are summed. ``MMEDAEmbedder.paper(variant="I")`` builds it.
PAPER_PRESET = {"fused_image": False, "normalize_terms": False, "n_components": 50,
                "image_encoder": ConvEncoder(image_size=32, channels=16),
                "text_encoder": TextMatrix(features="word2vec")}


@fill_doc
class MMEDAEmbedder(EncoderMixin, CheckpointMixin, ScalingMixin, BaseEmbedder):
    """Multimodal encoder-decoder with matrix factorization (MMEDA).

    Each row of ``X`` is an entity seen as an image (X0) and a row of a text
    matrix X1 built from the text column by ``text_encoder`` (the sentence
    tower's vectors, TF-IDF, mean word vectors or precomputed vectors). One
    network learns one representation per entity from both:

    - AE0, an autoencoder over the images (conv blocks over the pixels with
      the papers' :class:`~skmm.encoders.ConvEncoder`, linear over fixed
      vectors with a tower or ``"passthrough"``);
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
    %(image_encoder)s
        With a :class:`~skmm.encoders.ModuleEncoder`, AE0's code is a linear
        map of its features (in place of the conv blocks) and AE0's decoder
        still rebuilds the pixels. With a tower or ``"passthrough"``, AE0 is
        linear: a linear map of the vectors to ``image_code`` and back, and
        the image term of the loss (and of :meth:`score`) is the MSE of the
        vectors (a tower's standardised, precomputed ones in their own units).
    n_components : int, default=50
        Width of the representation (50 in the paper) and of AE2's code.
    text_encoder : TextTower, TextMatrix, "use", "tfidf" or "passthrough", default="use"
        How X1 is built (:mod:`skmm.encoders`; its settings are nested
        parameters, ``text_encoder__max_features``).
        :class:`~skmm.encoders.TextTower` (``"use"``, the default): the
        pretrained multilingual Universal Sentence Encoder (512 dimensions,
        any of its 16 languages, computed once per process, no tokenizer to
        choose), standardised on the training rows.
        :class:`~skmm.encoders.TextMatrix` (``"tfidf"`` is ``TextMatrix()``):
        TF-IDF scaled by ``sqrt(n_words)``, standardised mean word vectors
        (``TextMatrix("word2vec")``, the paper's averaged Word2Vec), or both
        side by side (see :class:`skmm.inputs.TextFeatures`); its tokenizer,
        word vectors and vocabulary cap are its own parameters. Its
        ``features="auto"`` is ``"tfidf"`` with Word2Vec trained in fit and
        ``"tfidf+word2vec"`` with pretrained vectors (``"wordllama"``, a file
        or KeyedVectors): TF-IDF keeps the words that a mean of Word2Vec
        vectors trained on a small corpus blurs, and pretrained vectors add
        what they know of words (measured in "The text matrix and its code",
        :doc:`/user_guide/mmeda`). ``"passthrough"``: ``text_col`` holds one
        precomputed vector per row (1-D arrays or lists of one length, e.g.
        sentence embeddings, or numeric columns gathered into one),
        standardised per dimension.
    image_code : int, default=64
        Code width of AE0.
    text_code : int or "auto", default="auto"
        Code width of AE1. ``"auto"`` (``text_code_``): an eighth of the
        width of X1, between 32 and 128: 32 for the few words of templated
        captions, 64 for the sentence tower's 512 dimensions, 128 for a wide
        matrix such as 1,000 TF-IDF words next to 256 wordllama dimensions,
        which a narrow code squeezes (measured in "The text matrix and its
        code", :doc:`/user_guide/mmeda`).
    hidden_size : int, default=128
        Hidden width of AE1 and AE2.
    fusion_size : int, default=128
        Hidden width of the fusion network.
    column_batch_size : int or None, default=256
        Columns of X1ᵀ through AE2 at once (``None``: all). A memory setting:
        the model and its training are the same for every value (up to
        floating-point rounding); smaller batches bound the memory of AE2's
        pass over a wide X1.
    fused_image : bool, default=True
        Also rebuild the image from the representation ``z`` (through a
        linear map to AE0's code and AE0's decoder), the ``fused_image``
        term. In the paper (``False``) ``z`` is trained only through the text
        factorization, so what only the image shows (the shape of
        ``make_shapes``) never enters the embedding.
    normalize_terms : bool, default=True
        Divide the image terms of the loss by the variance of what AE0
        rebuilds (pixels or vectors) and the text terms by the variance of
        the text matrix (``reconstruction_scale_``), so that neither modality
        dominates because of its units. ``False`` (the paper) sums the raw
        MSEs.
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
    image_encoder_, text_encoder_ : encoder or "passthrough"
        The fitted clones of ``image_encoder`` and ``text_encoder`` (a tower
        fitted on its column; a :class:`~skmm.encoders.TextMatrix` with
        ``features_``, its ``"auto"`` resolved).
    text_features_ : skmm.inputs.TextFeatures or None
        The fitted text matrix builder of a
        :class:`~skmm.encoders.TextMatrix` or ``"passthrough"`` (None with a
        text tower, whose standardised vectors are X1).
    components_ : ndarray of shape (n_text_features, n_components)
        AE2's codes ``v`` of the training columns: ``transform(X) @
        components_.T`` approximates the text matrix X1 of ``X``.
    n_train_ : int
        Rows AE2 was sized with (fit rows less the validation rows).
    text_code_ : int
        AE1's code width (``text_code`` with ``"auto"`` resolved).
    image_size_ : (int, int) or None
        The size images are read at by a trained CNN or a module, else None.
    image_vector_size_ : int or None
        The length of the image vectors (a frozen tower or
        ``"passthrough"``), else None.
    tower_scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        Per towered column, the standardisation of the tower's features
        (fitted on the training rows). Empty without a frozen tower.
    reconstruction_scale_ : dict of str to float
        The variance, in the training data, of what each term of
        :meth:`score` rebuilds (pixels in [0, 1] or image vectors, and the
        text matrix): the errors are divided by it.
    history_ : skorch.history.History
        Per epoch ``train_loss``, ``train_image``, ``train_factorization``
        and, for variant II, ``train_text``, ``train_columns``.
    %(stopping_attributes)s
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    skmm.encoders : the encoders and their settings.

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
        "image_col", "text_col", "image_encoder", "text_encoder", "n_components",
        "hidden_size", "fusion_size", "column_batch_size", *TRAINING, *INFRASTRUCTURE,
        variant=[StrOptions({"I", "II"})],
        image_code=[Interval(Integral, 1, None, closed="left")],
        text_code=[Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
        fused_image=["boolean"],
        normalize_terms=["boolean"],
    )

    def __init__(self, image_col="image", text_col="text", *, variant="II",
                 image_encoder="efficientnet_lite0", n_components=50, text_encoder="use",
                 image_code=64, text_code="auto", hidden_size=128, fusion_size=128,
                 column_batch_size=256, fused_image=True, normalize_terms=True,
                 max_epochs="auto", batch_size=64, lr=1e-3, validation_fraction=None,
                 device="auto", precision="auto", cache="auto",
                 memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2, accelerator=None,
                 channels_last=True, compile=False, checkpoint_dir=None, n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.variant = variant
        self.image_encoder = image_encoder
        self.n_components = n_components
        self.text_encoder = text_encoder
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
        """The published model (:data:`PAPER_PRESET`, encoders cloned), updated by
        ``overrides``."""
        return cls(**{**clone(PAPER_PRESET, safe=False), **overrides})

    @classmethod
    def _encoder_rules(cls) -> dict:
        return {"image_encoder": ("image", {ImageTower: "all", ConvEncoder: "all",
                                            ModuleEncoder: "all", str: "all"}),
                "text_encoder": ("text", {TextTower: "all", TextMatrix: "all", str: "all"})}

    def _columns(self):
        return [self.image_col, self.text_col]

    # ---- data ------------------------------------------------------------
    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """Decode the images (or read their vectors) and build the text matrix X1."""
        if fitting:
            image_encoder, text_encoder = state["image_encoder_"], state["text_encoder_"]
            size, n_vector = self._image_size(image_encoder), None
        else:
            image_encoder, text_encoder = self.image_encoder_, self.text_encoder_
            size, n_vector = self.image_size_, self.image_vector_size_
        image_tower = image_encoder if self._role(image_encoder) == "tower" else None
        text_tower = text_encoder if self._role(text_encoder) == "tower" else None
        vectors = self._image_input(image_encoder) in ("vector", "tower")
        builder = None
        if text_tower is None:
            builder = (text_matrix(text_encoder, self.text_col,
                                   random_state=state["seeds"]["word"])
                       if fitting else self.text_features_)
        out = {}
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
            if text_tower is not None:  # the tower's standardised vectors are X1
                out["text"] = self._vectors(X[self.text_col], column=self.text_col,
                                            tower=text_tower, scalers=scalers)
            elif fitting:
                builder.check(X)
            else:
                out["text"] = builder.transform(X)

        collect_problems(texts, images)
        if fitting:  # every row is usable: now fit the text matrix
            if builder is not None:
                out["text"] = builder.fit_transform(X)
            state.update(image_size_=size, text_features_=builder,
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
        image = state["image_encoder_"]
        role = self._image_input(image)
        shape = (3, *(state["image_size_"] or (32, 32)))  # no pixels with vectors
        image_encoder = None
        if role == "module":
            image_encoder = self._image_feature_encoder(data["image"], shape, data,
                                                        "image_features", encoder=image)
        # the decoder of a module's images starts from a map of 16 channels
        return MMEDA(shape, train_text.T, n_components=self.n_components,
                     image_encoder=image_encoder, image_vectors=state["image_vector_size_"],
                     variant=self.variant, conv_channels=image.channels if role == "cnn" else 16,
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
