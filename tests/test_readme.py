"""The README's "Use" example runs as written and trains each model once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import skmm.datasets
from skmm._base import NeuralEstimator

README = Path(__file__).resolve().parents[1] / "README.md"


def use_example() -> str:
    text = README.read_text()
    section = text[text.index("## Use"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_use_example_runs_and_trains_each_model_once(monkeypatch):
    table = skmm.datasets.load_emoji(image_size=32)
    small = table.groupby("subgroup").head(3).head(150)  # every class has partners

    def load_small(*args, **kwargs):
        return small.copy()

    fits = []
    original = NeuralEstimator._fit_sequence

    def counting(self, X, y):
        fits.append(type(self).__name__)
        return original(self, X, y)

    monkeypatch.setattr(skmm.datasets, "load_emoji", load_small)
    monkeypatch.setattr(NeuralEstimator, "_fit_sequence", counting)
    namespace: dict = {}
    exec(compile(use_example(), str(README), "exec"), namespace)
    assert namespace["Z"].shape == (len(small), 16)
    assert len(namespace["clusters"]) == len(small)
    # the embedding is clustered, not retrained: one CRVAE fit, the supervised and the
    # unlabelled common space
    assert fits == ["CRVAEEmbedder", "CommonSpaceEmbedder", "CommonSpaceEmbedder"]
    assert namespace["pairs"].objective_ == "contrastive"
