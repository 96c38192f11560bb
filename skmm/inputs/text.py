"""Tokenize text cells, map tokens to ids, and build frozen word-vector tables."""

from __future__ import annotations

import functools
import logging
import os
import re
import string
import unicodedata
import zlib
from collections import Counter
from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm.exceptions import InvalidRowsError
from skmm.inputs.frame import (
    _set_input_features,
    check_columns,
    check_frame,
    make_report,
)

__all__ = [
    "PAD",
    "SOS",
    "UNK",
    "MeanWordVectors",
    "TextEncoder",
    "Vocabulary",
    "WordVectorsNotFoundError",
    "check_text",
    "english_tokenize",
    "get_tokenizer",
    "jieba_tokenize",
    "tokenize",
]

#: Special tokens, with the fixed ids 0, 1 and 2.
PAD, UNK, SOS = "<pad>", "<unk>", "<sos>"
SPECIALS = (PAD, UNK, SOS)
PAD_ID, UNK_ID, SOS_ID = 0, 1, 2

# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------

# The rules of torchtext's ``basic_english`` tokenizer (``_basic_english_normalize``).
_ENGLISH_RULES = [
    (re.compile(pattern), replacement)
    for pattern, replacement in [
        (r"\'", " '  "),
        (r"\"", ""),
        (r"\.", " . "),
        (r"<br \/>", " "),
        (r",", " , "),
        (r"\(", " ( "),
        (r"\)", " ) "),
        (r"\!", " ! "),
        (r"\?", " ? "),
        (r"\;", " "),
        (r"\:", " "),
        (r"\s+", " "),
    ]
]


def english_tokenize(text: str) -> list[str]:
    """Split English text like torchtext's ``basic_english`` tokenizer.

    Lower-cases, removes double quotes, ``;``, ``:`` and ``<br />``, makes
    ``'``, ``.``, ``,``, ``(``, ``)``, ``!`` and ``?`` separate tokens, then
    splits on whitespace.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    tokens : list of str
        The tokens, in order.

    Examples
    --------
    >>> english_tokenize("Hello, World! It's <br />fine.")
    ['hello', ',', 'world', '!', 'it', "'", 's', 'fine', '.']
    """
    text = text.lower()
    for pattern, replacement in _ENGLISH_RULES:
        text = pattern.sub(replacement, text)
    return text.split()


@functools.cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    jieba.initialize()
    return jieba


def _is_punctuation(token: str) -> bool:
    return all(
        ch.isspace()
        or ch in string.punctuation
        or unicodedata.category(ch).startswith("P")
        for ch in token
    )


def jieba_tokenize(text: str) -> list[str]:
    """Segment Chinese text with jieba, dropping whitespace and punctuation.

    Tokens made only of whitespace, ASCII punctuation (``string.punctuation``)
    or Unicode punctuation (categories ``P*``: ``，。！？、；：「」（）《》`` ...)
    are dropped; other symbols (emoji, ``℃``, ``©``) are kept as words.
    jieba's dictionary is loaded on first use, silently.

    Parameters
    ----------
    text : str
        The text to segment.

    Returns
    -------
    tokens : list of str
        The words, in order.

    Examples
    --------
    >>> jieba_tokenize("我爱北京天安门。")
    ['我', '爱', '北京', '天安门']
    """
    return [t for t in _jieba().lcut(text) if not _is_punctuation(t)]


_TOKENIZERS = {"english": english_tokenize, "jieba": jieba_tokenize}


def get_tokenizer(tokenizer):
    """Resolve a tokenizer parameter into a function ``str -> list[str]``.

    Parameters
    ----------
    tokenizer : {"english", "jieba"} or callable
        A name (:func:`english_tokenize`, :func:`jieba_tokenize`) or a callable,
        returned as is.

    Returns
    -------
    tokenize : callable
        A function ``str -> list[str]``.

    Raises
    ------
    ValueError
        For anything else.
    """
    if callable(tokenizer):
        return tokenizer
    if isinstance(tokenizer, str) and tokenizer in _TOKENIZERS:
        return _TOKENIZERS[tokenizer]
    raise ValueError(
        f"tokenizer must be 'english', 'jieba' or a callable; got {tokenizer!r}"
    )


