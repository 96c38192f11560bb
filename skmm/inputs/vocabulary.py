"""The mapping between tokens and integer ids, with its special tokens."""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = ["PAD", "PAD_ID", "SOS", "SOS_ID", "SPECIALS", "UNK", "UNK_ID", "Vocabulary"]

#: Special tokens, with the fixed ids 0, 1 and 2.
PAD, UNK, SOS = "<pad>", "<unk>", "<sos>"
SPECIALS = (PAD, UNK, SOS)
PAD_ID, UNK_ID, SOS_ID = 0, 1, 2


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
