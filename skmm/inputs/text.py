"""The text transformers: TextEncoder (ids and a word-vector table) and MeanWordVectors."""

from __future__ import annotations

import os
from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from skmm._params import constraints, fill_doc
from skmm.inputs.checks import FrameMixin, check_columns, check_frame, set_input_features
from skmm.inputs.tokenizers import (
    WORDLLAMA,
    check_text,
    detokenize,
    resolve_tokenizer,
    tokenize,
)
from skmm.inputs.vocabulary import SPECIALS, UNK_ID, Vocabulary
from skmm.inputs.word_vectors import (
    is_pretrained,
    keyed_vectors,
    load_wordllama,
    vector_table,
)

__all__ = ["MeanWordVectors", "TextEncoder", "encode_new_texts"]


@fill_doc
class TextEncoder(BaseEstimator):
    """Tokenizer, vocabulary and frozen word-vector table, fitted on a text column.

    This is the text half of the embedders: they copy ``vocabulary_`` and
    ``vectors_`` into a frozen ``torch.nn.Embedding`` and feed it the ids of
    :meth:`encode`.

    Parameters
    ----------
    %(tokenizer)s
    %(min_count)s
    max_vocabulary : int or None, default=None
        Keep only the most frequent words (specials not counted).
    %(max_length)s
    %(word_vectors)s
        Word2Vec is CBOW with a window of 5; files are read by
        :func:`load_word_vectors`.
    %(word_vector_dims)s
    %(vector_size)s
    word2vec_epochs : int, default=20
        Training epochs of Word2Vec (``word_vectors="word2vec"`` only: another
        value with loaded vectors or wordllama raises ValueError).
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

    _parameter_constraints: ClassVar[dict] = constraints(
        "tokenizer", "min_count", "max_vocabulary", "max_length", "word_vectors",
        "word_vector_dims", "vector_size", "random_state",
        word2vec_epochs=[Interval(Integral, 1, None, closed="left")])

    def __init__(
        self,
        tokenizer="english",
        min_count=1,
        max_vocabulary=None,
        max_length=None,
        word_vectors="word2vec",
        word_vector_dims=None,
        vector_size=50,
        word2vec_epochs=20,
        random_state=None,
    ):
        self.tokenizer = tokenizer
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.max_length = max_length
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.word2vec_epochs = word2vec_epochs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # a Series of strings
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    @property
    def subwords(self) -> bool:
        """Whether texts are split into wordllama's subword tokens (``"wordllama"`` vectors)."""
        return isinstance(self.word_vectors, str) and self.word_vectors == WORDLLAMA

    def tokenize(self, values: pd.Series, *, column="text") -> list[list[str]]:
        """Split texts into the tokens of this encoder, checking every cell.

        The ``tokenizer`` parameter, or wordllama's subword tokenizer with
        ``word_vectors="wordllama"`` (see
        :func:`skmm.inputs.tokenizers.resolve_tokenizer`).

        Parameters
        ----------
        values : pandas.Series
        column : hashable, default="text"

        Returns
        -------
        tokens : list of list of str

        Raises
        ------
        skmm.exceptions.InvalidRowsError
            If any text is missing, not a string, empty or yields no tokens.
        ValueError
            For ``word_vectors="wordllama"`` with another tokenizer than the default.
        """
        return tokenize(values, column=column,
                        tokenizer=resolve_tokenizer(self.tokenizer, self.word_vectors))

    def check(self, values: pd.Series, *, column="text") -> pd.DataFrame:
        """Report the unusable text cells, without raising (like :func:`check_text`)."""
        return check_text(values, column=column,
                          tokenizer=resolve_tokenizer(self.tokenizer, self.word_vectors))

    def detokenize(self, tokens) -> str:
        """Join tokens of this encoder back into text.

        Subword tokens (``word_vectors="wordllama"``) go through wordllama's
        decoder (``"▁"`` marks a space, ``"<0xNN>"`` byte tokens are fused back
        into characters); words are joined with spaces.

        Parameters
        ----------
        tokens : sequence of str

        Returns
        -------
        str
        """
        return detokenize(tokens, subwords=self.subwords)

    @_fit_context(prefer_skip_nested_validation=True)
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
            If no word reaches ``min_count``, or ``vector_size`` or
            ``word2vec_epochs`` is set with pretrained ``word_vectors``.
        """
        if is_pretrained(self.word_vectors):  # Word2Vec's settings would do nothing
            unread = {name: default for name, default in (("vector_size", 50),
                                                          ("word2vec_epochs", 20))
                      if getattr(self, name) != default}
            if unread:
                given = (self.word_vectors if isinstance(self.word_vectors, str | os.PathLike)
                         else type(self.word_vectors).__name__)
                raise ValueError(
                    ", ".join(f"{name}={getattr(self, name)!r}" for name in unread)
                    + f": {'a setting' if len(unread) == 1 else 'settings'} of Word2Vec "
                    f"trained in fit; word_vectors={given!r} brings its own vectors: leave "
                    + " and ".join(f"{name}={default}" for name, default in unread.items()))
        token_lists = self.tokenize(values, column=column)
        vocabulary = Vocabulary.build(
            token_lists, min_count=self.min_count, max_size=self.max_vocabulary
        )
        if len(vocabulary) == len(SPECIALS):
            raise ValueError(
                f"no word of column {column!r} occurs min_count={self.min_count} "
                "times; lower min_count"
            )
        kv = keyed_vectors(
            self.word_vectors,
            token_lists,
            vector_size=self.vector_size,
            epochs=self.word2vec_epochs,
            random_state=self.random_state,
            dims=self.word_vector_dims,
        )
        vectors, has_vector = vector_table(kv, vocabulary)
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
        token_lists = self.tokenize(values, column=column)
        return self.vocabulary_.encode(token_lists, max_length=self.max_length_)

    def encode_with_unseen(self, values: pd.Series, *, column="text"):
        """Like :meth:`encode`, but tokens unseen in fit keep their pretrained vectors.

        A token that the fitted vocabulary lacks but the pretrained vectors
        know (wordllama's table, or a KeyedVectors object passed as
        ``word_vectors``) gets an id from ``len(vocabulary_)`` on instead of
        ``<unk>``, and its vector is returned: the models append these rows
        to their table while they embed (:func:`skmm.nn.embeddings.unseen_rows`).
        Without it, a word that only appears in new texts reads as the zero
        ``<unk>`` vector, and pretrained vectors are worth little on small
        training sets (emoji groups, common space with wordllama, 3 folds:
        0.647 macro-F1 without, 0.704 with). Word2Vec trained in fit knows no
        other word, and a file
        path is not read again: pass the loaded KeyedVectors instead.

        Parameters, errors, ``ids`` and ``lengths``: as :meth:`encode`.

        Returns
        -------
        ids, lengths : numpy.ndarray
        unseen_vectors : numpy.ndarray of float32, shape (n_unseen, ``vector_size_``)
            Row ``i`` is the vector of id ``len(vocabulary_) + i``.
        """
        check_is_fitted(self, "vocabulary_")
        # truncated first, so that no vector is read for a token cut off
        token_lists = [t[:self.max_length_] for t in self.tokenize(values, column=column)]
        unseen, vectors = self.unseen_vectors(token_lists)
        vocabulary = self.vocabulary_
        if unseen:
            vocabulary = Vocabulary([*vocabulary.itos, *unseen])
        ids, lengths = vocabulary.encode(token_lists)
        return ids, lengths, vectors

    def pretrained_vectors(self):
        """The pretrained vectors that can be read after fit, or None.

        wordllama's table (memory-mapped from the installed wheel, at the
        fitted ``vector_size_``) or the KeyedVectors object given as
        ``word_vectors``; None for Word2Vec trained in fit and for a file
        path (not read again).
        """
        check_is_fitted(self, "vocabulary_")
        if self.subwords:
            return load_wordllama(self.vector_size_)
        if isinstance(self.word_vectors, str | os.PathLike):
            return None
        return self.word_vectors

    def unseen_vectors(self, token_lists) -> tuple[list[str], np.ndarray]:
        """The tokens of ``token_lists`` that fit did not see and that have a pretrained vector.

        Parameters
        ----------
        token_lists : sequence of list of str

        Returns
        -------
        tokens : list of str
            In order of first appearance.
        vectors : numpy.ndarray of float32, shape (len(tokens), ``vector_size_``)
        """
        kv = self.pretrained_vectors()
        stoi = self.vocabulary_.stoi
        tokens = [] if kv is None else [
            t for t in dict.fromkeys(t for tl in token_lists for t in tl)
            if t not in stoi and t in kv.key_to_index]
        if not tokens:
            return [], np.zeros((0, self.vector_size_), dtype=np.float32)
        vectors, _ = vector_table(kv, Vocabulary([*SPECIALS, *tokens]))
        return tokens, vectors[len(SPECIALS):]


def encode_new_texts(encoder, values, *, column, unseen: dict, key: str):
    """Token ids of new texts whose tokens unseen in fit keep their pretrained vectors.

    :meth:`skmm.inputs.TextEncoder.encode_with_unseen`, recording the vectors
    in ``unseen[key]`` as :class:`skmm.training.PreparedData` reads them.

    Returns
    -------
    ids, lengths : numpy.ndarray
    """
    ids, lengths, rows = encoder.encode_with_unseen(values, column=column)
    if len(rows):
        unseen[key] = (len(encoder.vocabulary_), rows)
    return ids, lengths


@fill_doc
class MeanWordVectors(FrameMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                      BaseEstimator):
    """Embed a text column as the mean of its word vectors.

    A simple text baseline: each text becomes the average of the vectors of
    its words that have one (zeros when none has). Words are those of the
    fitted vocabulary, except with pretrained vectors that can be read again
    (``word_vectors="wordllama"`` or a KeyedVectors object):
    :meth:`transform` reads the rows of tokens unseen in fit from them (for
    wordllama, from the installed wheel, which it needs for the tokenizer
    anyway), so the result is wordllama's own mean pooling while the fitted
    state keeps only the rows of the fit vocabulary.

    Parameters
    ----------
    text_col : str, default="text"
        Column of ``X`` holding the texts; other columns are ignored.
    %(tokenizer)s
    %(word_vectors)s
    %(word_vector_dims)s
    %(vector_size)s
    min_count : int, default=1
        Words seen fewer times in training get no vector. Not with vectors
        that :meth:`transform` reads again (``"wordllama"``, a KeyedVectors),
        which give every word its vector: another value raises ValueError.
    %(random_state)s

    Attributes
    ----------
    encoder_ : TextEncoder
        The fitted vocabulary and vectors.
    n_features_in_ : int
        Number of columns of ``X`` read in fit: 1.
    feature_names_in_ : ndarray of str
        The columns of ``X`` read in fit: ``[text_col]``.
    """

    _parameter_constraints: ClassVar[dict] = constraints(
        "text_col", "tokenizer", "word_vectors", "word_vector_dims", "vector_size", "min_count",
        "random_state")

    def __init__(
        self,
        text_col="text",
        tokenizer="english",
        word_vectors="word2vec",
        word_vector_dims=None,
        vector_size=50,
        min_count=1,
        random_state=None,
    ):
        self.text_col = text_col
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.min_count = min_count
        self.random_state = random_state

    def _columns(self):
        return [self.text_col]

    @_fit_context(prefer_skip_nested_validation=True)
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
        check_columns(
            check_frame(X), [self.text_col], context="text_col of MeanWordVectors"
        )
        vectors = self.word_vectors
        if self.min_count != 1 and (vectors == WORDLLAMA if isinstance(vectors, str)
                                    else not isinstance(vectors, os.PathLike)):
            given = vectors if isinstance(vectors, str) else type(vectors).__name__
            raise ValueError(
                f"MeanWordVectors(min_count={self.min_count!r}) leaves rare words out of the "
                "fitted vocabulary, but transform reads every word's vector again from "
                f"word_vectors={given!r}: leave min_count=1")
        self.encoder_ = TextEncoder(
            tokenizer=self.tokenizer,
            min_count=self.min_count,
            word_vectors=self.word_vectors,
            word_vector_dims=self.word_vector_dims,
            vector_size=self.vector_size,
            random_state=self.random_state,
        ).fit(X[self.text_col], column=self.text_col)
        set_input_features(self, X, self._columns())
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
        token_lists = enc.tokenize(X[self.text_col], column=self.text_col)
        stoi, vectors, has_vector = _lookup_table(enc, token_lists)
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
            shape=(len(ids), len(vectors)),
        )
        counts = counts @ sp.diags(has_vector.astype(np.float32))  # known words only
        n_known = np.asarray(counts.sum(axis=1)).ravel()
        sums = np.asarray(counts @ vectors, dtype=np.float32)
        return (sums / np.maximum(n_known, 1)[:, None]).astype(np.float32, copy=False)


def _lookup_table(enc: TextEncoder, token_lists):
    """The token -> row map, vectors and known rows that :class:`MeanWordVectors` averages.

    The fitted table, extended with the pretrained rows of the tokens that
    fit did not see (:meth:`TextEncoder.unseen_vectors`).
    """
    stoi, vectors, has_vector = enc.vocabulary_.stoi, enc.vectors_, enc.has_vector_
    unseen, extra = enc.unseen_vectors(token_lists)
    if not unseen:
        return stoi, vectors, has_vector
    stoi = {**stoi, **{t: len(stoi) + i for i, t in enumerate(unseen)}}
    return (stoi, np.concatenate([vectors, extra]),
            np.concatenate([has_vector, np.ones(len(unseen), dtype=bool)]))
