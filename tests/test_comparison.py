"""The comparison runner (skmm.comparison) and the ``benchmark``/``demo`` commands."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from skmm.__main__ import main
from skmm.baselines import TextSVMClassifier
from skmm.comparison import (
    Contender,
    load_benchmark_data,
    make_contenders,
    run_comparison,
    write_report,
)
from skmm.datasets import make_shapes
from skmm.inputs import MeanWordVectors


@pytest.fixture(scope="module")
def X():
    return make_shapes(80, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def tiny(X):
    contenders = [
        Contender("majority class", "-", DummyClassifier(), kind="classifier"),
        Contender("TF-IDF + LinearSVC", "text", TextSVMClassifier(), kind="classifier"),
        Contender("mean word vectors", "text", MeanWordVectors(vector_size=8, random_state=0)),
    ]
    targets = {"color": X["label"].to_numpy(), "mood": X["mood"].to_numpy()}
    return run_comparison(X, targets, contenders, cv=2, random_state=0)


def test_tables_have_every_row_and_sane_values(tiny):
    cls = tiny.classification
    models = ["majority class", "TF-IDF + LinearSVC", "mean word vectors + LinearSVC",
              "mean word vectors + LogisticRegression"]
    for target in ("color", "mood"):
        assert list(cls.loc[cls["target"] == target, "model"]) == models
    assert cls[["f1_mean", "accuracy_mean"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (cls["fit_s"] >= 0).all() and (cls["f1_std"] >= 0).all()
    by = cls.set_index(["target", "model"])
    # colour and mood are written in the caption: TF-IDF is perfect, majority class is not
    assert by.loc[("mood", "TF-IDF + LinearSVC"), "f1_mean"] == 1.0
    assert by.loc[("color", "majority class"), "f1_mean"] < 0.2
    assert len(tiny.folds) == 2 * 2 * len(models)  # folds x targets x models
    # clustering and retrieval for the embedder only, one row per target
    assert list(tiny.clustering["embedder"]) == ["mean word vectors"] * 2
    assert tiny.clustering["nmi_mean"].between(0, 1).all()
    assert tiny.retrieval["map_mean"].between(0, 1).all()
    Z, labels = tiny.maps["mean word vectors"]
    assert Z.shape == (40, 8) and len(labels) == 40  # the first held-out fold


def test_main_table_is_sorted_and_formatted(tiny):
    table = tiny.main_table("mood")
    assert list(table.columns) == ["model", "modality", "macro-F1", "accuracy", "NMI", "mAP@50",
                                   "fit s", "predict s"]
    assert table["model"].iloc[0] == "TF-IDF + LinearSVC"
    assert table["macro-F1"].iloc[0] == "1.000 ± 0.000"
    row = table.set_index("model").loc["mean word vectors + LinearSVC"]
    assert row["NMI"] != "" and row["mAP@50"] != ""
    assert table.set_index("model").loc["majority class", "NMI"] == ""


def test_folds_are_seeded_and_results_repeatable(X):
    contenders = [Contender("mean word vectors", "text",
                            MeanWordVectors(vector_size=8, random_state=0))]
    targets = {"color": X["label"].to_numpy()}
    a = run_comparison(X, targets, contenders, cv=2, random_state=0)
    b = run_comparison(X, targets, contenders, cv=2, random_state=0)
    cols = ["f1_mean", "accuracy_mean"]
    pd.testing.assert_frame_equal(a.classification[cols], b.classification[cols])


def test_write_report_writes_tables_and_figures(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    tiny.info["dataset"] = "shapes"
    path = write_report(tiny, tmp_path / "out", command="python -m skmm benchmark --x")
    out = path.parent
    for name in ["results.md", "results.csv", "clustering.csv", "retrieval.csv", "folds.csv",
                 "f1_bars.png", "tsne_mean_word_vectors.png"]:
        assert (out / name).stat().st_size > 0, name
    text = path.read_text()
    assert "Machine:" in text and "python -m skmm benchmark --x" in text
    assert "## Classification: color" in text and "## Classification: mood" in text
    assert "| TF-IDF + LinearSVC | text | 1.000 ± 0.000" in text
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(tiny.classification)


def test_run_comparison_checks_targets(X):
    with pytest.raises(ValueError, match="targets is empty"):
        run_comparison(X, {}, [], cv=2)
    with pytest.raises(ValueError, match="'y' has 3 labels for 80 rows"):
        run_comparison(X, {"y": [0, 1, 0]}, [], cv=2)


def test_registry_has_every_contender_and_pipelines():
    skipped = {}
    contenders = make_contenders("shapes", quick=True, skipped=skipped)
    names = {c.name for c in contenders} | set(skipped)
    for expected in ["majority class", "TF-IDF + LinearSVC", "image CNN",
                     "LSTM + CNN late fusion", "pixel PCA", "mean word vectors", "CRVAE",
                     "MMEDA-II", "collective MF", "ConvAE MF",
                     "early fusion (PCA + word vectors)", "common space (supervised)",
                     "mean wordllama vectors", "CRVAE (wordllama)", "MMEDA-II (wordllama)",
                     "common space (wordllama)"]:
        assert expected in names
    embedders = [c for c in contenders if c.kind == "embedder"]
    assert all(set(c.heads) == {"LinearSVC", "LogisticRegression"} for c in embedders)
    pipe = embedders[0].pipeline("LinearSVC")
    assert isinstance(pipe, Pipeline) and list(pipe.named_steps) == ["embed", "head"]
    supervised = [c.name for c in contenders if c.supervised]
    assert supervised in ([], ["common space (supervised)", "common space (wordllama)"])
    only = make_contenders("shapes", quick=True, names=["majority class", "CRVAE"])
    assert [c.name for c in only] == ["majority class", "CRVAE"]
    with pytest.raises(ValueError, match="unknown contenders"):
        make_contenders("shapes", names=["nope"])


def test_benchmark_data():
    X, targets = load_benchmark_data("shapes", quick=True)
    assert list(targets) == ["joint"] and len(X) == len(targets["joint"]) == 600
    assert X["image"].iloc[0].shape == (32, 32, 3)
    with pytest.raises(ValueError, match="emoji"):
        load_benchmark_data("mnist")


@pytest.mark.slow
def test_benchmark_command_end_to_end(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code = main(["benchmark", "--dataset", "shapes", "--quick", "--cv", "2",
                 "--only", "majority class,TF-IDF + LinearSVC,mean word vectors",
                 "--output", str(tmp_path / "out"), "--results-dir", str(tmp_path / "res")])
    assert code == 0
    printed = capsys.readouterr().out
    last = printed.strip().splitlines()
    assert last[-5].split()[:2] == ["model", "modality"]  # the main table is printed last
    assert "majority class" in printed and "joint" in printed
    assert (tmp_path / "out" / "results.md").exists()
    assert (tmp_path / "out" / "f1_bars.png").exists()
    md = (tmp_path / "res" / "comparison_shapes_quick.md").read_text()
    assert "--only" in md and "## Figures" not in md
    assert (tmp_path / "res" / "comparison_shapes_quick.csv").exists()


@pytest.fixture
def small_benchmark(monkeypatch, tmp_path):
    """The benchmark command on 60 rows, with the checkout's results folder in tmp_path."""
    pytest.importorskip("matplotlib")
    import skmm.__main__ as cli
    import skmm.comparison as comparison

    X = make_shapes(60, image_size=16, label="joint", random_state=0)
    monkeypatch.setattr(comparison, "load_benchmark_data",
                        lambda *a, **k: (X, {"joint": X["label"].to_numpy()}))
    committed = tmp_path / "benchmarks" / "results"
    committed.mkdir(parents=True)
    (committed / "comparison_shapes_quick.md").write_text("committed\n")
    monkeypatch.setattr(cli, "REPO_RESULTS", committed)

    def run(*extra):
        return main(["benchmark", "--dataset", "shapes", "--quick", "--cv", "2", "--verbose", "0",
                     "--only", "majority class,TF-IDF + LinearSVC",
                     "--output", str(tmp_path / "out"), *extra])

    return run, committed


