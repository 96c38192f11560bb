import numpy as np
import pandas as pd
import pytest

from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.inputs import TextFeatures


@pytest.fixture
def frame(texts):
    return pd.DataFrame({"text": texts.to_numpy(), "a": np.arange(len(texts), dtype=float),
                         "b": np.linspace(0, 1, len(texts))}, index=texts.index)


def test_word2vec_and_tfidf(frame):
    Z = TextFeatures(vector_size=4, random_state=0).fit_transform(frame)
    assert Z.dtype == np.float32 and Z.shape == (len(frame), 4)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)  # standardised
    tfidf = TextFeatures(text_features="tfidf", max_text_features=5).fit(frame)
    assert tfidf.n_features_out_ == 5 and tfidf.scaler_ is None
    assert tfidf.transform(frame).shape == (len(frame), 5)


def test_numeric_columns_and_their_errors(frame):
    feats = TextFeatures(text_features=["a", "b"]).fit(frame)
    assert feats.columns() == ["a", "b"] and feats.n_features_out_ == 2
    bad = frame.astype({"a": object})
    bad.loc["t3", "a"] = "x"
    bad.loc["t5", "a"] = np.inf
    with pytest.raises(InvalidRowsError, match=r"'a', rows \['t3', 't5'\]: not a finite number"):
        feats.transform(bad)
    with pytest.raises(MissingColumnError, match="'b'"):
        feats.transform(frame[["a"]])


def test_bad_texts_are_reported(frame):
    bad = frame.astype({"text": object})
    bad.loc["t1", "text"] = ""
    with pytest.raises(InvalidRowsError, match=r"\['t1'\]: empty text"):
        TextFeatures(text_features="tfidf").fit(bad)


def test_a_column_of_precomputed_text_vectors(frame):
    rng = np.random.RandomState(0)
    vectors = pd.Series(list(rng.normal(size=(len(frame), 6))), index=frame.index)
    X = frame.assign(text=vectors)
    feats = TextFeatures(text_features="vector")
    Z = feats.fit_transform(X)
    assert Z.shape == (len(frame), 6) and feats.columns() == ["text"]
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)  # standardised
    np.testing.assert_allclose(feats.transform(X), Z)
    # a refit on vectors of another length is a new fit, not an error
    assert feats.fit_transform(frame.assign(text=[v[:4] for v in vectors])).shape[1] == 4
    feats.fit(X)
    cells = dict(X["text"])  # (pandas < 2.3 reads an array set by .loc as several cells)
    cells["t2"], cells["t4"] = np.ones(3), "not a vector"
    bad = X.assign(text=pd.Series(cells, dtype=object)[X.index])
    with pytest.raises(InvalidRowsError, match=r"'t2'") as info:
        feats.transform(bad)
    assert "t4" in str(info.value)


def test_tfidf_and_word_vectors_side_by_side(frame):
    """TF-IDF columns first (unscaled), then the standardised mean word vectors,
    weighted so that both blocks have the same mean square row norm."""
    both = TextFeatures(text_features="tfidf+word2vec", vector_size=4, random_state=0,
                        max_text_features=5).fit(frame)
    tfidf = TextFeatures(text_features="tfidf", max_text_features=5).fit(frame)
    words = TextFeatures(text_features="word2vec", vector_size=4, random_state=0).fit(frame)
    Z = both.transform(frame)
    assert both.n_features_out_ == 9 and Z.dtype == np.float32
    assert both.vector_weight_ == pytest.approx(np.sqrt(5 / 4))
    assert tfidf.vector_weight_ == words.vector_weight_ == 1.0
    np.testing.assert_allclose(Z[:, :5], tfidf.transform(frame), rtol=1e-6)
    np.testing.assert_allclose(Z[:, 5:], both.vector_weight_ * words.transform(frame),
                               rtol=1e-5, atol=1e-6)
    energy = (Z ** 2).sum(1).mean()  # per block, over the fit rows
    assert (Z[:, 5:] ** 2).sum(1).mean() == pytest.approx(5.0, rel=1e-4)
    assert (Z[:, :5] ** 2).sum(1).mean() == pytest.approx(5.0, rel=1e-4)
    assert energy == pytest.approx(10.0, rel=1e-4)
    assert both.get_feature_names_out().shape == (9,)
