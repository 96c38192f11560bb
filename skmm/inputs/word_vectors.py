"""Word vectors: load them from a file or from wordllama, train Word2Vec, cut a table."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
from sklearn.utils import check_random_state

from skmm.inputs.tokenizers import WORDLLAMA, wordllama_dir, wordllama_tokenizer
from skmm.inputs.vocabulary import SPECIALS

__all__ = [
    "WORDLLAMA_DIMS",
    "StaticVectors",
    "WordVectorsFormatError",
    "WordVectorsNotFoundError",
    "is_pretrained",
    "keyed_vectors",
    "load_word_vectors",
    "load_wordllama",
    "stable_hash",
    "train_word2vec",
    "vector_table",
]

#: The Matryoshka sizes of wordllama's vectors: the first 64, 128 or all 256
#: dimensions (``word_vector_dims``).
WORDLLAMA_DIMS = (64, 128, 256)
_WORDLLAMA_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_SAFETENSORS_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}


class WordVectorsNotFoundError(FileNotFoundError, ValueError):
    """The word-vectors file given as ``word_vectors`` does not exist."""


class WordVectorsFormatError(ValueError):
    """A word-vectors text file is not word2vec (or GloVe) text.

    The message names the file, the first line that is not a word followed
    by the vector's numbers (1-based) and what was expected.
    """


#: Longest a line of a malformed file is quoted in an error.
_QUOTED_CHARS = 80


def _first_bad_line(path: str) -> tuple[int, str, str] | None:
    """``(line number, line, why)`` of the first line of a word2vec text file that is
    not a word followed by ``dim`` numbers (after an optional ``"count dim"`` header),
    or None when every line is."""
    from gensim import utils

    dim = None
    with utils.open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                return number, repr(raw[:_QUOTED_CHARS]), "not UTF-8 text"
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if dim is None:  # no header: the first row gives the dimension
                dim = len(parts) - 1
                if dim < 1:
                    return number, line, "a word without numbers"
            if len(parts) != dim + 1:
                return number, line, f"{len(parts) - 1} values after the word, not {dim}"
            for value in parts[1:]:
                try:
                    float(value)
                except ValueError:
                    return number, line, f"{value[:_QUOTED_CHARS]!r} is not a number"
    return None


def _load_text(path: str, **kwargs):
    """``KeyedVectors.load_word2vec_format(path, binary=False, ...)``; a malformed file
    raises :class:`WordVectorsFormatError` naming its first bad line."""
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(path, binary=False, **kwargs)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, KeyError) as err:
        expected = ("expected word2vec text: an optional \"<count> <dim>\" header line, then "
                    "one line per word, the word followed by <dim> numbers separated by spaces")
        bad = _first_bad_line(path)
        if bad is None:
            raise WordVectorsFormatError(
                f"word vectors file {path!r} cannot be read ({type(err).__name__}: {err}); "
                f"{expected}") from err
        number, line, why = bad
        quoted = line if len(line) <= _QUOTED_CHARS else line[:_QUOTED_CHARS - 3] + "..."
        raise WordVectorsFormatError(
            f"word vectors file {path!r}, line {number}: {why} ({quoted!r}); "
            f"{expected}") from err


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


def _is_word2vec_text(path: str) -> bool:
    """Whether a file of any name is word2vec text: a ``"<count> <dim>"`` line, then a
    line of a word and ``dim`` numbers (e.g. the Chinese Word Vectors' ``sgns.zhihu.word``)."""
    from gensim import utils

    try:
        with utils.open(path, "rb") as f:
            header = f.readline().split()
            row = f.readline().decode("utf-8").rstrip().split(" ")
        if len(header) != 2 or not all(p.isdigit() for p in header):
            return False
        [float(x) for x in row[1:]]
    except (UnicodeDecodeError, ValueError, OSError):
        return False
    return len(row) == int(header[1]) + 1


def load_word_vectors(path):
    """Load pre-trained word vectors from a file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.kv`` / ``.model`` (gensim ``save``; a full model's ``wv`` is used),
        ``.bin`` (word2vec binary), ``.txt`` / ``.vec`` (word2vec text, or GloVe
        text without a header line, detected). A file of another name that
        holds word2vec text (a ``"<count> <dim>"`` line first, such as the
        Chinese Word Vectors' ``sgns.zhihu.word``) is read as such. A ``.gz``
        or ``.bz2`` suffix on the word2vec formats is handled.

    Returns
    -------
    gensim.models.KeyedVectors

    Raises
    ------
    WordVectorsNotFoundError
        If the file does not exist (a ``FileNotFoundError`` and a ``ValueError``).
    WordVectorsFormatError
        If a text file is not word2vec or GloVe text (a ``ValueError``): the
        message names the file and its first bad line.
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
        return _load_text(path, no_header=not _peek_header(path))
    if _is_word2vec_text(path):
        return _load_text(path)
    raise ValueError(
        f"cannot tell the format of word vectors file {path!r}: "
        "use .kv/.model (gensim), .bin (word2vec binary) or .txt/.vec (word2vec or GloVe text)"
    )


class StaticVectors:
    """A read-only table of token vectors, read like gensim's KeyedVectors.

    Offers what :func:`vector_table` reads: ``key_to_index``, ``vectors``
    and ``vector_size``.

    Parameters
    ----------
    key_to_index : dict of str to int
        Row of each token.
    vectors : numpy.ndarray, shape (n_tokens, vector_size)
        Any float dtype; may be a memory map, of which only the rows a
        vocabulary uses are ever read.
    """

    def __init__(self, key_to_index: dict, vectors):
        self.key_to_index = key_to_index
        self.vectors = vectors

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vectors)

    def __repr__(self) -> str:
        return f"StaticVectors({len(self)} tokens x {self.vector_size} dims)"


def _map_safetensors(path, key: str) -> np.ndarray:
    """A read-only memory map of one tensor of a ``.safetensors`` file (no torch)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    info = header[key]
    dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
    if dtype is None:
        raise ValueError(f"{path}: cannot read {key!r} of dtype {info['dtype']}")
    start, _ = info["data_offsets"]
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + n + start,
                     shape=tuple(info["shape"]))


