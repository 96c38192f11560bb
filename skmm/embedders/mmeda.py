"""MMEDAEmbedder: multimodal encoder-decoder with matrix factorization (variants I, II)."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import (
    DEFAULT_MEMORY_BUDGET,
    SCALING_CONSTRAINTS,
    BaseEmbedder,
    collect_problems,
)
from skmm.inputs import TextFeatures, as_size
from skmm.nn.mmeda import MMEDA
from skmm.training import FixedSplit, RandomSplit, TensorDict

__all__ = ["MMEDAEmbedder"]


class MMEDAEmbedder(BaseEmbedder):
    """Multimodal encoder-decoder with matrix factorization (MMEDA).

    Each row of ``X`` is an entity seen as an image (X0) and a row of a text
    matrix X1 built from the text column (mean word vectors, TF-IDF or
    numeric columns: ``text_features``). One network learns one
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
    image_size : int or (int, int), default=32
        Images are converted to RGB and resized to (height, width).
    n_components : int, default=50
        Width of the representation (50 in the paper) and of AE2's code.
    text_features : {"word2vec", "tfidf"} or list of str, default="word2vec"
        How X1 is built; see :class:`TextFeatures` (standardised mean word
        vectors; TF-IDF scaled by ``sqrt(n_words)``; or the named numeric
        columns, standardised, in which case ``text_col`` is not read).
    tokenizer : {"english", "jieba"} or callable, default="english"
    vector_size : int, default=50
        Word2Vec dimensions.
    word_vectors : "word2vec", path or gensim KeyedVectors, default="word2vec"
        Word vectors of ``"word2vec"`` text features: trained on the fit texts
        (seeded by ``random_state``) or loaded.
    max_text_features : int, default=1000
        Vocabulary cap of ``"tfidf"``.
    conv_channels : int, default=16
        Filters of each of AE0's three conv blocks.
    image_code, text_code : int, default=64, 32
        Code widths of AE0 and AE1.
    hidden_size : int, default=128
        Hidden width of AE1 and AE2.
    fusion_size : int, default=128
        Hidden width of the fusion network.
    column_batch_size : int or None, default=256
        Columns of X1ᵀ through AE2 at once (``None``: all).
    max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
        Adam learning rate.
    validation_fraction : float or None, default=None
        Hold out this fraction of the rows (AE2 is then sized and fed with the
        remaining training rows only) to record ``valid_*`` terms.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when present, else on the CPU.
    precision : {"float32", "bf16"}, default="float32"
        bf16 autocast on CUDA (ignored on the CPU).
    cache : {"auto", "memory", "none"}, default="auto"
        ``"none"`` streams the images (decoded batch by batch from the cells,
        usually paths, by ``num_workers`` DataLoader workers); ``"auto"``
        streams when the decoded images exceed ``memory_budget`` bytes. Same
        seed, same result. See :class:`~skmm.CRVAEEmbedder`.
    memory_budget : int or None, default=4 GiB
    num_workers : int, default=2
    accelerator : accelerate.Accelerator or None, default=None
        Train through Hugging Face Accelerate (several GPUs or nodes under
        ``accelerate launch``, its mixed precision).
    channels_last : bool, default=False
        Keep convolution weights and image batches in the channels-last
        memory format (faster convolutions on tensor-core GPUs).
    compile : bool or dict, default=False
        Compile the module with ``torch.compile`` (skorch's ``compile``); a
        dict holds its arguments, e.g. ``{"mode": "max-autotune"}``. The
        first epoch pays for the compilation. Results agree with the eager
        module up to rounding (inductor also draws its own random numbers).
    random_state : int, RandomState instance or None, default=None
        Seeds word vectors, weights and shuffling: bit-identical on the CPU.
    verbose : int, default=0
        0 prints nothing; 1 skorch's epoch table; 2 adds progress bars.

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
    image_size_ : (int, int)
    history_ : skorch.history.History
        Per epoch ``train_loss``, ``train_image``, ``train_factorization``
        and, for variant II, ``train_text``, ``train_columns``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.embedders.mmeda import MMEDAEmbedder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(40, image_size=16, random_state=0)
    >>> emb = MMEDAEmbedder(image_size=16, n_components=4, max_epochs=1, random_state=0)
    >>> emb.fit_transform(X).shape
    (40, 4)
    """

    _parameter_constraints = {
        "image_col": [str],
        "text_col": [str],
        "variant": [StrOptions({"I", "II"})],
        "image_size": [Interval(Integral, 8, None, closed="left"), tuple, list],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "text_features": [StrOptions({"word2vec", "tfidf"}), list, tuple],
        "tokenizer": [StrOptions({"english", "jieba"}), callable],
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "word_vectors": [str, os.PathLike, HasMethods(["get_vector"])],
        "max_text_features": [Interval(Integral, 1, None, closed="left")],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "image_code": [Interval(Integral, 1, None, closed="left")],
        "text_code": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "fusion_size": [Interval(Integral, 1, None, closed="left")],
        "column_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "bf16"})],
        **SCALING_CONSTRAINTS,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, image_col="image", text_col="text", *, variant="II", image_size=32,
                 n_components=50, text_features="word2vec", tokenizer="english",
                 vector_size=50, word_vectors="word2vec", max_text_features=1000,
                 conv_channels=16, image_code=64, text_code=32, hidden_size=128,
                 fusion_size=128, column_batch_size=256, max_epochs=30, batch_size=64,
                 lr=1e-3, validation_fraction=None, device="auto", precision="float32",
                 cache="auto", memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2,
                 accelerator=None,
                 channels_last=False, compile=False, random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.variant = variant
        self.image_size = image_size
        self.n_components = n_components
        self.text_features = text_features
        self.tokenizer = tokenizer
        self.vector_size = vector_size
        self.word_vectors = word_vectors
        self.max_text_features = max_text_features
        self.conv_channels = conv_channels
        self.image_code = image_code
        self.text_code = text_code
        self.hidden_size = hidden_size
        self.fusion_size = fusion_size
        self.column_batch_size = column_batch_size
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
        self.random_state = random_state
        self.verbose = verbose

    def _text_builder(self, seed=None) -> TextFeatures:
        return TextFeatures(self.text_col, list(self.text_features)
                            if not isinstance(self.text_features, str) else self.text_features,
                            tokenizer=self.tokenizer, vector_size=self.vector_size,
                            word_vectors=self.word_vectors,
                            max_text_features=self.max_text_features, random_state=seed)

    def _columns(self):
        return [self.image_col, *self._text_builder().columns()]

    # ---- data ------------------------------------------------------------
    def _prepare(self, X: pd.DataFrame, *, fitting: bool, text_builder=None) -> dict:
        """Decode the images and build the text matrix into tensors."""
        builder = text_builder if fitting else self.text_features_
        size = as_size(self.image_size) if fitting else self.image_size_
        out = {}

        def images():
            out["image"] = self._image_data(X[self.image_col], column=self.image_col,
                                            mode="RGB", size=size)

        def texts():
            if fitting:
                builder.check(X)
            else:
                out["text"] = builder.transform(X)

        collect_problems(texts, images)
        if fitting:  # every row is usable: now fit the text features
            out["text"] = builder.fit_transform(X)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
                for k, v in out.items()}

    # ---- fit -------------------------------------------------------------
    def fit(self, X, y=None):
        """Train MMEDA on the rows of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per entity, with ``image_col`` and the text column(s).
        y : ignored
            Accepted for Pipeline compatibility.

        Returns
        -------
        self : MMEDAEmbedder

        Raises
        ------
        skmm.exceptions.MissingColumnError
            A column is missing.
        skmm.exceptions.InvalidRowsError
            Some rows hold an unusable image or text (named by column, row
            label and reason); nothing is trained and a previous fit is kept.
        skmm.exceptions.NonFiniteLossError
            The loss became NaN or infinite (a previous fit is kept).
        """
        return super().fit(X, y)

    def _fit(self, X) -> dict:
        self._validate_params()
        X = self._check_X(X)
        if len(X) < 2:
            raise ValueError(f"MMEDAEmbedder needs at least 2 rows to fit, got {len(X)}")
        size = as_size(self.image_size)
        word_seed, torch_seed, shuffle_seed = self._seeds()
        builder = self._text_builder(word_seed)
        data = self._prepare(X, fitting=True, text_builder=builder)
        train_idx = valid_idx = None
        if self.validation_fraction:
            split = RandomSplit(self.validation_fraction, seed=shuffle_seed + 1)
            train_idx, valid_idx = (i.sort().values for i in split.indices(len(X), min_train=2))
        train_text = data["text"] if train_idx is None else data["text"][train_idx]
        with self._torch_seed(torch_seed):
            module = MMEDA((3, *size), train_text.T, n_components=self.n_components,
                           variant=self.variant, conv_channels=self.conv_channels,
                           image_code=self.image_code, text_code=self.text_code,
                           hidden_size=self.hidden_size, fusion_size=self.fusion_size,
                           column_batch_size=self.column_batch_size)
        split = None if train_idx is None else FixedSplit(train_idx, valid_idx)
        net = self._fit_net(module, data, shuffle_seed, torch_seed, train_split=split)
        module = net.module_.eval()
        with torch.inference_mode():
            components = module.factorization.codes().float().cpu().numpy()
        # only now, with training done, replace any previously fitted state
        self.image_size_ = size
        self.text_features_ = builder
        self.components_ = components
        self.n_train_ = int(train_text.shape[0])
        self.net_ = net
        self._set_input_features(X)
        return data

    @staticmethod
    def _encode_batch(module, batch):
        return module.embed(batch["image"], batch["text"])

    def score(self, X, y=None):
        """Negative inductive loss on ``X`` (higher is better).

        The mean over the rows of ``X`` of the loss terms that depend on them:
        image MSE + factorization MSE (``transform(X) @ components_.T`` vs
        the text matrix of ``X``) and, for variant II, AE1's text MSE. AE2's
        own reconstruction term (over the training columns) does not depend
        on ``X`` and is left out. Lets GridSearchCV tune without labels.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        terms = self.net_.evaluate_terms(TensorDict(self._prepare(X, fitting=False)))
        return -(terms["loss"] - terms.get("columns", 0.0))