def _text_problems(values: pd.Series, *, column, tokenizer, out=None) -> list[tuple]:
    """Tokenize every cell (appending to ``out``); return ``(pos, row, reason)``."""
    tokenizer = get_tokenizer(tokenizer)
    problems = []
    for i, (row, cell) in enumerate(zip(values.index.tolist(), values.tolist())):
        tokens = None
        if isinstance(cell, str):
            if not cell.strip():
                reason = "empty text"
            else:
                tokens = list(tokenizer(cell))
                reason = None if tokens else "no tokens after tokenization"
        elif cell is None or (pd.api.types.is_scalar(cell) and pd.isna(cell)):
            reason = "missing text"
        else:
            reason = f"not a string (got {type(cell).__name__})"
        if reason is not None:
            problems.append((i, row, reason))
        elif out is not None:
            out.append(tokens)
    return problems


def tokenize(values: pd.Series, *, column, tokenizer="english") -> list[list[str]]:
    """Tokenize a column of texts, checking every cell.

    Parameters
    ----------
    values : pandas.Series
        The texts; the index gives the row labels used in error messages.
    column : hashable
        Column name, for error messages.
    tokenizer : {"english", "jieba"} or callable, default="english"

    Returns
    -------
    tokens : list of list of str
        One non-empty token list per cell.

    Raises
    ------
    skmm.exceptions.InvalidRowsError
        After checking every cell, if any is missing, not a string, empty or
        yields no tokens; its ``report`` lists them all.
    """
    token_lists: list[list[str]] = []
    problems = _text_problems(
        values, column=column, tokenizer=tokenizer, out=token_lists
    )
    if problems:
        raise InvalidRowsError(make_report((row, column, r) for _, row, r in problems))
    return token_lists


def check_text(values: pd.Series, *, column, tokenizer="english") -> pd.DataFrame:
    """Report the text cells that cannot be used, without raising.

    Parameters
    ----------
    values : pandas.Series
        The texts.
    column : hashable
        Column name written in the report.
    tokenizer : {"english", "jieba"} or callable, default="english"

    Returns
    -------
    report : pandas.DataFrame
        Columns ``row``, ``column``, ``reason``; empty when every cell is usable.
    """
    problems = _text_problems(values, column=column, tokenizer=tokenizer)
    return make_report((row, column, reason) for _, row, reason in problems)


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------


