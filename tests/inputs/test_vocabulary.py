import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skmm.inputs import PAD, SOS, UNK, Vocabulary
from skmm.inputs.vocabulary import PAD_ID, SOS_ID, SPECIALS, UNK_ID


def test_special_tokens_and_ids():
    assert SPECIALS == (PAD, UNK, SOS)
    assert Vocabulary.build([]).stoi == {PAD: PAD_ID, UNK: UNK_ID, SOS: SOS_ID}


def test_vocabulary_order_min_count_max_size():
    tokens = [["b", "a", "c"], ["a", "d", "b"], ["e", "a", "<pad>"]]
    vocab = Vocabulary.build(tokens)
    assert vocab.itos[:3] == [PAD, UNK, SOS]
    # a:3, then b:2, then c, d, e (count 1) by first appearance
    assert vocab.itos[3:] == ["a", "b", "c", "d", "e"]
    assert vocab.stoi["a"] == 3 and len(vocab) == 8
    assert vocab.counts["a"] == 3 and "<pad>" not in vocab.counts
    assert Vocabulary.build(tokens, min_count=2).itos[3:] == ["a", "b"]
    assert Vocabulary.build(tokens, max_size=3).itos[3:] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="start with"):
        Vocabulary(["a", "b", "c"])


def test_vocabulary_encode_decode():
    vocab = Vocabulary.build([["the", "cat", "sat"], ["the", "dog"]])
    ids, lengths = vocab.encode([["the", "cat"], ["a", "dog", "the", "cat"], []])
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    the, cat, dog = (vocab.stoi[w] for w in ("the", "cat", "dog"))
    np.testing.assert_array_equal(
        ids, [[the, cat, 0, 0], [1, dog, the, cat], [0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(lengths, [2, 4, 1])
    ids, lengths = vocab.encode(
        [["the", "cat"], ["a", "dog", "the", "cat"]], max_length=3
    )
    assert ids.shape == (2, 3)
    np.testing.assert_array_equal(lengths, [2, 3])
    ids, lengths = vocab.encode([])
    assert ids.shape == (0, 1) and lengths.shape == (0,)
    assert vocab.decode([vocab.stoi[SOS], the, 1, cat, 0, 0]) == ["the", UNK, "cat"]
    restored = pickle.loads(pickle.dumps(vocab))
    assert restored.itos == vocab.itos and restored.stoi == vocab.stoi


@settings(max_examples=50, deadline=None)
@given(
    train=st.lists(
        st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    ),
    texts=st.lists(
        st.lists(st.sampled_from("abcdefghxyz"), max_size=8), min_size=1, max_size=5
    ),
)
def test_vocabulary_round_trip(train, texts):
    vocab = Vocabulary.build(train)
    ids, lengths = vocab.encode(texts)
    assert ids.shape == (len(texts), max(1, *map(len, texts)))
    for row, length, tokens in zip(ids, lengths, texts):
        assert length == max(len(tokens), 1)
        assert vocab.decode(row) == [t if t in vocab.stoi else UNK for t in tokens]
