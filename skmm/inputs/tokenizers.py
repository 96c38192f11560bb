"""Split text cells into tokens, and check every text of a column.

Inside a :func:`shared_tokens` block (the embedders' ``_prepare``), every
tokenizer resolved by :func:`get_tokenizer` splits each distinct text once:
checking the texts, building the vocabulary, encoding them and a TF-IDF
vectorizer all read the same token lists.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import logging
import re
import string
import unicodedata
from pathlib import Path

import pandas as pd

from skmm.exceptions import InvalidRowsError
from skmm.inputs.checks import is_missing, make_report

__all__ = [
    "TOKENIZERS",
    "WORDLLAMA",
    "check_text",
    "detokenize",
    "english_tokenize",
    "find_text_problems",
    "get_tokenizer",
    "jieba_tokenize",
    "resolve_tokenizer",
    "shared_tokens",
    "tokenize",
    "wordllama_dir",
    "wordllama_tokenize",
    "wordllama_tokenizer",
]

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


#: The tokenizers known by name.
TOKENIZERS = {"english": english_tokenize, "jieba": jieba_tokenize}

#: ``word_vectors="wordllama"``: the model whose files ship inside the wordllama
#: wheel (Llama 2's 32,000 SentencePiece tokens, 256 dimensions).
WORDLLAMA = "wordllama"
_WORDLLAMA_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


def wordllama_dir() -> Path:
    """The folder of the installed ``wordllama`` package, found without importing it.

    Importing ``wordllama`` would set the root logger to INFO (its
    ``__init__`` calls ``logging.basicConfig``) and, in its loader, fall back
    to the network; skmm reads the two files of its wheel directly.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ImportError
        If wordllama is not installed.
    """
    spec = importlib.util.find_spec(WORDLLAMA)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "word_vectors='wordllama' needs the wordllama package, whose wheel holds the "
            "vectors (nothing is downloaded): pip install 'wordllama>=0.4'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def wordllama_tokenizer():
    """wordllama's subword tokenizer (a ``tokenizers.Tokenizer``), read from its wheel.

    Loaded once per process from the package's own folder (the offline loader
    of wordllama 0.4 looks for it under ``tokenizer/``, a folder the wheel
    does not have, and would otherwise try Hugging Face); nothing is
    downloaded or written.

    Returns
    -------
    tokenizers.Tokenizer
        Without padding or truncation.

    Raises
    ------
    ImportError
        If wordllama is not installed.
    FileNotFoundError
        If its wheel lacks the tokenizer file.
    """
    from tokenizers import Tokenizer

    path = wordllama_dir().joinpath(*_WORDLLAMA_TOKENIZER)
    if not path.is_file():
        raise FileNotFoundError(f"wordllama's tokenizer is not at {path}: reinstall wordllama")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def wordllama_tokenize(text: str) -> list[str]:
    """Split text into wordllama's subword tokens (SentencePiece pieces).

    Case is kept; a piece that starts a word carries the ``"▁"`` marker, and
    characters outside the 32,000 pieces (most Chinese characters) become
    one ``"<0xNN>"`` token per UTF-8 byte.

    Parameters
    ----------
    text : str

    Returns
    -------
    tokens : list of str

    Examples
    --------
    >>> wordllama_tokenize("Grinning face")
    ['▁Gr', 'in', 'ning', '▁face']
    """
    return wordllama_tokenizer().encode(text, add_special_tokens=False).tokens


def detokenize(tokens, *, subwords: bool = False) -> str:
    """Join tokens back into text.

    Parameters
    ----------
    tokens : sequence of str
    subwords : bool, default=False
        The tokens are wordllama's pieces: joined by its tokenizer's decoder
        (``"▁"`` becomes a space, ``"<0xNN>"`` bytes are fused back into
        UTF-8 characters, the leading space is dropped). Otherwise words are
        joined with spaces.

    Returns
    -------
    str

    Examples
    --------
    >>> detokenize(["grinning", "face"])
    'grinning face'
    >>> detokenize(["▁Gr", "in", "ning", "▁face"], subwords=True)
    'Grinning face'
    """
    if subwords:
        return wordllama_tokenizer().decoder.decode(list(tokens))
    return " ".join(tokens)


def resolve_tokenizer(tokenizer, word_vectors):
    """The tokenizer that texts are split with, given the ``word_vectors`` parameter.

    With ``word_vectors="wordllama"`` texts are split into wordllama's own
    subword tokens (:func:`wordllama_tokenize`), the only tokens its table
    has vectors for: the default ``tokenizer="english"`` is then ignored,
    and ``"jieba"`` or a callable is refused.

    Parameters
    ----------
    tokenizer : {"english", "jieba"} or callable
    word_vectors : object
        The ``word_vectors`` parameter.

    Returns
    -------
    tokenizer : {"english", "jieba"} or callable

    Raises
    ------
    ValueError
        For ``word_vectors="wordllama"`` with ``tokenizer="jieba"`` or a callable.
    """
    if not (isinstance(word_vectors, str) and word_vectors == WORDLLAMA):
        return tokenizer
    if isinstance(tokenizer, str) and tokenizer == "english":
        return wordllama_tokenize
    raise ValueError(
        f"word_vectors='wordllama' splits texts with its own subword tokenizer; leave "
        f"tokenizer='english' (the default, then ignored), not {tokenizer!r}. For Chinese, "
        "load Chinese word vectors with tokenizer='jieba' "
        "(e.g. word_vectors='sgns.zhihu.word')"
    )


#: ``{id(tokenizer): (tokenizer, {text: tokens})}`` of the current shared_tokens() block.
_SHARED_TOKENS: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "skmm_shared_tokens", default=None)


@contextlib.contextmanager
def shared_tokens():
    """A block in which each text is tokenized once per tokenizer.

    Tokenizers resolved by :func:`get_tokenizer` inside the block remember
    the tokens of every text they split until the block ends, so the check of
    a column, the vocabulary built on it and its encoding share one
    tokenization (each distinct text is split once). Nested blocks share the
    outermost one; outside any block nothing is remembered. Usable as a
    decorator (``@shared_tokens()``).

    Yields
    ------
    None
    """
    if _SHARED_TOKENS.get() is not None:
        yield
        return
    token = _SHARED_TOKENS.set({})
    try:
        yield
    finally:
        _SHARED_TOKENS.reset(token)


class _SharedTokenizer:
    """A tokenizer that splits each text once per :func:`shared_tokens` block.

    Outside a block it calls ``tokenizer``; it pickles as ``tokenizer``
    itself (a fitted TF-IDF vectorizer may hold it as its analyzer).
    """

    __slots__ = ("tokenizer",)

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text):
        shared = _SHARED_TOKENS.get()
        if shared is None:
            return self.tokenizer(text)
        _, memo = shared.setdefault(id(self.tokenizer), (self.tokenizer, {}))
        tokens = memo.get(text)
        if tokens is None:
            tokens = memo[text] = list(self.tokenizer(text))
        return list(tokens)

    def __reduce__(self):
        return _plain_tokenizer, (self.tokenizer,)

    def __repr__(self):
        return f"shared({self.tokenizer!r})"


def _plain_tokenizer(tokenizer):
    return tokenizer


def get_tokenizer(tokenizer):
    """Resolve a tokenizer parameter into a function ``str -> list[str]``.

    Parameters
    ----------
    tokenizer : {"english", "jieba"} or callable
        A name (:func:`english_tokenize`, :func:`jieba_tokenize`) or a callable,
        returned as is (inside a :func:`shared_tokens` block, wrapped so that
        it splits each text once).

    Returns
    -------
    tokenize : callable
        A function ``str -> list[str]``.

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(tokenizer, _SharedTokenizer):
        tokenizer = tokenizer.tokenizer
    if isinstance(tokenizer, str) and tokenizer in TOKENIZERS:
        tokenizer = TOKENIZERS[tokenizer]
    if callable(tokenizer):
        return tokenizer if _SHARED_TOKENS.get() is None else _SharedTokenizer(tokenizer)
    raise ValueError(
        f"tokenizer must be 'english', 'jieba' or a callable; got {tokenizer!r}"
    )


def find_text_problems(
    values: pd.Series, *, column, tokenizer, out=None
) -> list[tuple]:
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
        elif is_missing(cell):
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
    problems = find_text_problems(
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
    problems = find_text_problems(values, column=column, tokenizer=tokenizer)
    return make_report((row, column, reason) for _, row, reason in problems)