class Vocabulary:
    """A mapping between tokens and integer ids.

    Ids 0, 1, 2 are :data:`PAD`, :data:`UNK` and :data:`SOS`; words follow.
    Build one with :meth:`build`.

    Parameters
    ----------
    itos : list of str
        Token of each id; must start with ``PAD, UNK, SOS``.
    counts : collections.Counter, optional
        Training counts of every token seen (including words left out of the
        vocabulary by ``min_count`` or ``max_size``).

    Attributes
    ----------
    itos : list of str
    stoi : dict of str to int
    counts : collections.Counter
    """

    def __init__(self, itos, counts=None):
        itos = list(itos)
        if tuple(itos[:3]) != SPECIALS:
            raise ValueError(f"itos must start with {list(SPECIALS)}; got {itos[:3]}")
        self.itos = itos
        self.stoi = {token: i for i, token in enumerate(itos)}
        if len(self.stoi) != len(itos):
            raise ValueError("itos has duplicate tokens")
        self.counts = Counter() if counts is None else Counter(counts)

    @classmethod
    def build(cls, token_lists, *, min_count: int = 1, max_size: int | None = None):
        """Build a vocabulary from tokenized texts.

        Words are ordered by descending count, ties by first appearance, so the
        result is deterministic.

        Parameters
        ----------
        token_lists : iterable of list of str
        min_count : int, default=1
            Keep words seen at least this many times.
        max_size : int or None, default=None
            Keep at most this many words (the three special tokens come on top).

        Returns
        -------
        vocabulary : Vocabulary
        """
        counts = Counter(
            t for tokens in token_lists for t in tokens if t not in SPECIALS
        )
        # Counter keeps first-appearance order and sorted() is stable.
        words = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: -counts[w]
        )
        return cls([*SPECIALS, *words[:max_size]], counts)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return (
            f"Vocabulary({len(self) - len(SPECIALS)} words + {len(SPECIALS)} specials)"
        )

    def encode(self, token_lists, *, max_length: int | None = None):
        """Map tokenized texts to a padded id matrix.

        Parameters
        ----------
        token_lists : sequence of list of str
        max_length : int or None, default=None
            Truncate texts longer than this.

        Returns
        -------
        ids : numpy.ndarray of int64, shape (n, T)
            Padded with 0 (:data:`PAD`); unknown words are 1 (:data:`UNK`).
            ``T`` is the longest text of this call (capped by ``max_length``),
            at least 1.
        lengths : numpy.ndarray of int64, shape (n,)
            Number of tokens of each row, capped by ``max_length``; at least 1
            (an empty text counts as one PAD token, so packed sequences work).
        """
        get = self.stoi.get
        rows = [[get(t, UNK_ID) for t in tokens[:max_length]] for tokens in token_lists]
        lengths = np.array([max(len(r), 1) for r in rows], dtype=np.int64)
        ids = np.zeros((len(rows), int(lengths.max(initial=1))), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        return ids, lengths

    def decode(self, ids_row) -> list[str]:
        """Map one row of ids back to tokens.

        Parameters
        ----------
        ids_row : sequence of int
            Token ids, e.g. a row of :meth:`encode`'s ``ids``.

        Returns
        -------
        tokens : list of str
            :data:`PAD` and :data:`SOS` are dropped; unknown words stay
            ``"<unk>"``.
        """
        return [
            self.itos[i]
            for i in np.asarray(ids_row).tolist()
            if i not in (PAD_ID, SOS_ID)
        ]


# ---------------------------------------------------------------------------
# Word vectors
# ---------------------------------------------------------------------------


class WordVectorsNotFoundError(FileNotFoundError, ValueError):
    """The word-vectors file given as ``word_vectors`` does not exist."""


def stable_hash(text: str) -> int:
    """A hash that does not change between processes (unlike :func:`hash`).

    Passed to gensim's ``Word2Vec(hashfxn=...)``: the default, Python's
    salted ``hash``, would seed word vectors differently in every process.

    Parameters
    ----------
    text : str
        Any string (a word).

    Returns
    -------
    int
    """
    return zlib.crc32(text.encode("utf-8"))


def _peek_header(path: str) -> bool:
    """Whether a text vectors file starts with a ``"<count> <dim>"`` line."""
    from gensim import utils

    with utils.open(path, "rb") as f:
        parts = f.readline().split()
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def load_word_vectors(path):
    """Load pre-trained word vectors from a file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.kv`` / ``.model`` (gensim ``save``; a full model's ``wv`` is used),
        ``.bin`` (word2vec binary), ``.txt`` / ``.vec`` (word2vec text, or GloVe
        text without a header line, detected). A ``.gz`` or ``.bz2`` suffix on
        the word2vec formats is handled.

    Returns
    -------
    gensim.models.KeyedVectors

    Raises
    ------
    WordVectorsNotFoundError
        If the file does not exist (a ``FileNotFoundError`` and a ``ValueError``).
    ValueError
        If the extension is not one of those above.
    """
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WordVectorsNotFoundError(f"word vectors file not found: {path!r}")
    name = path.lower()
    for compression in (".gz", ".bz2"):
        name = name.removesuffix(compression)
    ext = os.path.splitext(name)[1]
    if ext in (".kv", ".model"):
        kv = getattr(SaveLoad.load(path), "wv", None)
        kv = SaveLoad.load(path) if kv is None else kv
        if not isinstance(kv, KeyedVectors):
            raise ValueError(f"{path!r} holds a {type(kv).__name__}, not word vectors")
        return kv
    if ext == ".bin":
        return KeyedVectors.load_word2vec_format(path, binary=True)
    if ext in (".txt", ".vec"):
        return KeyedVectors.load_word2vec_format(
            path, binary=False, no_header=not _peek_header(path)
        )
    raise ValueError(
        f"cannot tell the format of word vectors file {path!r}: "
        "use .kv/.model (gensim), .bin (word2vec binary) or .txt/.vec (word2vec or GloVe text)"
    )


class TextEncoder(BaseEstimator):
    """Tokenizer, vocabulary and frozen word-vector table, fitted on a text column.

    This is the text half of the embedders: they copy ``vocabulary_`` and
    ``vectors_`` into a frozen ``torch.nn.Embedding`` and feed it the ids of
    :meth:`encode`.

    Parameters
    ----------
    tokenizer : {"english", "jieba"} or callable, default="english"
        See :func:`get_tokenizer`.
    min_count : int, default=1
        Words seen fewer times in fit are unknown (``<unk>``).
    max_vocabulary : int or None, default=None
        Keep only the most frequent words (specials not counted).
    max_length : int or None, default=None
        Truncate texts to this many tokens.
    word_vectors : "word2vec", str, os.PathLike or gensim KeyedVectors, default="word2vec"
        ``"word2vec"`` trains gensim's Word2Vec (CBOW, window 5) on the fit
        texts; a path is loaded with :func:`load_word_vectors`; a KeyedVectors
        is used as is. Only the rows of the vocabulary are kept.
    vector_size : int, default=50
        Dimension of the trained vectors (ignored for pre-trained vectors).
    word2vec_epochs : int, default=20
        Training epochs of Word2Vec.
    random_state : int, RandomState instance or None, default=None
        Seeds Word2Vec. Training uses one worker thread and a process-stable
        hash (:func:`stable_hash`), so an int gives bit-identical vectors in
        any process.

    Attributes
    ----------
    vocabulary_ : Vocabulary
    vectors_ : numpy.ndarray of float32, shape (n_words, n_dims)
        Row ``i`` is the vector of ``vocabulary_.itos[i]``; zeros for the
        special tokens and for words without a vector
        (``n_words = len(vocabulary_)``, ``n_dims = vector_size_``).
    has_vector_ : numpy.ndarray of bool, shape (n_words,)
        Which rows hold a real vector.
    vector_size_ : int
    max_length_ : int
        Longest training text in tokens, capped by ``max_length``.
    oov_rate_ : float
        Fraction of vocabulary words with no vector (0 for trained vectors).
    oov_words_ : list of str
        Those words.
    """

    _parameter_constraints: ClassVar[dict] = {
        "tokenizer": [StrOptions(set(_TOKENIZERS)), callable],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_vocabulary": [Interval(Integral, 1, None, closed="left"), None],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "word_vectors": [str, os.PathLike, HasMethods(["get_vector"])],
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "word2vec_epochs": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        tokenizer="english",
        min_count=1,
        max_vocabulary=None,
        max_length=None,
        word_vectors="word2vec",
        vector_size=50,
        word2vec_epochs=20,
        random_state=None,
    ):
        self.tokenizer = tokenizer
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.max_length = max_length
        self.word_vectors = word_vectors
        self.vector_size = vector_size
        self.word2vec_epochs = word2vec_epochs
        self.random_state = random_state

    def _keyed_vectors(self, token_lists):
        from gensim.models import Word2Vec

        if not isinstance(self.word_vectors, (str, os.PathLike)):
            return self.word_vectors  # a KeyedVectors
        if self.word_vectors != "word2vec":
            return load_word_vectors(self.word_vectors)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        model = Word2Vec(
            token_lists,
            vector_size=self.vector_size,
            min_count=1,
            workers=1,
            epochs=self.word2vec_epochs,
            seed=seed,
            hashfxn=stable_hash,
        )
        return model.wv

    def fit(self, values: pd.Series, *, column="text"):
        """Tokenize, build the vocabulary and the word-vector table.

        Parameters
        ----------
        values : pandas.Series
            Training texts.
        column : hashable, default="text"
            Column name, for error messages.

        Returns
        -------
        self : TextEncoder
            The fitted encoder.

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            If any text is missing, not a string, empty or yields no tokens.
        ValueError
            If no word reaches ``min_count``.
        """
        self._validate_params()
        token_lists = tokenize(values, column=column, tokenizer=self.tokenizer)
        vocabulary = Vocabulary.build(
            token_lists, min_count=self.min_count, max_size=self.max_vocabulary
        )
        if len(vocabulary) == len(SPECIALS):
            raise ValueError(
                f"no word of column {column!r} occurs min_count={self.min_count} "
                "times; lower min_count"
            )
        kv = self._keyed_vectors(token_lists)
        rows = np.array(
            [kv.key_to_index.get(w, -1) for w in vocabulary.itos], dtype=np.int64
        )
        rows[: len(SPECIALS)] = -1
        has_vector = rows >= 0
        vectors = np.zeros((len(vocabulary), kv.vector_size), dtype=np.float32)
        vectors[has_vector] = kv.vectors[rows[has_vector]]
        oov = [
            w
            for w, ok in zip(
                vocabulary.itos[len(SPECIALS) :], has_vector[len(SPECIALS) :]
            )
            if not ok
        ]
        longest = max(len(t) for t in token_lists)
        # Assign at the end so that a failed fit leaves a previous fit untouched.
        self.vocabulary_ = vocabulary
        self.vectors_ = vectors
        self.has_vector_ = has_vector
        self.vector_size_ = int(kv.vector_size)
        self.max_length_ = (
            longest if self.max_length is None else min(longest, self.max_length)
        )
        self.oov_words_ = oov
        self.oov_rate_ = len(oov) / (len(vocabulary) - len(SPECIALS))
        return self

    def encode(self, values: pd.Series, *, column="text"):
        """Tokenize texts and map them to padded ids.

        Parameters
        ----------
        values : pandas.Series
            Texts.
        column : hashable, default="text"
            Column name, for error messages.

        Returns
        -------
        ids : numpy.ndarray of int64, shape (n, T)
            ``T`` is the longest text of ``values``, capped by ``max_length_``.
        lengths : numpy.ndarray of int64, shape (n,)
            Number of tokens of each text, capped by ``max_length_``.

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            If any text is unusable.
        """
        check_is_fitted(self, "vocabulary_")
        token_lists = tokenize(values, column=column, tokenizer=self.tokenizer)
        return self.vocabulary_.encode(token_lists, max_length=self.max_length_)


class MeanWordVectors(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Embed a text column as the mean of its word vectors.

    A simple text baseline: each text becomes the average of the vectors of
    its words that have one (zeros when none has).

    Parameters
    ----------
    text_col : str, default="text"
        Column of ``X`` holding the texts; other columns are ignored.
    tokenizer : {"english", "jieba"} or callable, default="english"
    word_vectors : "word2vec", str, os.PathLike or gensim KeyedVectors, default="word2vec"
        See :class:`TextEncoder`.
    vector_size : int, default=50
        Dimension of trained vectors.
    min_count : int, default=1
        Words seen fewer times in fit are ignored.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    encoder_ : TextEncoder
        The fitted vocabulary and vectors.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    _parameter_constraints: ClassVar[dict] = {
        "text_col": [str],
        "tokenizer": [StrOptions(set(_TOKENIZERS)), callable],
        "word_vectors": [str, os.PathLike, HasMethods(["get_vector"])],
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        text_col="text",
        tokenizer="english",
        word_vectors="word2vec",
        vector_size=50,
        min_count=1,
        random_state=None,
    ):
        self.text_col = text_col
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.vector_size = vector_size
        self.min_count = min_count
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the vocabulary and word vectors on ``X[text_col]``.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored
            Not used, present for API consistency.

        Returns
        -------
        self : MeanWordVectors
        """
        self._validate_params()
        check_columns(
            check_frame(X), [self.text_col], context="text_col of MeanWordVectors"
        )
        self.encoder_ = TextEncoder(
            tokenizer=self.tokenizer,
            min_count=self.min_count,
            word_vectors=self.word_vectors,
            vector_size=self.vector_size,
            random_state=self.random_state,
        ).fit(X[self.text_col], column=self.text_col)
        _set_input_features(self, X)
        return self

    @property
    def _n_features_out(self):
        return self.encoder_.vector_size_

    def transform(self, X) -> np.ndarray:
        """Average the word vectors of each text.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        embeddings : numpy.ndarray of float32, shape (n_samples, n_dims)
            Mean of the vectors of the known words of each text (zeros if none);
            ``n_dims`` is the fitted encoder's ``vector_size_``.

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            If any text is unusable.
        """
        check_is_fitted(self, "encoder_")
        check_columns(
            check_frame(X), [self.text_col], context="text_col of MeanWordVectors"
        )
        enc = self.encoder_
        token_lists = tokenize(
            X[self.text_col], column=self.text_col, tokenizer=enc.tokenizer
        )
        stoi = enc.vocabulary_.stoi
        ids = [[stoi.get(t, UNK_ID) for t in tokens] for tokens in token_lists]
        indptr = np.cumsum([0] + [len(r) for r in ids])
        counts = sp.csr_matrix(
            (
                np.ones(indptr[-1], dtype=np.float32),
                np.fromiter(
                    (i for r in ids for i in r), dtype=np.int64, count=indptr[-1]
                ),
                indptr,
            ),
            shape=(len(ids), len(enc.vocabulary_)),
        )
        counts = counts @ sp.diags(
            enc.has_vector_.astype(np.float32)
        )  # known words only
        n_known = np.asarray(counts.sum(axis=1)).ravel()
        sums = np.asarray(counts @ enc.vectors_, dtype=np.float32)
        return (sums / np.maximum(n_known, 1)[:, None]).astype(np.float32, copy=False)
