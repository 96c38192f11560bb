"""Split text cells into tokens, and check every text of a column."""

from __future__ import annotations

import functools
import logging
import re
import string
import unicodedata

import pandas as pd

from skmm.exceptions import InvalidRowsError
from skmm.inputs.checks import is_missing, make_report

__all__ = [
    "TOKENIZERS",
    "check_text",
    "english_tokenize",
    "find_text_problems",
    "get_tokenizer",
    "jieba_tokenize",
    "tokenize",
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
    if isinstance(tokenizer, str) and tokenizer in TOKENIZERS:
        return TOKENIZERS[tokenizer]
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
