"""The encoders an embedder trains with its model: the papers' own, and a user's module.

Each is a small estimator that only carries settings: the embedder that is
given one builds the torch module it describes (``skmm/nn``) and trains it.
A setting an embedder would not act on raises a ``ValueError`` in its ``fit``
(:func:`skmm.encoders._base.check_reads`).
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from skmm._params import CONSTRAINTS, fill_doc, is_torch_module
from skmm.encoders._base import Encoder

__all__ = ["ConvEncoder", "MeanWordEncoder", "ModuleEncoder", "RecurrentTextEncoder",
           "TextMatrix"]

_POSITIVE = Interval(Integral, 1, None, closed="left")
_NON_NEGATIVE = Interval(Real, 0, None, closed="left")


@fill_doc
class ConvEncoder(Encoder):
    """The papers' image encoder: three conv 3x3 + ReLU + max-pool blocks, trained.

    The image encoder of the published CRVAE, MMEDA and common-space models
    (``image_encoder="cnn"``). Images are converted to RGB and resized to
    ``image_size``; CRVAE's and MMEDA's decoders rebuild them at that size.

    Parameters
    ----------
    image_size : int or (int, int), default=32
        The (height, width) images are resized to.
    channels : int, default=16
        Filters of each conv block (and of the map CRVAE's image decoder
        starts from).

    Examples
    --------
    >>> from skmm import CRVAEEmbedder
    >>> from skmm.encoders import ConvEncoder
    >>> emb = CRVAEEmbedder(image_encoder=ConvEncoder(image_size=64, channels=32))
    >>> emb.get_params()["image_encoder__channels"]
    32
    """

    modality, role = "image", "cnn"
    _parameter_constraints = {"image_size": CONSTRAINTS["image_size"], "channels": [_POSITIVE]}

    def __init__(self, image_size=32, channels=16):
        self.image_size = image_size
        self.channels = channels


class ModuleEncoder(Encoder):
    """A torch module as an image encoder: frozen (features computed once) or fine-tuned.

    Parameters
    ----------
    module : torch.nn.Module or "efficientnet_lite0"
        A pretrained backbone that maps float RGB images (N, 3, H, W) with
        values in [0, 1] to (N, D) features (e.g. a torchvision ResNet
        without its head; any normalisation it needs, such as ImageNet's
        mean and std, must be inside it), or the name of a pretrained tower
        of :mod:`skmm.towers`, to fine-tune it. ``fit`` trains a copy and
        never changes the instance given.
    image_size : int or (int, int), default=64
        The (height, width) images are resized to before the module.
    fine_tune : bool, default=False
        False keeps the module frozen (in eval mode): its features of every
        training image are computed once per fit, in batches, on the
        training device, so training costs what it costs with vector input.
        True trains the copy (the parameters that require a gradient in the
        module given) with the rest, at ``lr``, computing the features in
        every step.
    lr : float or None, default=None
        Adam learning rate of the fine-tuned module (None: a tenth of the
        embedder's ``lr``). Only with ``fine_tune=True``.

    Notes
    -----
    A module that fails is reported as the user's module failing
    (:class:`~skmm.exceptions.EncoderError`), naming its class, the batch
    it was given and the original error.
    """

    modality, role = "image", "module"
    _parameter_constraints = {
        "module": "no_validation",  # a module or a tower's name: checked below
        "image_size": CONSTRAINTS["image_size"],
        "fine_tune": ["boolean"],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, module, *, image_size=64, fine_tune=False, lr=None):
        self.module = module
        self.image_size = image_size
        self.fine_tune = fine_tune
        self.lr = lr

    def _validate_params(self):
        super()._validate_params()
        if not (is_torch_module(self.module) or self.module == "efficientnet_lite0"):
            raise ValueError(f"ModuleEncoder(module=...) must be a torch.nn.Module instance or "
                             f"'efficientnet_lite0'; got {type(self.module).__name__}")
        if self.lr is not None and not self.fine_tune:
            raise ValueError("ModuleEncoder(lr=...) is the learning rate of a fine-tuned "
                             "module: set fine_tune=True, or leave lr=None")

    def __getstate__(self):
        from skmm.training.features import PortableModule

        state = super().__getstate__()
        if is_torch_module(state.get("module")):
            state = {**state, "module": PortableModule(state["module"])}
        return state


_WORD_DOCS = {"words": """\
%(tokenizer)s
%(word_vectors)s
%(word_vector_dims)s
vector_size : int, default=50
    Word2Vec dimensions (``word_vectors="word2vec"`` only: another value
    with loaded vectors raises ValueError).
%(min_count)s
%(max_vocabulary)s
max_length : int or None, default=100
    Truncate texts to this many words (None: keep every word)."""}

_WORD_CONSTRAINTS = {name: CONSTRAINTS[name] for name in (
    "tokenizer", "word_vectors", "word_vector_dims", "vector_size", "min_count",
    "max_vocabulary", "max_length")}


class _Words(Encoder):
    """Texts as token ids over word vectors: what a word encoder shares."""

    modality, role = "text", "words"

    def _validate_params(self):
        super()._validate_params()
        if not (isinstance(self.word_vectors, str) and self.word_vectors == "word2vec") \
                and self.vector_size != 50:
            raise ValueError(f"{type(self).__name__}(vector_size={self.vector_size!r}) sets the "
                             f"size of Word2Vec trained in fit; word_vectors="
                             f"{self.word_vectors!r} brings its own: leave vector_size=50")

    def text_encoder(self, random_state=None):
        """A new :class:`skmm.inputs.TextEncoder` with these settings."""
        from skmm.inputs import TextEncoder

        return TextEncoder(tokenizer=self.tokenizer, min_count=self.min_count,
                           max_vocabulary=self.max_vocabulary, max_length=self.max_length,
                           word_vectors=self.word_vectors,
                           word_vector_dims=self.word_vector_dims,
                           vector_size=self.vector_size, random_state=random_state)

    def pretrained(self) -> bool:
        """Whether the word vectors were trained elsewhere (not Word2Vec in fit)."""
        from skmm.inputs.word_vectors import is_pretrained

        return is_pretrained(self.word_vectors)


@fill_doc(**_WORD_DOCS)
class MeanWordEncoder(_Words):
    """A text as the mean of its word vectors (the common-vector-space thesis).

    Parameters
    ----------
    %(words)s
    fine_tune : bool, default=True
        Train the word-vector table (initialised by Word2Vec or the loaded
        vectors) with the rest; the special tokens stay zero vectors. On
        small corpora Word2Vec gives words used in the same contexts near-
        identical vectors, and a frozen table cannot tell them apart.
    """

    _parameter_constraints = {**_WORD_CONSTRAINTS, "fine_tune": ["boolean"]}

    def __init__(self, *, tokenizer="english", word_vectors="word2vec", word_vector_dims=None,
                 vector_size=50, min_count=1, max_vocabulary=None, max_length=100,
                 fine_tune=True):
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.max_length = max_length
        self.fine_tune = fine_tune


@fill_doc(**_WORD_DOCS)
class RecurrentTextEncoder(_Words):
    """The papers' text encoder: a recurrent net over a text's word vectors, trained.

    In :class:`~skmm.CRVAEEmbedder` (the published CRVAE) a stacked,
    optionally bidirectional RNN, LSTM or GRU reads the frozen word vectors,
    and a teacher-forced recurrent decoder rebuilds the text: the settings
    of that decoding side (``text_loss``, ``word_dropout``, ``bow_weight``,
    ``mean_vector_weight``) live here because they exist only with it. In
    :class:`~skmm.CommonSpaceEmbedder` the same encoder feeds a branch.

    Parameters
    ----------
    %(words)s
    cell : {"gru", "lstm", "rnn"}, default="gru"
        The recurrent cell (of the encoder and CRVAE's decoder).
    hidden_size : int, default=64
        Hidden units of the recurrent layers.
    num_layers : int, default=2
        Stacked recurrent layers.
    bidirectional : bool, default=True
        A bidirectional encoder.
    mean_pooling : bool or "auto", default="auto"
        The mean of the text's word vectors joins the recurrent net's final
        state: a linear path that keeps where the text lies in the vectors'
        space. ``"auto"``: on with pretrained vectors (``"wordllama"``, a
        file, KeyedVectors), off with Word2Vec trained in fit; the value used
        is the fitted encoder's ``mean_pooling_``.
    fine_tune : bool, default=False
        Train the word-vector table (the common space; CRVAE rebuilds the
        frozen vectors and refuses True).
    text_loss : {"cross_entropy", "mse"}, default="cross_entropy"
        CRVAE's text term. ``"mse"`` (the paper) is the MSE of the predicted
        word vectors; ``"cross_entropy"`` scores every word of the
        vocabulary at each step.
    word_dropout : float, default=0.0
        CRVAE: share of the teacher-forced decoder inputs replaced by the
        zero ``<unk>`` vector in training (Bowman et al. 2016).
    bow_weight : float, default=1.0
        CRVAE: weight of the bag-of-words term (Zhao et al. 2017), which puts
        the words into the latent; 0 switches it off.
    mean_vector_weight : float or "auto", default="auto"
        CRVAE: weight of the term in which a small MLP of the latent rebuilds
        the mean of the text's word vectors. ``"auto"``: 3.0 with pretrained
        vectors, 0 with Word2Vec trained in fit (``mean_vector_weight_``).

    Examples
    --------
    >>> from skmm import CRVAEEmbedder
    >>> from skmm.encoders import RecurrentTextEncoder
    >>> emb = CRVAEEmbedder(text_encoder=RecurrentTextEncoder(cell="lstm", tokenizer="jieba"))
    >>> emb.get_params()["text_encoder__cell"]
    'lstm'
    """

    #: The parameters only CRVAE's decoder acts on.
    DECODER = ("text_loss", "word_dropout", "bow_weight", "mean_vector_weight")

    _parameter_constraints = {
        **_WORD_CONSTRAINTS,
        "cell": [StrOptions({"rnn", "lstm", "gru"})],
        "hidden_size": [_POSITIVE],
        "num_layers": [_POSITIVE],
        "bidirectional": ["boolean"],
        "mean_pooling": ["boolean", StrOptions({"auto"})],
        "fine_tune": ["boolean"],
        "text_loss": [StrOptions({"mse", "cross_entropy"})],
        "word_dropout": [Interval(Real, 0, 1, closed="left")],
        "bow_weight": [_NON_NEGATIVE],
        "mean_vector_weight": [_NON_NEGATIVE, StrOptions({"auto"})],
    }

    def __init__(self, *, tokenizer="english", word_vectors="word2vec", word_vector_dims=None,
                 vector_size=50, min_count=1, max_vocabulary=None, max_length=100,
                 cell="gru", hidden_size=64, num_layers=2, bidirectional=True,
                 mean_pooling="auto", fine_tune=False, text_loss="cross_entropy",
                 word_dropout=0.0, bow_weight=1.0, mean_vector_weight="auto"):
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.max_length = max_length
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.mean_pooling = mean_pooling
        self.fine_tune = fine_tune
        self.text_loss = text_loss
        self.word_dropout = word_dropout
        self.bow_weight = bow_weight
        self.mean_vector_weight = mean_vector_weight

    def resolve_auto(self) -> RecurrentTextEncoder:
        """Set ``mean_pooling_`` and ``mean_vector_weight_`` (``"auto"`` resolved from
        ``word_vectors``); returns self."""
        pretrained = self.pretrained()
        self.mean_pooling_ = (pretrained if self.mean_pooling == "auto"
                              else bool(self.mean_pooling))
        self.mean_vector_weight_ = ((3.0 if pretrained else 0.0)
                                    if self.mean_vector_weight == "auto"
                                    else float(self.mean_vector_weight))
        return self


@fill_doc
class TextMatrix(Encoder):
    """A text as a row of a feature matrix: TF-IDF, mean word vectors, or both (MMEDA).

    MMEDA factorises the matrix of the training texts; this encoder says
    how it is built (``text_encoder="tfidf"`` is ``TextMatrix()``).

    Parameters
    ----------
    features : {"auto", "tfidf", "word2vec", "tfidf+word2vec"}, default="auto"
        ``"tfidf"``: TF-IDF weights of the ``max_features`` most frequent
        words; ``"word2vec"``: the mean of the text's word vectors
        (``word_vectors``); ``"tfidf+word2vec"``: both side by side.
        ``"auto"``: ``"tfidf+word2vec"`` with pretrained ``word_vectors``,
        ``"tfidf"`` with Word2Vec trained in fit (``features_``).
    %(tokenizer)s
    %(word_vectors)s
    %(word_vector_dims)s
    vector_size : int, default=50
        Word2Vec dimensions (``word_vectors="word2vec"`` only).
    max_features : int, default=1000
        Words of the TF-IDF vocabulary.
    """

    modality, role = "text", "matrix"
    _parameter_constraints = {
        "features": [StrOptions({"auto", "tfidf", "word2vec", "tfidf+word2vec"})],
        **{n: _WORD_CONSTRAINTS[n] for n in ("tokenizer", "word_vectors", "word_vector_dims",
                                             "vector_size")},
        "max_features": [_POSITIVE],
    }

    def __init__(self, features="auto", *, tokenizer="english", word_vectors="word2vec",
                 word_vector_dims=None, vector_size=50, max_features=1000):
        self.features = features
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.max_features = max_features

    def resolve_auto(self) -> TextMatrix:
        """Set ``features_`` (``"auto"`` resolved from ``word_vectors``); returns self."""
        from skmm.inputs.word_vectors import is_pretrained

        pretrained = is_pretrained(self.word_vectors)
        self.features_ = (("tfidf+word2vec" if pretrained else "tfidf")
                          if self.features == "auto" else self.features)
        words = "word2vec" in self.features_
        if not words and (pretrained or self.vector_size != 50
                          or self.word_vector_dims is not None):
            raise ValueError(f"TextMatrix(features={self.features_!r}) reads no word vectors: "
                             "word_vectors, vector_size and word_vector_dims act only with "
                             "features 'word2vec' or 'tfidf+word2vec'")
        if words and pretrained and self.vector_size != 50:
            raise ValueError(f"TextMatrix(vector_size={self.vector_size!r}) sets the size of "
                             f"Word2Vec trained in fit; word_vectors={self.word_vectors!r} "
                             "brings its own: leave vector_size=50")
        if "tfidf" not in self.features_ and self.max_features != 1000:
            raise ValueError(f"TextMatrix(max_features=...) sizes the TF-IDF vocabulary; "
                             f"features={self.features_!r} has none")
        return self