def _snapshot(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_benchmark_writes_to_output_only(small_benchmark, tmp_path):
    from pathlib import Path

    run, committed = small_benchmark
    real = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    before = _snapshot(real) if real.is_dir() else None
    assert run() == 0
    assert (tmp_path / "out" / "results.md").exists()
    assert (committed / "comparison_shapes_quick.md").read_text() == "committed\n"
    assert sorted(p.name for p in committed.iterdir()) == ["comparison_shapes_quick.md"]
    if before is not None:  # the checkout's committed results are untouched
        assert _snapshot(real) == before


def test_benchmark_update_results_refreshes_the_committed_tables(small_benchmark, capsys):
    run, committed = small_benchmark
    assert run("--update-results") == 0
    md = (committed / "comparison_shapes_quick.md").read_text()
    assert "--update-results" in md and "TF-IDF + LinearSVC" in md
    assert (committed / "comparison_shapes_quick.csv").exists()
    assert str(committed.resolve()) in capsys.readouterr().out


def test_benchmark_update_results_needs_a_checkout(monkeypatch, tmp_path, capsys):
    import skmm.__main__ as cli

    monkeypatch.setattr(cli, "REPO_RESULTS", tmp_path / "missing")
    with pytest.raises(SystemExit):
        main(["benchmark", "--update-results"])
    assert "not a source checkout" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one or the other
        main(["benchmark", "--update-results", "--results-dir", str(tmp_path)])


@pytest.mark.slow
def test_joint_label_needs_both_modalities():
    """On make_shapes(label="joint") one modality alone is at chance."""
    X = make_shapes(300, image_size=16, label="joint", random_state=0)
    contenders = [c for c in make_contenders("shapes", quick=True,
                                             names=["TF-IDF + LinearSVC", "pixel PCA"])]
    result = run_comparison(X, {"joint": X["label"].to_numpy()}, contenders, cv=3)
    f1 = result.classification.set_index("model")["accuracy_mean"]
    assert (f1 < 0.62).all(), f1  # chance is 0.5
    assert np.isfinite(f1).all()
