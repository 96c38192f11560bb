"""The common space learned from the pairing of the rows alone (fit(X) without y)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from skmm import CommonSpaceEmbedder
from skmm.datasets import make_shapes
from skmm.embedders.common_space import SUPERVISED_ONLY
from skmm.encoders import ConvEncoder, MeanWordEncoder
from skmm.metrics import paired_retrieval_table, recall_at_k


def mods(**extra):
    return {"image": ("image", ConvEncoder(image_size=16, channels=4)),
            "text": ("text", MeanWordEncoder(vector_size=8)), **extra}


SMALL = dict(modalities=mods(), n_components=8, hidden_size=16, max_epochs=3, batch_size=32,
             random_state=0, n_threads=1)


@pytest.fixture(scope="module")
def X():
    return make_shapes(96, image_size=16, random_state=0)


@pytest.fixture(scope="module")
def fitted(X):
    return CommonSpaceEmbedder(**SMALL).fit(X)


def test_fit_without_y_learns_from_the_pairs(fitted, X):
    assert fitted.objective_ == "contrastive"
    assert not hasattr(fitted, "classes_")
    assert {"train_contrastive", "train_temperature"} <= set(fitted.history_[-1])
    assert np.isfinite(fitted.history_[:, "train_contrastive"]).all()
    assert fitted.attention_blocks_ == []  # a block would read the row's partner
    assert fitted.net_.module_.classifier is None
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 8) and Z.dtype == np.float32
    idx, sim = fitted.retrieve(X.iloc[:5], "image", X, "text", k=3)
    assert idx.shape == sim.shape == (5, 3)


def test_with_y_it_stays_supervised(X):
    emb = CommonSpaceEmbedder(**SMALL).fit(X, X["label"])
    assert emb.objective_ == "supervised"
    assert "train_ce" in emb.history_[-1]
    assert "train_contrastive" not in emb.history_[-1]


def test_the_temperature_is_learned(fitted):
    temperatures = fitted.history_[:, "train_temperature"]
    assert temperatures[0] != pytest.approx(temperatures[-1], abs=1e-6)
    assert 0.01 <= fitted.net_.module_.temperature <= 1


def test_score_without_y_is_the_mean_reciprocal_rank_of_the_partners(fitted, X):
    per = {m: fitted.embed(X, m) for m in ("image", "text")}
    expected = paired_retrieval_table(per)["MRR"].mean()
    assert fitted.score(X) == pytest.approx(expected)
    assert 0 < fitted.score(X) <= 1
    # with labels: the class mAP, as for the supervised space
    assert 0 < fitted.score(X, X["label"]) <= 1


def test_score_without_y_on_a_supervised_space(X):
    emb = CommonSpaceEmbedder(**SMALL).fit(X, X["label"])
    assert 0 < emb.score(X) <= 1


def test_rows_missing_a_modality_contribute_what_they_have(X):
    X = X.copy()
    X.loc[X.index[:30], "text"] = None
    emb = CommonSpaceEmbedder(**SMALL).fit(X)
    Z = emb.transform(X)
    assert np.isfinite(Z).all()
    # the rows without text are embedded by their image alone
    np.testing.assert_allclose(Z[:30], emb.embed(X.iloc[:30], "image"), atol=1e-6)


def test_same_seed_same_space(fitted, X):
    again = CommonSpaceEmbedder(**SMALL).fit(X)
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))


@pytest.mark.parametrize("make_X, message", [
    (lambda X: X, "at least 2 of them"),
    (lambda X: X.assign(text=[None] * (len(X) - 1) + [X["text"].iloc[-1]]),
     "at least 2 modalities"),
])
def test_without_pairs_there_is_nothing_to_learn(X, make_X, message):
    modalities = ({"image": mods()["image"]} if message == "at least 2 of them" else mods())
    with pytest.raises(ValueError, match=message):
        CommonSpaceEmbedder(**{**SMALL, "modalities": modalities}).fit(make_X(X))


def test_a_failed_unlabelled_fit_keeps_the_fitted_state(X):
    emb = CommonSpaceEmbedder(**SMALL).fit(X)
    before = emb.transform(X)
    with pytest.raises(ValueError, match="at least 2 modalities"):
        emb.fit(X.assign(text=None).assign(text=lambda d: [None] * (len(d) - 1) + ["a"]))
    np.testing.assert_array_equal(emb.transform(X), before)


def test_partial_fit_adds_a_modality_on_the_pairs(X):
    X = X.assign(caption2=X["text"].str.upper())
    emb = CommonSpaceEmbedder(strategy="mcvs", **SMALL).fit(X)
    before = emb.embed(X, "image")
    emb.set_params(modalities=mods(shout=("caption2", MeanWordEncoder(vector_size=8))))
    emb.partial_fit(X)
    assert emb.objective_ == "contrastive"
    assert list(emb.modalities_) == ["image", "text", "shout"]
    np.testing.assert_array_equal(emb.embed(X, "image"), before)  # earlier stages frozen
    assert np.isfinite(emb.embed(X, "shout")).all()
    with pytest.raises(ValueError, match="without labels"):
        emb.partial_fit(X, X["label"])


@pytest.mark.slow
def test_held_out_captions_are_found_far_above_chance():
    """Frozen towers + a light head, emoji glyphs and names: retrieval of unseen pairs."""
    from skmm.datasets import load_emoji

    data = load_emoji(image_size=64).sample(600, random_state=0)
    train, test = train_test_split(data, test_size=200, random_state=0)
    emb = CommonSpaceEmbedder(max_epochs=30, random_state=0, n_threads=2).fit(train)  # towers
    image, text = emb.embed(test, "image"), emb.embed(test, "text")
    chance = 10 / len(test)
    assert recall_at_k(image, text, k=10) > 6 * chance
    assert recall_at_k(text, image, k=10) > 6 * chance


NOT_DEFAULT = {"ce_weight": 0.5, "triplet_weight": 2.0, "gammas": (0.5, 0.25, 0.5),
               "margins": (0.5, 1.0), "items_per_class": 2, "attention": False,
               "partner_dropout": 0.2, "pair_weight": 1.0}


@pytest.mark.parametrize("name", SUPERVISED_ONLY)
def test_a_setting_that_acts_only_with_labels_is_refused_without_them(X, name):
    emb = CommonSpaceEmbedder(**SMALL, **{name: NOT_DEFAULT[name]})
    with pytest.raises(ValueError, match=rf"CommonSpaceEmbedder\({name}=.*acts only with "
                                         r"labels.*fit\(X\) without y"):
        emb.fit(X)
    assert not hasattr(emb, "net_")
    emb.fit(X, X["label"])  # with labels it acts
    fitted = CommonSpaceEmbedder(**SMALL).fit(X)
    fitted.set_params(**{name: NOT_DEFAULT[name]})
    with pytest.raises(ValueError, match="acts only with labels"):
        fitted.partial_fit(X)


def test_without_labels_map_k_still_acts_on_a_labelled_score(fitted, X):
    # score(X, y) of a space learned from pairs is the class mAP@map_k
    scores = {k: fitted.set_params(map_k=k).score(X, X["label"]) for k in (3, 50)}
    fitted.set_params(map_k=50)
    assert scores[3] != scores[50]


# ---- labels and pairs: the supervised space also learns the pairing -------------------
def test_labels_erase_the_pairing_and_the_pairing_term_keeps_it():
    """Trained on the shape (which no caption names), a picture finds its own caption only
    where the pairing term joins the class terms: colour, size and mood are what the
    caption and the picture share (R@10 chance: 10 / 80)."""
    X = make_shapes(160, image_size=16, label="shape", random_state=0)
    train, test = train_test_split(X, test_size=0.5, random_state=0)
    recall = {}
    for weight in (0, "auto"):
        space = CommonSpaceEmbedder(n_components=16, hidden_size=32, max_epochs=20,
                                    batch_size=32, random_state=0, n_threads=1,
                                    pair_weight=weight).fit(train, train["label"])
        recall[weight] = recall_at_k(space.embed(test, "image"), space.embed(test, "text"),
                                     k=10)
    assert recall[0] < 0.2 < 0.25 < recall["auto"], recall


def test_pairing_term_in_the_history_with_a_learned_temperature(X):
    space = CommonSpaceEmbedder(**{**SMALL, "max_epochs": 4}).fit(X, X["label"])
    assert space.objective_ == "supervised" and space.pair_weight_ == 2.0
    pairs = space.history_[:, "train_pairs"]
    assert np.isfinite(pairs).all() and pairs[-1] < pairs[0]
    assert space.temperature_ != pytest.approx(0.07)  # learned
    assert space.temperature_ == pytest.approx(space.history_[-1, "train_temperature"], rel=0.01)
    off = CommonSpaceEmbedder(**SMALL, pair_weight=0).fit(X, X["label"])
    assert "train_pairs" not in off.history_[-1] and off.temperature_ == pytest.approx(0.07)
    assert off.pair_weight_ == 0.0


def test_pair_weight_auto_is_zero_where_nothing_pairs(X):
    one = {"image": mods()["image"]}
    space = CommonSpaceEmbedder(**{**SMALL, "modalities": one}).fit(X, X["label"])
    assert space.pair_weight_ == 0.0
    with pytest.raises(ValueError, match=r"pair_weight=1.0.*modalities has one"):
        CommonSpaceEmbedder(**{**SMALL, "modalities": one}, pair_weight=1.0).fit(X, X["label"])
    assert CommonSpaceEmbedder(**SMALL).fit(X).pair_weight_ == 0.0  # the pairs are the loss


def test_a_stage_takes_the_pairing_weight_of_its_settings(X):
    space = CommonSpaceEmbedder(**{**SMALL, "modalities": {"image": mods()["image"]}},
                                strategy="mcvs").fit(X, X["label"])
    assert space.pair_weight_ == 0.0
    space.set_params(modalities=mods())
    space.partial_fit(X, X["label"])
    assert space.pair_weight_ == 2.0 and "train_pairs" in space.history_[-1]
