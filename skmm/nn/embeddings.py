"""Word-vector tables: the one place a (vocabulary, dim) array becomes an ``nn.Embedding``.

The text encoders of every model (:class:`skmm.nn.crvae.CRVAE`, the common
space branches, the late-fusion classifier) read token ids through a table
built by :func:`word_vector_table`. Row 0 is ``<pad>``, rows 1 and 2 are
``<unk>`` and ``<sos>`` (see :class:`skmm.inputs.TextEncoder`, whose
``vectors_`` holds zeros there).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["WordVectors", "mean_word_vectors", "unseen_rows", "word_vector_table"]


def mean_word_vectors(vectors: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The mean of each text's word vectors: (n, length, dim) -> (n, dim).

    ``lengths`` counts the tokens of each text; the padding rows are zero
    vectors, so they add nothing to the sum (``<unk>`` is a zero vector too,
    and counts as a word). An empty text gives the zero vector.
    """
    return vectors.sum(1) / lengths.to(vectors.device, vectors.dtype).clamp_min(1)[:, None]


class WordVectors(nn.Embedding):
    """A word-vector table whose special tokens (ids 0, 1, 2) always read as zeros.

    Frozen by default; when fine-tuned, ``<pad>``, ``<unk>`` and ``<sos>``
    stay zero vectors (they get no gradient).
    """

    n_special = 3

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = super().forward(ids)
        return out * (ids >= self.n_special).unsqueeze(-1).to(out.dtype)


def word_vector_table(vectors, trainable: bool = False, *,
                      zero_specials: bool = True) -> nn.Embedding:
    """Build the embedding module of a word-vector table.

    Parameters
    ----------
    vectors : array-like of shape (vocabulary_size, dim)
        Word vectors, row 0 for padding. Converted to float32; a float32
        array (or tensor) is used in place, not copied.
    trainable : bool, default=False
        Fine-tune the table in training; frozen otherwise.
    zero_specials : bool, default=True
        Return a :class:`WordVectors`: ids 0, 1 and 2 (``<pad>``, ``<unk>``,
        ``<sos>``) always read as zero vectors, even when trainable. ``False``
        returns a plain ``nn.Embedding`` where only the padding row 0 gets no
        gradient (the late-fusion classifier's table, whose ``<unk>`` row
        is trained).

    Returns
    -------
    torch.nn.Embedding
        With ``padding_idx=0``; its state dict holds one key, ``weight``.
    """
    weight = torch.as_tensor(vectors, dtype=torch.float32)
    cls = WordVectors if zero_specials else nn.Embedding
    return cls.from_pretrained(weight, freeze=not trainable, padding_idx=0)


@contextmanager
def unseen_rows(embedding: nn.Embedding, rows):
    """Within the block, ids from ``embedding.num_embeddings`` on read ``rows``.

    For inference on new texts: the pretrained vectors of the tokens that fit
    did not see (:meth:`skmm.inputs.TextEncoder.encode_with_unseen`) are
    appended to the table for the duration of the block, then the trained
    parameter is put back, so the state dict, the pickle and training never
    hold them. Not for concurrent use of one module from several threads.

    Parameters
    ----------
    embedding : torch.nn.Embedding
        A word-vector table (e.g. a :class:`WordVectors`).
    rows : array-like of shape (n_unseen, embedding_dim) or None
        Nothing is changed when None or empty.

    Yields
    ------
    torch.nn.Embedding
        ``embedding``.
    """
    if rows is None or len(rows) == 0:
        yield embedding
        return
    weight = embedding.weight
    extra = torch.as_tensor(rows).to(weight.device, weight.dtype)
    with torch.inference_mode(False), torch.no_grad():
        extended = nn.Parameter(torch.cat([weight.detach(), extra]), requires_grad=False)
    embedding._parameters["weight"] = extended
    try:
        yield embedding
    finally:
        embedding._parameters["weight"] = weight
