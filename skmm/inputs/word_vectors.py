"""Word vectors: load them from a file, train them with Word2Vec, cut a table."""

from __future__ import annotations

import os
import zlib

import numpy as np
from sklearn.utils import check_random_state

from skmm.inputs.vocabulary import SPECIALS

__all__ = [
    "WordVectorsNotFoundError",
    "keyed_vectors",
    "load_word_vectors",
    "stable_hash",
    "train_word2vec",
    "vector_table",
]


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


def train_word2vec(token_lists, *, vector_size: int = 50, epochs: int = 20,
                   random_state=None):
    """Train gensim's Word2Vec (CBOW, window 5) on tokenized texts.

    Parameters
    ----------
    token_lists : sequence of list of str
        The training texts.
    vector_size : int, default=50
        Dimension of the vectors.
    epochs : int, default=20
        Training epochs.
    random_state : int, RandomState instance or None, default=None
        Draws Word2Vec's seed. Training uses one worker thread and a
        process-stable hash (:func:`stable_hash`), so an int gives
        bit-identical vectors in any process.

    Returns
    -------
    gensim.models.KeyedVectors
        The vectors of every word of ``token_lists``.
    """
    from gensim.models import Word2Vec

    seed = int(check_random_state(random_state).randint(2**31 - 1))
    model = Word2Vec(
        token_lists,
        vector_size=vector_size,
        min_count=1,
        workers=1,
        epochs=epochs,
        seed=seed,
        hashfxn=stable_hash,
    )
    return model.wv


def keyed_vectors(word_vectors, token_lists, *, vector_size: int = 50, epochs: int = 20,
                  random_state=None):
    """The word vectors a ``word_vectors`` parameter asks for.

    Parameters
    ----------
    word_vectors : "word2vec", str, os.PathLike or gensim KeyedVectors
        ``"word2vec"`` trains vectors on ``token_lists`` (:func:`train_word2vec`);
        a path is loaded with :func:`load_word_vectors`; a KeyedVectors is
        returned as is.
    token_lists : sequence of list of str
        The training texts (used by ``"word2vec"`` only).
    vector_size, epochs, random_state
        Passed to :func:`train_word2vec`.

    Returns
    -------
    gensim.models.KeyedVectors
    """
    if not isinstance(word_vectors, (str, os.PathLike)):
        return word_vectors  # a KeyedVectors
    if word_vectors != "word2vec":
        return load_word_vectors(word_vectors)
    return train_word2vec(token_lists, vector_size=vector_size, epochs=epochs,
                          random_state=random_state)


def vector_table(kv, vocabulary):
    """The rows of ``kv`` for the tokens of a vocabulary.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
        Word vectors.
    vocabulary : Vocabulary
        The tokens, by id.

    Returns
    -------
    vectors : numpy.ndarray of float32, shape (len(vocabulary), kv.vector_size)
        Row ``i`` is the vector of ``vocabulary.itos[i]``; zeros for the
        special tokens and for words ``kv`` lacks.
    has_vector : numpy.ndarray of bool, shape (len(vocabulary),)
        Which rows hold a real vector.
    """
    rows = np.array([kv.key_to_index.get(w, -1) for w in vocabulary.itos], dtype=np.int64)
    rows[: len(SPECIALS)] = -1
    has_vector = rows >= 0
    vectors = np.zeros((len(vocabulary), kv.vector_size), dtype=np.float32)
    vectors[has_vector] = kv.vectors[rows[has_vector]]
    return vectors, has_vector
