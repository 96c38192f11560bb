import pickle
import zlib

import numpy as np
import pandas as pd
import pytest
from gensim.models import Word2Vec

from skmm.inputs import TextEncoder, Vocabulary, WordVectorsNotFoundError, load_word_vectors
from skmm.inputs.word_vectors import (
    WordVectorsFormatError,
    keyed_vectors,
    stable_hash,
    train_word2vec,
    vector_table,
)


def test_stable_hash():
    assert stable_hash("cat") == zlib.crc32(b"cat")


def _check_pretrained(enc, kv, texts):
    vocab = enc.vocabulary_
    np.testing.assert_array_equal(enc.vectors_[vocab.stoi["cat"]], kv["cat"])
    assert enc.vector_size_ == 5
    missing = [w for w in vocab.itos[3:] if w not in kv.key_to_index]
    assert enc.oov_words_ == missing and missing
    assert enc.oov_rate_ == pytest.approx(len(missing) / (len(vocab) - 3))
    assert (enc.vectors_[[vocab.stoi[w] for w in missing]] == 0).all()


@pytest.mark.parametrize(
    "fmt", ["object", "kv", "model", "bin", "txt", "glove", "vec.gz"]
)
def test_pretrained_vectors(fmt, pretrained, texts, tmp_path):
    kv = pretrained
    if fmt == "object":
        source = kv
    elif fmt == "kv":
        source = tmp_path / "vectors.kv"
        kv.save(str(source))
    elif fmt == "model":
        sentences = [["the", "cat", "sat"], ["the", "dog"], ["zebra", "mat"]]
        model = Word2Vec(sentences, vector_size=5, min_count=1, workers=1, seed=0)
        kv = model.wv
        source = str(tmp_path / "w2v.model")
        model.save(source)
    elif fmt == "bin":
        source = tmp_path / "vectors.bin"
        kv.save_word2vec_format(str(source), binary=True)
    elif fmt in ("txt", "vec.gz"):
        source = tmp_path / f"vectors.{fmt}"
        kv.save_word2vec_format(str(source), binary=False)
    else:  # GloVe: no header line
        source = tmp_path / "glove.txt"
        source.write_text(
            "".join(
                f"{w} {' '.join(repr(float(x)) for x in kv[w])}\n"
                for w in kv.index_to_key
            )
        )
    enc = TextEncoder(word_vectors=source).fit(texts)
    _check_pretrained(enc, kv, texts)
    assert len(pickle.dumps(enc)) < 20_000  # the table, not the whole KeyedVectors


def test_load_word_vectors_errors(tmp_path):
    with pytest.raises(WordVectorsNotFoundError, match="nope.bin") as info:
        load_word_vectors(tmp_path / "nope.bin")
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, FileNotFoundError
    )
    (tmp_path / "v.csv").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_word_vectors(tmp_path / "v.csv")
    with pytest.raises(ValueError, match="not found"):
        TextEncoder(word_vectors=str(tmp_path / "nope.txt")).fit(pd.Series(["a b"]))


@pytest.mark.parametrize("name, content, line, why", [
    # prose, not vectors: the first line has the row's shape of a header-less file
    ("prose.txt", "this is not\na word vectors file\n", 1, "'is' is not a number"),
    ("header.vec", "2 3\ncat 0.1 0.2 0.3\ndog 0.1 0.2\n", 3, "2 values after the word, not 3"),
    ("glove.txt", "cat 0.1 0.2\ndog 0.3 x\n", 2, "'x' is not a number"),
])
def test_a_malformed_word_vectors_file_names_its_first_bad_line(name, content, line, why,
                                                                  tmp_path):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(WordVectorsFormatError) as info:
        load_word_vectors(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(path) in message and f"line {line}: {why}" in message
    assert '"<count> <dim>" header' in message and "the word followed by <dim> numbers" in message
    assert info.value.__cause__ is not None
    with pytest.raises(WordVectorsFormatError, match=f"line {line}"):
        TextEncoder(word_vectors=str(path)).fit(pd.Series(["a b"]))


def test_train_word2vec_is_seeded(texts):
    tokens = [t.lower().split() for t in texts]
    a = train_word2vec(tokens, vector_size=4, epochs=2, random_state=0)
    b = train_word2vec(tokens, vector_size=4, epochs=2, random_state=0)
    assert a.vector_size == 4 and "cat" in a.key_to_index
    assert a.vectors.tobytes() == b.vectors.tobytes()


def test_keyed_vectors_resolves_the_parameter(pretrained, tmp_path):
    assert keyed_vectors(pretrained, []) is pretrained
    path = tmp_path / "v.kv"
    pretrained.save(str(path))
    np.testing.assert_array_equal(keyed_vectors(path, []).vectors, pretrained.vectors)
    trained = keyed_vectors("word2vec", [["a", "b"]], vector_size=3, epochs=1, random_state=0)
    assert trained.vector_size == 3 and set(trained.key_to_index) == {"a", "b"}


def test_vector_table(pretrained):
    vocab = Vocabulary.build([["cat", "nope", "the"]])
    vectors, has_vector = vector_table(pretrained, vocab)
    assert vectors.dtype == np.float32 and vectors.shape == (len(vocab), 5)
    assert has_vector.tolist() == [False, False, False, True, False, True]
    np.testing.assert_array_equal(vectors[vocab.stoi["cat"]], pretrained["cat"])
    assert (vectors[~has_vector] == 0).all()


@pytest.mark.parametrize("name", ["sgns.zhihu.word", "sgns.zhihu.word.bz2"])
def test_chinese_word_vectors_file(name, tmp_path):
    """The Chinese Word Vectors (Li et al., 2018) are word2vec text files named like
    ``sgns.zhihu.word`` (shipped as ``.bz2``): read whatever the suffix, with jieba."""
    rng = np.random.default_rng(0)
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["我", "爱", "北京", "天安门"], rng.normal(size=(4, 4)).astype(np.float32))
    path = tmp_path / name
    kv.save_word2vec_format(str(path), binary=False)  # gensim compresses a .bz2 name
    loaded = load_word_vectors(path)
    np.testing.assert_allclose(loaded["北京"], kv["北京"], rtol=1e-5)
    enc = TextEncoder(tokenizer="jieba", word_vectors=str(path)).fit(
        pd.Series(["我爱北京天安门。", "北京"]))
    assert enc.oov_rate_ == 0 and enc.vector_size_ == 4
    (tmp_path / "notes.word").write_text("not vectors\n")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_word_vectors(tmp_path / "notes.word")
