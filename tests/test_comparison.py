"""The comparison runner (skmm.comparison) and the ``benchmark``/``demo`` commands."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from skmm.__main__ import main
from skmm.baselines import TextSVMClassifier
from skmm.comparison import (
    CONFIGS,
    DEMO_CONTENDERS,
    HEADS,
    QUICK_LEAVES_OUT,
    ComparisonResult,
    Contender,
    load_benchmark_data,
    make_contenders,
    run_comparison,
    tower_contenders,
    verdict,
    write_report,
)
from skmm.datasets import make_shapes
from skmm.inputs import MeanWordVectors
from tests import tiny as configs


@pytest.fixture(scope="module")
def X():
    return make_shapes(80, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def tiny(X):
    contenders = [
        Contender("majority class", "-", DummyClassifier(), kind="classifier", baseline=True),
        Contender("TF-IDF + LinearSVC", "text", TextSVMClassifier(), kind="classifier",
                  baseline=True),
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
    for target in ("color", "mood"):
        assert list(by.loc[target, "baseline"].loc[models]) == [True, True, False, False]
    # clustering and retrieval for the embedder only, one row per target
    assert list(tiny.clustering["embedder"]) == ["mean word vectors"] * 2
    assert tiny.clustering["nmi_mean"].between(0, 1).all()
    assert tiny.retrieval["map_mean"].between(0, 1).all()
    Z, labels = tiny.maps["mean word vectors"]
    assert Z.shape == (40, 8) and len(labels) == 40  # the first held-out fold


def test_progress_says_contender_fold_and_time_left(X, capsys):
    contenders = [
        Contender("majority class", "-", DummyClassifier(), kind="classifier", baseline=True,
                  cost_s=120.0),
        Contender("mean word vectors", "text", MeanWordVectors(vector_size=8, random_state=0),
                  cost_s=60.0),
    ]
    targets = {"color": X["label"].to_numpy()}
    run_comparison(X, targets, contenders, cv=2, random_state=0, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    starts = [line for line in lines if line.startswith("[")]
    assert [line.split(", about")[0] for line in starts] == [
        "[1/4] majority class, fold 1/2", "[2/4] majority class, fold 2/2",
        "[3/4] mean word vectors, fold 1/2", "[4/4] mean word vectors, fold 2/2"]
    assert all(line.endswith(" left") for line in starts)
    # before anything is measured the estimate is the contenders' guesses: 2 x 120 + 2 x 60 s
    assert starts[0].endswith("about 6 min left")
    # after each contender's last fold, its time; at the end, the total
    assert lines[2].startswith("    majority class: 2 folds in ") and lines[2].endswith(" s")
    assert lines[-1].startswith("4 folds of 2 contenders in ")
    # quiet
    run_comparison(X, targets, contenders, cv=2, random_state=0, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_estimate_uses_the_pace_and_each_contender_s_own_folds():
    from skmm.comparison_report import _duration, _Progress

    slow = Contender("slow", "-", DummyClassifier(), cost_s=100.0)
    fast = Contender("fast", "-", DummyClassifier(), cost_s=10.0)
    progress = _Progress([fast, slow], cv=3, verbose=0, prior_s=0.0)
    assert progress._left_s(0, 0) == 3 * 10 + 3 * 100  # the guesses
    progress.done(0, 0, 20.0)  # twice as slow as guessed
    # the fast contender's own fold time, the slow one's guess at the measured pace
    assert progress._left_s(0, 1) == 2 * 20 + 3 * 100 * 2
    assert [_duration(s) for s in (0.2, 40, 89, 200, 3600)] == ["1 s", "40 s", "89 s", "3 min",
                                                                 "60 min"]


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
    assert " s (CPU time " in text  # the wall time says little on a shared machine
    assert "## Classification: color" in text and "## Classification: mood" in text
    assert "| TF-IDF + LinearSVC | text | 1.000 ± 0.000" in text
    assert "## Verdict" in text and "- mean word vectors (+ " in text
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(tiny.classification)


def test_run_comparison_checks_targets(X):
    with pytest.raises(ValueError, match="targets is empty"):
        run_comparison(X, {}, [], cv=2)
    with pytest.raises(ValueError, match="'y' has 3 labels for 80 rows"):
        run_comparison(X, {"y": [0, 1, 0]}, [], cv=2)


def test_registry_has_every_contender_and_pipelines():
    skipped = {}
    contenders = make_contenders("shapes", config="full", skipped=skipped)
    names = {c.name for c in contenders} | set(skipped)
    baselines = ["majority class", "TF-IDF + LinearSVC", "image CNN", "LSTM + CNN late fusion",
                 "LSTM + CNN late fusion (wordllama)", "early fusion (TF-IDF + pixel PCA)",
                 "pixel PCA", "mean word vectors", "mean wordllama vectors", "collective MF",
                 "ConvAE MF", "early fusion (PCA + word vectors)",
                 "early fusion (PCA + word vectors, 32 dims)", *TOWER_ROWS]
    models = ["CRVAE", "MMEDA-II", "common space (supervised)", "CRVAE (wordllama)",
              "MMEDA-II (wordllama)", "common space (wordllama)", "CRVAE (towers)",
              "MMEDA-II (towers)", "common space (towers)"]
    for expected in baselines + models:
        assert expected in names
    # the verdict compares the multimodal embedders with every baseline
    assert {c.name for c in contenders if c.baseline} <= set(baselines)
    assert not {c.name for c in contenders if not c.baseline} - set(models)
    embedders = [c for c in contenders if c.kind == "embedder"]
    # on the shapes, a non-linear head too (the joint label is an XOR)
    assert all(tuple(c.heads) == ("LinearSVC", "LogisticRegression", "RandomForest")
               for c in embedders)
    emoji = [c for c in make_contenders("emoji", config="full") if c.kind == "embedder"]
    assert all(tuple(c.heads) == ("LinearSVC", "LogisticRegression") for c in emoji)
    pipe = embedders[0].pipeline("RandomForest")
    assert isinstance(pipe, Pipeline) and list(pipe.named_steps) == ["embed", "head"]
    supervised = [c.name for c in contenders if c.supervised]
    assert supervised in ([], ["common space (supervised)", "common space (wordllama)",
                               "common space (towers)"])
    towered = {c.name: c.estimator for c in contenders if c.name.endswith("(towers)")}
    assert all((e.image_encoder, e.text_encoder) == ("efficientnet_lite0", "use")
               for name, e in towered.items() if not name.startswith("common space"))
    # the common space's modalities given by column: each kind's default encoder, a tower
    assert towered["common space (towers)"].modalities == {"image": "image", "en": "text"}
    only = make_contenders("shapes", config="quick", names=["majority class", "CRVAE"])
    assert [c.name for c in only] == ["majority class", "CRVAE"]
    with pytest.raises(ValueError, match="unknown contenders"):
        make_contenders("shapes", names=["nope"])
    with pytest.raises(ValueError, match="config must be one of"):
        make_contenders("shapes", config=True)


@pytest.mark.parametrize("dataset", ["emoji", "shapes"])
def test_quick_and_demo_configurations_choose_their_contenders(dataset):
    full = [c.name for c in make_contenders(dataset, config="full")]
    quick = [c.name for c in make_contenders(dataset, config="quick")]
    demo = [c.name for c in make_contenders(dataset, config="demo")]
    # quick: every contender but the slowest, in the same order
    assert quick == [n for n in full if n not in QUICK_LEAVES_OUT]
    assert set(QUICK_LEAVES_OUT) <= set(full)
    for kept in ("CRVAE", "MMEDA-II", "common space (wordllama)", "TF-IDF + LinearSVC",
                 "LSTM + CNN late fusion (wordllama)", *TOWER_ROWS, "CRVAE (towers)",
                 "MMEDA-II (towers)", "common space (towers)"):
        assert kept in quick
    # demo: the embedders on the towers against the towers' baselines, TF-IDF, the floor
    assert demo == [n for n in full if n in DEMO_CONTENDERS] and set(demo) == set(DEMO_CONTENDERS)
    assert {"CRVAE (towers)", "MMEDA-II (towers)", "common space (towers)", *TOWER_ROWS,
            "TF-IDF + LinearSVC"} <= set(demo)
    # a name outside the configuration is refused, and the message says which configuration
    with pytest.raises(ValueError, match="'demo' configuration"):
        make_contenders(dataset, config="demo", names=["CRVAE"])
    # CRVAE and MMEDA-II stop on a plateau ("auto") in every configuration; the tower rows
    # are the embedders' defaults, the others select the CNN and the word encoders
    for config in ("quick", "full", "demo"):
        by = {c.name: c.estimator for c in make_contenders(dataset, config=config)}
        for name in ("CRVAE", "MMEDA-II", "CRVAE (towers)", "MMEDA-II (towers)"):
            if name in by:
                params = by[name].get_params()
                assert params["max_epochs"] == "auto", (config, name)
                towers = "towers" in name
                assert (params["image_encoder"] == "efficientnet_lite0") == towers
                assert (params["text_encoder"] == "use") == towers
    # every contender has a rough cost for the progress estimate
    assert all(c.cost_s > 0 for c in make_contenders(dataset, config="full"))
    assert CONFIGS["demo"]["cv"] == CONFIGS["quick"]["cv"] == 3


def test_neural_baselines_train_until_they_converge():
    for config in ("full", "quick"):
        by = {c.name: c.estimator for c in make_contenders("shapes", config=config)}
        for name in ("image CNN", "LSTM + CNN late fusion", "LSTM + CNN late fusion (wordllama)"):
            if name not in by:  # quick leaves the slowest out
                assert config == "quick" and name in QUICK_LEAVES_OUT
                continue
            est = by[name]
            assert est.validation_fraction and est.max_epochs >= 100 and est.patience >= 8


def test_tfidf_pca_fusion_contender_on_both_data_sets():
    for dataset in ("emoji", "shapes"):
        (c,) = make_contenders(dataset, config="quick",
                               names=["early fusion (TF-IDF + pixel PCA)"])
        assert c.kind == "classifier" and c.baseline and c.modality == "image + text"
        assert list(c.estimator.named_steps) == ["features", "svm"]


def test_random_forest_head_learns_what_a_linear_head_cannot():
    """XOR of an image bit and a text bit, side by side: no linear head, but a forest."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(400, 2))
    Z = bits + rng.normal(0, 0.1, size=bits.shape)
    y = bits[:, 0] ^ bits[:, 1]
    scores = {}
    for head in ("LinearSVC", "LogisticRegression", "RandomForest"):
        model = HEADS[head](0).fit(Z[:300], y[:300])
        scores[head] = model.score(Z[300:], y[300:])
    assert scores["RandomForest"] > 0.95 and max(scores["LinearSVC"],
                                                 scores["LogisticRegression"]) < 0.7, scores


