import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

CORPUS = [
    "A cat sat on the mat.",
    "The dog ate the cat!",
    "A bird (small) sings; the cat listens?",
    "Dogs and cats: friends or foes?",
] * 3


@pytest.fixture
def texts():
    return pd.Series(CORPUS, index=[f"t{i}" for i in range(len(CORPUS))], name="text")


@pytest.fixture
def pretrained():
    rng = np.random.default_rng(0)
    kv = KeyedVectors(vector_size=5)
    words = ["the", "cat", "dog", "sat", "mat", "zebra"]
    kv.add_vectors(words, rng.normal(size=(len(words), 5)).astype(np.float32))
    return kv
