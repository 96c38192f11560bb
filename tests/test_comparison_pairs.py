"""The comparison's paired-retrieval section (skmm.comparison_pairs)."""

from __future__ import annotations

import pytest

from skmm.comparison_pairs import (
    COLUMNS,
    EXTRA_COLUMNS,
    labels_and_pairs_markdown,
    paired_contenders,
    paired_retrieval_markdown,
    run_paired_retrieval,
)
from skmm.datasets import EMOJI_GROUP_DESCRIPTIONS, load_emoji


@pytest.mark.slow
def test_every_contender_is_scored_on_the_same_held_out_pairs(capsys):
    X = load_emoji(image_size=32).sample(240, random_state=0)
    small = {"CCA of the towers (64 dims)": dict(n_components=8, pca_components=16),
             "common space (pairs, towers)": dict(max_epochs=5, n_threads=1),
             "common space (labels + pairs, towers)": dict(max_epochs=5, n_threads=1)}
    contenders = [(name, lambda make=make, name=name: make().set_params(**small[name]), labels)
                  for name, make, labels in paired_contenders()]
    # without labels, the space that needs them is skipped
    frame = run_paired_retrieval(X, contenders, cv=2, verbose=1)
    assert len(frame) == 2 * 2 * 2  # contenders x folds x directions
    assert set(frame["direction"]) == {"image → text", "text → image"}
    assert (frame["pairs"] == 120).all()
    for column in COLUMNS:
        assert frame[column].notna().all()
    assert frame[EXTRA_COLUMNS].isna().all().all()
    # far above chance (R@10 = 10/120) for both
    assert (frame.groupby("contender")["R@10"].mean() > 2.5 * 10 / 120).all()
    out = capsys.readouterr().out
    assert "[pairs 2/2] common space (pairs, towers), fold 2/2" in out
    text = paired_retrieval_markdown(frame)
    assert text.count("\n| ") == 1 + 4  # the rule and 2 contenders x 2 directions
    assert "chance: R@10 = 0.083" in text


@pytest.mark.slow
def test_labels_names_and_other_captions_are_scored():
    X = load_emoji(image_size=32).sample(240, random_state=0)
    contenders = [(name, lambda make=make: make().set_params(max_epochs=5, n_threads=1), labels)
                  for name, make, labels in paired_contenders() if "common space" in name]
    frame = run_paired_retrieval(X, contenders, y=X["group"],
                                 class_names=EMOJI_GROUP_DESCRIPTIONS,
                                 other_captions=["text_zh"], cv=2)
    rows = frame[frame["direction"] == "image → text"].set_index(["contender", "fold"])
    assert rows["labels"].tolist() == [False, False, True, True]
    # the probe scores every space; zero-shot only the one that never saw a label
    assert rows["probe macro-F1"].between(0, 1).all()
    assert rows["zero-shot macro-F1"].notna().tolist() == [True, True, False, False]
    # with the Chinese names in the gallery too, a hit on either name counts
    assert rows["R@10, any caption"].between(0, 1).all()
    other = frame[frame["direction"] == "text → image"]
    assert other[EXTRA_COLUMNS].isna().all().all()
    # the labels make the space classify better than the pairs alone (9 groups)
    probe = rows.groupby("labels")["probe macro-F1"].mean()
    assert probe[True] > probe[False]
    text = labels_and_pairs_markdown(frame)
    assert "| common space (labels + pairs, towers) | labels + pairs |" in text
    assert text.splitlines()[0].startswith("| contender | learns from | probe macro-F1 | "
                                           "zero-shot macro-F1 | R@1 | R@10 | R@10, any")
    assert text.count(" - |") == 1  # no zero-shot score for the labelled space


def test_cv_is_checked():
    with pytest.raises(ValueError, match="cv must be"):
        run_paired_retrieval(None, [], cv=1)