def test_benchmark_data():
    X, targets = load_benchmark_data("shapes", config="quick")
    assert list(targets) == ["pair", "joint"] and len(X) == len(targets["pair"]) == 600
    assert X["image"].iloc[0].shape == (32, 32, 3)
    # pair: shape-mood, 16 classes; joint: the XOR of the same rows
    assert len(set(targets["pair"])) == 16
    np.testing.assert_array_equal(targets["pair"], X["shape"] + "-" + X["mood"])
    joint = make_shapes(600, image_size=32, label="joint", random_state=0)["label"]
    np.testing.assert_array_equal(targets["joint"], joint)
    with pytest.raises(ValueError, match="emoji"):
        load_benchmark_data("mnist")
    with pytest.raises(ValueError, match="config must be one of"):
        load_benchmark_data("shapes", config="fast")


@pytest.mark.slow
def test_benchmark_command_end_to_end(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code = main(["benchmark", "--dataset", "shapes", "--quick", "--cv", "2",
                 "--only", "majority class,TF-IDF + LinearSVC,mean word vectors",
                 "--output", str(tmp_path / "out"), "--results-dir", str(tmp_path / "res")])
    assert code == 0
    printed = capsys.readouterr().out
    table, said = printed.strip().split("\n\nVerdict on 'pair'")
    last = table.splitlines()
    # the main table (majority, TF-IDF, mean word vectors with 3 heads), then the verdict
    assert last[-6].split()[:2] == ["model", "modality"]
    assert "majority class" in printed and "'pair'" in printed
    assert "no multimodal embedder" in said  # only baselines were run
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

    def run(*extra, only="majority class,TF-IDF + LinearSVC"):
        return main(["benchmark", "--dataset", "shapes", "--quick", "--cv", "2", "--verbose", "0",
                     *(["--only", only] if only else []),
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


def test_benchmark_update_results_refreshes_the_committed_tables(small_benchmark, monkeypatch,
                                                                 capsys):
    import skmm.comparison as comparison

    run, committed = small_benchmark
    # every contender runs (no --only); two cheap ones stand for them here
    every = comparison.make_contenders
    monkeypatch.setattr(comparison, "make_contenders", lambda *a, **k: every(
        *a, **{**k, "names": ["majority class", "TF-IDF + LinearSVC"]}))
    assert run("--update-results", only=None) == 0
    md = (committed / "comparison_shapes_quick.md").read_text()
    assert "--update-results" in md and "TF-IDF + LinearSVC" in md
    assert (committed / "comparison_shapes_quick.csv").exists()
    assert str(committed.resolve()) in capsys.readouterr().out


def test_benchmark_update_results_refuses_a_subset(small_benchmark, capsys):
    # the committed tables are written whole: a subset of rows would replace them
    run, committed = small_benchmark
    with pytest.raises(SystemExit):
        run("--update-results")
    assert "drop --only" in capsys.readouterr().err
    assert (committed / "comparison_shapes_quick.md").read_text() == "committed\n"


def test_benchmark_update_results_needs_a_checkout(monkeypatch, tmp_path, capsys):
    import skmm.__main__ as cli

    monkeypatch.setattr(cli, "REPO_RESULTS", tmp_path / "missing")
    with pytest.raises(SystemExit):
        main(["benchmark", "--update-results"])
    assert "not a source checkout" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one or the other
        main(["benchmark", "--update-results", "--results-dir", str(tmp_path)])


TOWER_ROWS = ["EfficientNet-Lite0 + LR", "USE + LR", "towers concatenated + LR",
              "towers late fusion", "PCA of towers (32 dims)"]


@pytest.mark.parametrize("dataset", ["emoji", "shapes"])
@pytest.mark.parametrize("config", ["full", "quick"])
def test_tower_baselines_are_contenders(dataset, config):
    """What a user builds from the pretrained towers without skmm, in every configuration."""
    from sklearn.ensemble import VotingClassifier

    from skmm.encoders import ImageTower, TextTower

    every = make_contenders(dataset, config=config)
    names = [c.name for c in every]
    assert [n for n in names if n in TOWER_ROWS] == TOWER_ROWS
    assert names.index("USE + LR") < names.index("CRVAE")  # with the baselines
    by = {c.name: c for c in every}
    assert all(by[n].baseline for n in TOWER_ROWS)
    assert [by[n].modality for n in TOWER_ROWS] == ["image", "text"] + ["image + text"] * 3
    assert [by[n].kind for n in TOWER_ROWS] == ["classifier"] * 4 + ["embedder"]
    image, text = by["EfficientNet-Lite0 + LR"].estimator, by["USE + LR"].estimator
    assert [type(s).__name__ for _, s in image.steps] == ["ImageTower", "StandardScaler",
                                                          "LogisticRegression"]
    assert isinstance(text.steps[0][1], TextTower) and text.steps[-1][1].max_iter == 2000
    concat = by["towers concatenated + LR"].estimator
    towers = concat.steps[0][1]
    assert [(name, type(t)) for name, t, _ in towers.transformers] == [("image", ImageTower),
                                                                       ("text", TextTower)]
    vote = by["towers late fusion"].estimator
    assert isinstance(vote, VotingClassifier) and vote.voting == "soft"
    assert [name for name, _ in vote.estimators] == ["image", "text"]
    pca = by["PCA of towers (32 dims)"]
    assert pca.estimator.steps[-1][1].n_components == CONFIGS[config]["n_components"]
    # an embedder: the same heads as the embedders (a random forest on the shapes)
    assert tuple(pca.heads) == tuple(by["CRVAE"].heads)
    # --only selects them by name
    only = make_contenders(dataset, config=config, names=["USE + LR", "towers late fusion"])
    assert [c.name for c in only] == ["USE + LR", "towers late fusion"]


def test_tower_baselines_run_in_the_comparison():
    """The towers' rows on a tiny frame: each tower knows its modality, and the
    towers' features are computed once per cell for all folds and contenders."""
    from skmm.towers import feature_cache

    X = make_shapes(64, image_size=16, label="shape", random_state=3)
    targets = {"shape": X["shape"].to_numpy(), "mood": X["mood"].to_numpy()}
    contenders = tower_contenders(8, random_state=0)  # 8 dims: the folds train on 32 rows
    pca = "PCA of towers (8 dims)"
    assert [c.name for c in contenders] == [*TOWER_ROWS[:4], pca]
    cells = len(set(X["text"])) + len(X)  # at most one vector per distinct cell
    before = feature_cache.info()["entries"]
    result = run_comparison(X, targets, contenders, cv=2, random_state=0)
    assert feature_cache.info()["entries"] - before <= cells
    cls = result.classification.set_index(["target", "model"])
    models = [*TOWER_ROWS[:4], f"{pca} + LinearSVC", f"{pca} + LogisticRegression"]
    for target in targets:
        assert list(cls.loc[target].index) == models
        assert cls.loc[target, "baseline"].all()
    acc = cls["accuracy_mean"]
    # the picture tells the shape, the caption the mood (chance 0.25): measured 1.0 and
    # 0.27 / 0.20; the fusions 1.0 / 0.97 on the shape, 0.81 / 0.67 on the mood
    assert acc[("shape", "EfficientNet-Lite0 + LR")] > 0.9 > 0.5 > acc[("shape", "USE + LR")]
    assert acc[("mood", "USE + LR")] > 0.9 > 0.5 > acc[("mood", "EfficientNet-Lite0 + LR")]
    for model in ("towers concatenated + LR", "towers late fusion"):
        assert acc[("shape", model)] > 0.9 and acc[("mood", model)] > 0.5, model
    assert acc[("shape", f"{pca} + LinearSVC")] > 0.9
    # the PCA is an embedding: clustering, retrieval and a t-SNE map
    assert list(result.clustering["embedder"]) == [pca] * 2
    assert result.retrieval["map_mean"].between(0, 1).all()
    assert result.maps[pca][0].shape == (32, 8)


@pytest.mark.slow
def test_joint_label_needs_both_modalities():
    """On make_shapes(label="joint") one modality alone is at chance."""
    X = make_shapes(300, image_size=16, label="joint", random_state=0)
    contenders = [c for c in make_contenders("shapes", config="quick",
                                             names=["TF-IDF + LinearSVC", "pixel PCA"])]
    result = run_comparison(X, {"joint": X["label"].to_numpy()}, contenders, cv=3)
    f1 = result.classification.set_index("model")["accuracy_mean"]
    assert (f1 < 0.62).all(), f1  # chance is 0.5
    assert np.isfinite(f1).all()


def _synthetic_result():
    """A comparison's classification table, made up (no training)."""
    rows = [  # model, embedder, baseline, f1 mean, f1 std
        ("majority class", None, True, 0.02, 0.0),
        ("TF-IDF + LinearSVC", None, True, 0.24, 0.01),
        ("image CNN", None, True, 0.23, 0.02),
        ("LSTM + CNN late fusion", None, True, 0.93, 0.01),
        ("pixel PCA + LinearSVC", "pixel PCA", True, 0.40, 0.02),
        ("pixel PCA + LogisticRegression", "pixel PCA", True, 0.45, 0.03),
        ("CRVAE + LinearSVC", "CRVAE", False, 0.50, 0.02),
        ("CRVAE + LogisticRegression", "CRVAE", False, 0.44, 0.02),
        ("common space + LinearSVC", "common space", False, 0.95, 0.02),
    ]
    frame = pd.DataFrame(rows, columns=["model", "embedder", "baseline", "f1_mean", "f1_std"])
    frame.insert(0, "target", "pair")
    other = frame.assign(target="joint", f1_mean=0.5)
    table = pd.concat([frame, other], ignore_index=True)
    empty = pd.DataFrame(columns=["target", "embedder"])
    return ComparisonResult(table, empty, empty, pd.DataFrame(), info={"cv": 3})


def test_verdict_says_which_baselines_each_embedder_beats():
    lines = verdict(_synthetic_result())
    assert lines[0].startswith("Verdict on 'pair' (mean macro-F1 over 3 folds")
    crvae = next(line for line in lines if line.strip().startswith("CRVAE"))
    common = next(line for line in lines if line.strip().startswith("common space"))
    # each by its best head; a difference within the larger std is a tie
    assert crvae.strip() == (
        "CRVAE (+ LinearSVC, 0.500 ± 0.020): beats pixel PCA + LogisticRegression (0.450), "
        "TF-IDF + LinearSVC (0.240), image CNN (0.230), majority class (0.020); "
        "beaten by LSTM + CNN late fusion (0.930)")
    assert lines.index(common) < lines.index(crvae)  # best first
    assert "beaten by" not in common and "ties LSTM + CNN late fusion (0.930)" in common
    assert lines[-1].strip() == ("best baseline: LSTM + CNN late fusion (0.930 ± 0.010); "
                                 "best multimodal embedder: common space + LinearSVC "
                                 "(0.950 ± 0.020)")
    joint = verdict(_synthetic_result(), "joint")
    assert all("beats" not in line and "beaten" not in line for line in joint[1:-1])


def test_verdict_without_embedders_or_baselines_says_so():
    result = _synthetic_result()
    only_baselines = result.classification[result.classification["baseline"]]
    result.classification = only_baselines
    assert verdict(result) == ["Verdict on 'pair': no multimodal embedder in this comparison."]
    result.classification = only_baselines.assign(baseline=False)
    assert verdict(result) == ["Verdict on 'pair': no baseline in this comparison."]


def test_demo_command_runs_the_demo_configuration(monkeypatch, tmp_path, capsys):
    """``python -m skmm demo``: the "demo" data and contenders, progress lines with the time
    left, the table and the verdict; ``--verbose 0`` leaves the progress out."""
    pytest.importorskip("matplotlib")
    import skmm.__main__ as cli
    import skmm.comparison as comparison

    X = make_shapes(60, image_size=16, label="color", random_state=0)
    asked = []

    def load(dataset, **kwargs):
        asked.append(("data", dataset, kwargs["config"]))
        return X, {"group": X["label"].to_numpy()}

    every = comparison.make_contenders

    def contenders(dataset, **kwargs):
        asked.append(("contenders", dataset, kwargs["config"]))
        # two cheap stand-ins for the demo's contenders
        return [c for c in every("shapes", config="quick",
                                 names=["majority class", "mean word vectors"])]

    monkeypatch.setattr(comparison, "load_benchmark_data", load)
    monkeypatch.setattr(comparison, "make_contenders", contenders)
    import skmm.comparison_pairs as pairs
    from skmm import CommonSpaceEmbedder

    # a cheap stand-in for the paired-retrieval section's contenders
    monkeypatch.setattr(pairs, "paired_contenders", lambda random_state: [
        ("common space (pairs)", lambda: CommonSpaceEmbedder(**configs.common_space(
            n_components=4, hidden_size=8, max_epochs=1, random_state=random_state)))])
    committed = tmp_path / "results"
    committed.mkdir()
    monkeypatch.setattr(cli, "REPO_RESULTS", committed)
    assert main(["demo", "--cv", "2", "--output", str(tmp_path / "out"),
                 "--update-results"]) == 0
    assert asked == [("data", "emoji", "demo"), ("contenders", "emoji", "demo")]
    out = capsys.readouterr().out
    assert "emoji (demo): 60 rows, loaded in" in out and "2-fold CV of 2 contenders" in out
    assert "[1/4] majority class, fold 1/2, about " in out
    assert "[4/4] mean word vectors, fold 2/2, about " in out
    assert "Verdict on 'group'" in out
    assert (tmp_path / "out" / "results.md").exists()
    md = (committed / "comparison_emoji_demo.md").read_text()
    assert "# skmm comparison: emoji (demo)" in md and "--update-results" in md
    assert "## Paired retrieval" in md and "| common space (pairs) | pairs |" in md
    assert "| common space (pairs) | image → text |" in md
    assert "[pairs 1/1] common space (pairs), fold 2/2" in out
    assert (committed / "comparison_emoji_demo.csv").exists()
    assert main(["demo", "--cv", "2", "--output", str(tmp_path / "quiet"), "--verbose", "0"]) == 0
    quiet = capsys.readouterr().out
    assert "[1/4]" not in quiet and "loading" not in quiet and "Verdict on 'group'" in quiet
