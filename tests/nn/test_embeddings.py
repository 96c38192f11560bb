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
