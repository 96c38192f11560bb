"""The comparison's paired-retrieval section (skmm.comparison_pairs)."""

from __future__ import annotations

import pytest

from skmm.comparison_pairs import (
    COLUMNS,
    paired_contenders,
    paired_retrieval_markdown,
    run_paired_retrieval,
)
from skmm.datasets import load_emoji


@pytest.mark.slow
def test_every_contender_is_scored_on_the_same_held_out_pairs(capsys):
    X = load_emoji(image_size=32).sample(240, random_state=0)
    contenders = [(name, make) for name, make in paired_contenders()]
    small = {"CCA of the towers (64 dims)": dict(n_components=8, pca_components=16),
             "common space (pairs, towers)": dict(max_epochs=5, n_threads=1)}
    contenders = [(name, lambda make=make, name=name: make().set_params(**small[name]))
                  for name, make in contenders]
    frame = run_paired_retrieval(X, contenders, cv=2, verbose=1)
    assert len(frame) == 2 * 2 * 2  # contenders x folds x directions
    assert set(frame["direction"]) == {"image → text", "text → image"}
    assert (frame["pairs"] == 120).all()
    for column in COLUMNS:
        assert frame[column].notna().all()
    # far above chance (R@10 = 10/120) for both
    assert (frame.groupby("contender")["R@10"].mean() > 2.5 * 10 / 120).all()
    out = capsys.readouterr().out
    assert "[pairs 2/2] common space (pairs, towers), fold 2/2" in out
    text = paired_retrieval_markdown(frame)
    assert text.count("\n| ") == 1 + 4  # the rule and 2 contenders x 2 directions
    assert "chance: R@10 = 0.083" in text


def test_cv_is_checked():
    with pytest.raises(ValueError, match="cv must be"):
        run_paired_retrieval(None, [], cv=1)
