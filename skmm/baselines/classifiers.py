"""Single-modality and late-fusion classifiers over the same DataFrames as the embedders.

They answer the first question a user of this library asks: does the multimodal
embedding beat what I would do with one modality?

* :class:`TextSVMClassifier`: TF-IDF (English stop words) + LinearSVC on the text.
* :class:`ImageCNNClassifier`: a two-layer CNN on grey images, trained with
  early stopping on a validation split.
* :class:`LateFusionClassifier`: an LSTM over the text and a small CNN over the
  image, concatenated into one softmax output.

All three are scikit-learn classifiers (``fit``, ``predict``, ``score``,
``classes_``) that read their columns from a pandas DataFrame and ignore the
other columns, so they drop into ``cross_val_score`` and ``GridSearchCV``.
The two neural classifiers train through :class:`skmm.training.MultimodalNet`
(skorch), with uint8 images converted to float on the device batch by batch.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch.callbacks import EarlyStopping, ProgressBar
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from skmm._base import collect_problems
from skmm.exceptions import InvalidRowsError, format_rows
from skmm.inputs import TextEncoder, as_size, check_columns, check_frame, check_text, load_images
from skmm.inputs.frame import _set_input_features
from skmm.nn.encoders import as_float_image
from skmm.training import (
    MultimodalNet,
    RandomSplit,
    SliceLoader,
    TensorDict,
    resolve_device,
    torch_seed,
)

__all__ = ["ImageCNNClassifier", "LateFusionClassifier", "TextSVMClassifier"]


def _check_y(X: pd.DataFrame, y) -> np.ndarray:
    """Check ``y`` is 1-D, as long as ``X``, without missing labels."""
    if y is None:
        raise ValueError("this classifier is supervised: y is required")
    y = column_or_1d(y, warn=True)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    missing = pd.isna(pd.Series(y, index=X.index))
    if missing.any():
        raise ValueError(f"y has missing labels at rows {format_rows(X.index[missing].tolist())}")
    if len(np.unique(y)) < 2:
        raise ValueError(f"y needs at least 2 classes to train a classifier; got {np.unique(y)}")
    return y


def _check_text_column(X: pd.DataFrame, column, tokenizer) -> None:
    report = check_text(X[column], column=column, tokenizer=tokenizer)
    if len(report):
        raise InvalidRowsError(report)


# ---------------------------------------------------------------------------
# Text: TF-IDF + LinearSVC
# ---------------------------------------------------------------------------


class TextSVMClassifier(ClassifierMixin, BaseEstimator):
    """TF-IDF features of a text column and a linear SVM: the text-only baseline.

    Parameters
    ----------
    text_col : str, default="text"
        Column of ``X`` holding the texts (strings); other columns are ignored.
    stop_words : "english", list of str or None, default="english"
        Words dropped before weighting (scikit-learn's English list by default).
    ngram_range : (int, int), default=(1, 2)
        Word n-grams used as features.
    min_df : int or float, default=1
        Ignore terms in fewer documents than this (a fraction if float).
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` term frequencies.
    C : float, default=1.0
        Inverse regularisation strength of the LinearSVC.
    class_weight : "balanced", dict or None, default=None
        Passed to LinearSVC.
    max_iter : int, default=5000
        Iterations of the LinearSVC solver.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted ``TfidfVectorizer`` and ``LinearSVC``.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import TextSVMClassifier
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(60, label="mood", random_state=0)
    >>> clf = TextSVMClassifier().fit(X, X["label"])
    >>> clf.score(X, X["label"])
    1.0
    """

    _parameter_constraints = {
        "text_col": [str],
        "stop_words": [StrOptions({"english"}), list, None],
        "ngram_range": [tuple],
        "min_df": [Interval(Integral, 1, None, closed="left"),
                   Interval(Real, 0, 1, closed="right")],
        "sublinear_tf": ["boolean"],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, text_col="text", *, stop_words="english", ngram_range=(1, 2), min_df=1,
                 sublinear_tf=True, C=1.0, class_weight=None, max_iter=5000):
        self.text_col = text_col
        self.stop_words = stop_words
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _texts(self, X, *, fitted: bool) -> pd.Series:
        X = check_frame(X)
        check_columns(X, [self.text_col], context="it was used in fit" if fitted else
                      "text_col of TextSVMClassifier")
        _check_text_column(X, self.text_col, "english")
        return X[self.text_col].astype(object)

    def fit(self, X, y):
        """Fit the TF-IDF vocabulary and the SVM.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds ``text_col``.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : TextSVMClassifier

        Raises
        ------
        skmm.exceptions.MissingColumnError
            ``text_col`` is not in ``X``.
        skmm.exceptions.InvalidRowsError
            Some texts are missing, not strings or empty (rows named).
        ValueError
            ``y`` has the wrong length, missing labels or a single class.
        """
        self._validate_params()
        texts = self._texts(X, fitted=False)
        y = _check_y(X, y)
        pipeline = make_pipeline(
            TfidfVectorizer(stop_words=self.stop_words, ngram_range=self.ngram_range,
                            min_df=self.min_df, sublinear_tf=self.sublinear_tf),
            LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter),
        )
        pipeline.fit(texts, y)
        self.pipeline_ = pipeline
        self.classes_ = pipeline.classes_
        _set_input_features(self, X)
        return self

    def decision_function(self, X):
        """Signed distances to the SVM hyperplanes.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(self._texts(X, fitted=True))

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(self._texts(X, fitted=True))


# ---------------------------------------------------------------------------
# Neural classifiers: shared training glue
# ---------------------------------------------------------------------------


class _ImageCNN(nn.Module):
    """conv 5x5 + ReLU + pool, conv 5x5 + ReLU + pool, dense + ReLU + dropout, output."""

    def __init__(self, in_channels, image_size, channels, hidden_size, dropout, n_classes):
        super().__init__()
        h, w = image_size
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(c2 * (h // 4) * (w // 4), hidden_size), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden_size, n_classes))

    def forward(self, image, **_):
        return self.head(self.features(as_float_image(image)))

    @staticmethod
    def loss_terms(logits, batch):
        return {"loss": F.cross_entropy(logits.float(), batch["y"])}


class _LateFusion(nn.Module):
    """Embedding + LSTM over the text, a small CNN over the image, one softmax output."""

    def __init__(self, vectors, hidden_size, image_shape, channels, dense_size, dropout,
                 n_classes, fusion_size=None):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(torch.as_tensor(vectors), freeze=False,
                                                      padding_idx=0)
        self.lstm = nn.LSTM(self.embedding.embedding_dim, hidden_size, batch_first=True)
        c, h, w = image_shape
        c1, c2 = channels
        self.cnn = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (h // 4) * (w // 4), dense_size), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        width = hidden_size + dense_size
        if fusion_size:  # a hidden layer over the concatenation: lets the output mix modalities
            self.fusion = nn.Sequential(nn.Linear(width, fusion_size), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout))
            width = fusion_size
        else:
            self.fusion = nn.Identity()
        self.out = nn.Linear(width, n_classes)

    def forward(self, image, tokens, lengths, **_):
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        fused = torch.cat([h[-1], self.cnn(as_float_image(image))], dim=1)
        return self.out(self.fusion(self.dropout(fused)))

    @staticmethod
    def loss_terms(logits, batch):
        return {"loss": F.cross_entropy(logits.float(), batch["y"])}




_NET_CONSTRAINTS = {
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 2, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


class _NeuralClassifier(ClassifierMixin, BaseEstimator):
    """Training, prediction and sklearn plumbing shared by the torch classifiers.

    Subclasses implement ``_columns()``, ``_prepare(X, fitting, state)`` (a dict
    of tensors; ``state`` collects what fit learns, e.g. the text encoder) and
    ``_build_module(data, n_classes, state)``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = self.random_state is None
        return tags

    def _check_X(self, X, *, fitted: bool) -> pd.DataFrame:
        X = check_frame(X)
        name = type(self).__name__
        check_columns(X, self._columns(),
                      context="it was used in fit" if fitted else f"a column {name} reads")
        if len(X) == 0:
            raise ValueError("X has no rows")
        return X

    def fit(self, X, y):
        """Train the network on the rows of ``X`` and the labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per item with the columns the classifier reads.
        y : array-like of shape (n_samples,)
            Class labels (any hashable values).

        Returns
        -------
        self

        Raises
        ------
        skmm.exceptions.MissingColumnError
            A column is missing.
        skmm.exceptions.InvalidRowsError
            Some rows hold an unusable image or text; the message names the
            column, the row labels and the reason. Nothing is trained and a
            previously fitted state is kept.
        ValueError
            ``y`` has the wrong length, missing labels or a single class, or
            the validation split leaves no rows.
        skmm.exceptions.NonFiniteLossError
            The loss became NaN or infinite (a previous fit is kept).
        """
        self._validate_params()
        X = self._check_X(X, fitted=False)
        y = _check_y(X, y)
        encoder = LabelEncoder().fit(y)
        rng = check_random_state(self.random_state)
        seed, shuffle_seed, word_seed = (int(s) for s in rng.randint(0, 2**31 - 1, 3))
        state = {"word_seed": word_seed}
        data = self._prepare(X, fitting=True, state=state)
        data["y"] = torch.from_numpy(encoder.transform(y).astype(np.int64))
        with torch_seed(seed):
            module = self._build_module(data, len(encoder.classes_), state)
        net = self._make_net(module, shuffle_seed)
        with torch_seed(seed):
            net.initialize()
            net.partial_fit(TensorDict(data))
        # only now, with training done, replace any previously fitted state
        for key, value in state.items():
            if key.endswith("_"):
                setattr(self, key, value)
        self.label_encoder_ = encoder
        self.classes_ = encoder.classes_
        self.net_ = net
        _set_input_features(self, X)
        return self

    def _make_net(self, module, shuffle_seed: int) -> MultimodalNet:
        callbacks = []
        split = None
        if self.validation_fraction:
            split = RandomSplit(self.validation_fraction, shuffle_seed + 1)
            callbacks.append(("early_stopping",
                              EarlyStopping(monitor="valid_loss", patience=self.patience,
                                            load_best=True, sink=self._sink)))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return MultimodalNet(
            module,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(shuffle_seed),
            train_split=split,
            callbacks=callbacks,
            device=resolve_device(self.device),
            verbose=self.verbose,
        )

    def _sink(self, *args, **kwargs):
        if self.verbose:
            print(*args, **kwargs)

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        data = self._prepare(X, fitting=False, state=None)
        net = self.net_
        module = net.module_.eval()
        chunks = []
        with torch.inference_mode():
            for batch, _ in SliceLoader(TensorDict(data), batch_size=max(self.batch_size, 256)):
                chunks.append(module(**net.to_device(batch)).float().cpu())
        return torch.cat(chunks)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float32
            Columns in the order of ``classes_``.
        """
        return torch.softmax(self._logits(X), dim=1).numpy()

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._logits(X)
        return self.classes_[logits.argmax(dim=1).numpy()]

    @property
    def history_(self):
        """The skorch History of the last fit (``train_loss``, ``valid_loss``, ``dur``)."""
        check_is_fitted(self, "net_")
        return self.net_.history


# ---------------------------------------------------------------------------
# Image CNN
# ---------------------------------------------------------------------------


class ImageCNNClassifier(_NeuralClassifier):
    """A two-layer CNN on grey images: the image-only baseline.

    Images are converted to grey levels, resized to ``image_size`` and scaled
    to [0, 1]. The network is conv 5x5 (32 filters, padding 2) + ReLU + max-pool
    2x2, conv 5x5 (64 filters, padding 2) + ReLU + max-pool 2x2, a dense layer
    of 1024 units + ReLU + dropout, and the output layer; it is trained with
    Adam (lr 1e-3, batches of 64) on the cross-entropy, and stops early when
    the loss on a held-out validation split stops improving (the weights of
    the best epoch are kept).

    Parameters
    ----------
    image_col : str, default="image"
        Column of ``X`` holding the images (paths, bytes, PIL images or arrays).
    image_size : int or (int, int), default=64
        Images are resized to (height, width); at least 4 pixels a side.
    channels : (int, int), default=(32, 64)
        Filters of the two conv layers.
    hidden_size : int, default=1024
        Units of the dense layer.
    dropout : float, default=0.5
        Dropout before the output layer.
    max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
        Adam learning rate.
    validation_fraction : float or None, default=0.1
        Held-out fraction for early stopping; ``None`` trains all
        ``max_epochs`` on every row.
    patience : int, default=5
        Epochs without improvement of the validation loss before stopping.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when present, else on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout, shuffling and the validation split: on the
        CPU the same seed gives the same model bit for bit.
    verbose : int, default=0
        0 prints nothing; 1 prints skorch's epoch table; 2 adds a progress bar.

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    classes_ : ndarray of shape (n_classes,)
    image_size_ : (int, int)
    history_ : skorch.history.History
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import ImageCNNClassifier
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(64, image_size=16, random_state=0)
    >>> clf = ImageCNNClassifier(image_size=16, max_epochs=2, random_state=0)
    >>> clf.fit(X, X["label"]).predict(X).shape
    (64,)
    """

    _parameter_constraints = {
        "image_col": [str],
        "image_size": [Interval(Integral, 4, None, closed="left"), tuple, list],
        "channels": [tuple, list],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        **_NET_CONSTRAINTS,
    }

    def __init__(self, image_col="image", *, image_size=64, channels=(32, 64), hidden_size=1024,
                 dropout=0.5, max_epochs=30, batch_size=64, lr=1e-3, validation_fraction=0.1,
                 patience=5, device="auto", random_state=None, verbose=0):
        self.image_col = image_col
        self.image_size = image_size
        self.channels = channels
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _columns(self):
        return [self.image_col]

    def _prepare(self, X, *, fitting, state):
        if fitting:
            size = as_size(self.image_size)
            if min(size) < 4:
                raise ValueError(f"image_size must be at least 4 pixels a side; got {size}")
            state["image_size_"] = size
        else:
            size = self.image_size_
        images = load_images(X[self.image_col], column=self.image_col, mode="L", size=size,
                             verbose=self.verbose)
        return {"image": torch.from_numpy(images)}

    def _build_module(self, data, n_classes, state):
        if len(self.channels) != 2:
            raise ValueError(f"channels must hold 2 filter counts; got {self.channels!r}")
        return _ImageCNN(1, state["image_size_"], tuple(self.channels), self.hidden_size,
                         self.dropout, n_classes)


# ---------------------------------------------------------------------------
# Late fusion: LSTM + CNN
# ---------------------------------------------------------------------------


class LateFusionClassifier(_NeuralClassifier):
    """LSTM over the text and a small CNN over the image, fused at the output.

    The text is tokenized and mapped to ids (:class:`skmm.inputs.TextEncoder`);
    a trainable token embedding (initialised from word vectors) feeds an
    LSTM of 128 units over packed sequences. The RGB image goes through conv
    3x3 (32 filters) + ReLU + pool, conv 3x3 (64 filters) + ReLU + pool and a
    dense layer of 128 units. The LSTM's last hidden state and the image
    features are concatenated, passed through dropout, and mapped to the
    class scores (softmax, cross-entropy). Trained with Adam and early
    stopping on a validation split.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        Columns of ``X`` holding the images and the texts.
    image_size : int or (int, int), default=64
        Images are converted to RGB and resized to (height, width).
    tokenizer : {"english", "jieba"} or callable, default="english"
    word_vectors : "word2vec", path or gensim KeyedVectors, default="word2vec"
        Initial token embedding (``"word2vec"`` trains it on the training
        texts); words without a vector start at zero. Fine-tuned in training.
    vector_size : int, default=50
        Word2Vec dimensions (ignored for loaded vectors).
    max_length : int or None, default=None
        Truncate texts to this many words.
    hidden_size : int, default=128
        Units of the LSTM.
    channels : (int, int), default=(32, 64)
        Filters of the two conv layers.
    dense_size : int, default=128
        Units of the image's dense layer.
    fusion_size : int or None, default=None
        ``None`` maps the concatenated features straight to the class scores
        (the classic late fusion: text and image scores add up, so it cannot
        learn a label that depends on an interaction of the two, such as
        ``make_shapes(label="joint")``); an int adds a dense ReLU layer of
        that width over the concatenation first.
    dropout : float, default=0.3
    max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
    validation_fraction : float or None, default=0.1
    patience : int, default=5
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds the word vectors, weights, dropout, shuffling and validation
        split: on the CPU the same seed gives the same model bit for bit.
    verbose : int, default=0

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    classes_ : ndarray of shape (n_classes,)
    text_encoder_ : skmm.inputs.TextEncoder
    image_size_ : (int, int)
    history_ : skorch.history.History
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import LateFusionClassifier
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(64, image_size=16, label="joint", random_state=0)
    >>> clf = LateFusionClassifier(image_size=16, max_epochs=2, random_state=0)
    >>> clf.fit(X, X["label"]).predict_proba(X).shape
    (64, 2)
    """

    _parameter_constraints = {
        "image_col": [str],
        "text_col": [str],
        "image_size": [Interval(Integral, 4, None, closed="left"), tuple, list],
        "tokenizer": [StrOptions({"english", "jieba"}), callable],
        "word_vectors": [str, HasMethods(["get_vector"])],
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "channels": [tuple, list],
        "dense_size": [Interval(Integral, 1, None, closed="left")],
        "fusion_size": [Interval(Integral, 1, None, closed="left"), None],
        **_NET_CONSTRAINTS,
    }

    def __init__(self, image_col="image", text_col="text", *, image_size=64,
                 tokenizer="english", word_vectors="word2vec", vector_size=50, max_length=None,
                 hidden_size=128, channels=(32, 64), dense_size=128, fusion_size=None,
                 dropout=0.3,
                 max_epochs=30, batch_size=64, lr=1e-3, validation_fraction=0.1, patience=5,
                 device="auto", random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_size = image_size
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.vector_size = vector_size
        self.max_length = max_length
        self.hidden_size = hidden_size
        self.channels = channels
        self.dense_size = dense_size
        self.fusion_size = fusion_size
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _columns(self):
        return [self.image_col, self.text_col]

    def _prepare(self, X, *, fitting, state):
        out = {}
        if fitting:
            size = as_size(self.image_size)
            if min(size) < 4:
                raise ValueError(f"image_size must be at least 4 pixels a side; got {size}")
            encoder = TextEncoder(tokenizer=self.tokenizer, max_length=self.max_length,
                                  word_vectors=self.word_vectors, vector_size=self.vector_size,
                                  random_state=state["word_seed"])
        else:
            size, encoder = self.image_size_, self.text_encoder_

        def images():
            out["image"] = load_images(X[self.image_col], column=self.image_col, mode="RGB",
                                       size=size, verbose=self.verbose)

        def texts():
            if fitting:
                _check_text_column(X, self.text_col, encoder.tokenizer)
            else:
                out["tokens"], out["lengths"] = encoder.encode(X[self.text_col],
                                                               column=self.text_col)

        collect_problems(texts, images)
        if fitting:  # every row is usable: now fit the vocabulary and vectors
            encoder.fit(X[self.text_col], column=self.text_col)
            out["tokens"], out["lengths"] = encoder.encode(X[self.text_col],
                                                           column=self.text_col)
            state["image_size_"] = size
            state["text_encoder_"] = encoder
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}

    def _build_module(self, data, n_classes, state):
        if len(self.channels) != 2:
            raise ValueError(f"channels must hold 2 filter counts; got {self.channels!r}")
        return _LateFusion(state["text_encoder_"].vectors_, self.hidden_size,
                           (3, *state["image_size_"]), tuple(self.channels), self.dense_size,
                           self.dropout, n_classes, self.fusion_size)
