"""skmm.nn.embeddings: the one word-vector table builder."""

import numpy as np
import pytest
import torch
from torch import nn

from skmm.nn.embeddings import WordVectors, word_vector_table


@pytest.fixture
def vectors():
    table = np.arange(6 * 4, dtype=np.float32).reshape(6, 4) + 1.0  # no zero rows
    return table


def test_frozen_table_reads_zeros_for_the_specials(vectors):
    table = word_vector_table(vectors)
    assert isinstance(table, WordVectors) and not table.weight.requires_grad
    assert list(table.state_dict()) == ["weight"] and table.padding_idx == 0
    out = table(torch.tensor([[0, 1, 2, 3, 5]]))
    assert out.shape == (1, 5, 4) and out.dtype == torch.float32
    assert torch.count_nonzero(out[0, :3]) == 0
    np.testing.assert_array_equal(out[0, 3:].numpy(), vectors[[3, 5]])


def test_trainable_table_keeps_the_specials_at_zero(vectors):
    table = word_vector_table(vectors, trainable=True)
    assert table.weight.requires_grad
    ids = torch.tensor([[0, 1, 2, 4]])
    table(ids).sum().backward()
    grad = table.weight.grad
    assert torch.count_nonzero(grad[:3]) == 0 and torch.count_nonzero(grad[4]) == 4


def test_plain_table_trains_unk_but_not_padding(vectors):
    table = word_vector_table(vectors, trainable=True, zero_specials=False)
    assert type(table) is nn.Embedding and table.weight.requires_grad
    ids = torch.tensor([[0, 1, 4]])
    np.testing.assert_array_equal(table(ids)[0, 1].detach().numpy(), vectors[1])
    table(ids).sum().backward()
    grad = table.weight.grad
    assert torch.count_nonzero(grad[0]) == 0 and torch.count_nonzero(grad[1]) == 4


def test_float64_input_becomes_float32():
    table = word_vector_table(np.zeros((4, 3)))
    assert table.weight.dtype == torch.float32 and table.embedding_dim == 3


@pytest.mark.parametrize("trainable", [False, True])
def test_unseen_rows_extend_the_table_for_the_block_only(vectors, trainable):
    from skmm.nn.embeddings import unseen_rows

    table = word_vector_table(vectors, trainable=trainable)
    weight = table.weight
    extra = np.full((2, 4), 7.0, dtype=np.float32)
    with unseen_rows(table, extra), torch.inference_mode():
        out = table(torch.tensor([[3, 6, 7, 1]]))
    np.testing.assert_array_equal(out[0, 0].numpy(), vectors[3])
    np.testing.assert_array_equal(out[0, 1:3].numpy(), extra)
    assert torch.count_nonzero(out[0, 3]) == 0  # <unk> still reads zeros
    assert table.weight is weight and table.weight.shape == (6, 4)
    assert table.state_dict()["weight"].shape == (6, 4)
    with pytest.raises(IndexError):
        table(torch.tensor([[6]]))
    plain = nn.Embedding.from_pretrained(torch.from_numpy(vectors))  # any nn.Embedding
    with unseen_rows(plain, extra[:1]), unseen_rows(plain, None):
        np.testing.assert_array_equal(plain(torch.tensor([6])).numpy(), extra[:1])
    assert plain.weight.shape == (6, 4)


def test_mean_word_vectors_skips_padding_and_counts_unknown_words(vectors):
    from skmm.nn.embeddings import mean_word_vectors

    table = word_vector_table(vectors)
    tokens = torch.tensor([[3, 5, 0, 0], [1, 4, 4, 0], [0, 0, 0, 0]])  # 1: <unk>
    lengths = torch.tensor([2, 3, 0])
    out = mean_word_vectors(table(tokens), lengths)
    np.testing.assert_allclose(out[0].numpy(), vectors[[3, 5]].mean(0))
    np.testing.assert_allclose(out[1].numpy(), 2 * vectors[4] / 3)  # <unk> reads as zero
    assert torch.count_nonzero(out[2]) == 0  # an empty text: the zero vector