def load_wordllama(dims: int | None = None) -> StaticVectors:
    """wordllama's token vectors, read from the files of its installed wheel.

    The 32,000 x 256 table of the ``l2_supercat`` model (Llama 2's token
    embeddings distilled into a static table, trained Matryoshka-style so that
    its first 64 or 128 dimensions work on their own) is memory-mapped: only
    the rows a vocabulary uses are ever read (:func:`vector_table`). Nothing
    is downloaded or written, and ``wordllama`` itself is not imported.

    Parameters
    ----------
    dims : {64, 128, 256} or None, default=None
        Keep the first ``dims`` dimensions (None: all 256).

    Returns
    -------
    StaticVectors
        Keyed by wordllama's subword tokens (see
        :func:`skmm.inputs.tokenizers.wordllama_tokenize`).

    Raises
    ------
    ImportError
        If wordllama is not installed.
    """
    path = wordllama_dir().joinpath(*_WORDLLAMA_WEIGHTS)
    if not path.is_file():
        raise FileNotFoundError(f"wordllama's vectors are not at {path}: reinstall wordllama")
    table = _map_safetensors(path, "embedding.weight")
    if dims is not None:
        if dims not in WORDLLAMA_DIMS:
            raise ValueError(f"word_vector_dims must be one of {WORDLLAMA_DIMS}; got {dims!r}")
        table = table[:, :dims]
    return StaticVectors(wordllama_tokenizer().get_vocab(), table)


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


def is_pretrained(word_vectors) -> bool:
    """Whether a ``word_vectors`` parameter names vectors trained elsewhere
    (wordllama, a file or a KeyedVectors), not Word2Vec trained in ``fit``."""
    return not (isinstance(word_vectors, str) and word_vectors == "word2vec")


def keyed_vectors(word_vectors, token_lists, *, vector_size: int = 50, epochs: int = 20,
                  random_state=None, dims: int | None = None):
    """The word vectors a ``word_vectors`` parameter asks for.

    Parameters
    ----------
    word_vectors : "word2vec", "wordllama", str, os.PathLike or gensim KeyedVectors
        ``"word2vec"`` trains vectors on ``token_lists`` (:func:`train_word2vec`);
        ``"wordllama"`` reads wordllama's table (:func:`load_wordllama`); a
        path is loaded with :func:`load_word_vectors`; a KeyedVectors is
        returned as is.
    token_lists : sequence of list of str
        The training texts (used by ``"word2vec"`` only).
    vector_size, epochs, random_state
        Passed to :func:`train_word2vec`.
    dims : {64, 128, 256} or None, default=None
        The first dimensions of wordllama's vectors to keep (``"wordllama"`` only).

    Returns
    -------
    gensim.models.KeyedVectors or StaticVectors

    Raises
    ------
    ValueError
        If ``dims`` is given for other vectors than ``"wordllama"``.
    """
    is_wordllama = isinstance(word_vectors, str) and word_vectors == WORDLLAMA
    if dims is not None and not is_wordllama:
        raise ValueError(
            f"word_vector_dims={dims!r} truncates wordllama's Matryoshka vectors and needs "
            "word_vectors='wordllama'; set vector_size for word2vec, or leave it None"
        )
    if is_wordllama:
        return load_wordllama(dims)
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
    kv : gensim.models.KeyedVectors or StaticVectors
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
    vectors[has_vector] = kv.vectors[rows[has_vector]]  # of a memory map: these rows only
    return vectors, has_vector
