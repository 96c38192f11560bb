"""Resumable training (``checkpoint_dir``): skmm/training/checkpoint.py and CheckpointMixin.

A fit interrupted after epoch k (by an exception here, by ``kill -9`` in a
subprocess in the slow test) and fitted again with the same ``checkpoint_dir``
ends with the embedding and the history of an uninterrupted fit, bit for bit
on the CPU; a checkpoint of another fit is refused before training.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from skmm import CommonSpaceEmbedder, CRVAEEmbedder, MMEDAEmbedder
from skmm.datasets import make_shapes
from skmm.exceptions import CheckpointMismatchError
from skmm.training import checkpoint as ck
from skmm.training.checkpoint import (
    CHECKPOINT_FILE,
    describe,
    hash_data,
    read_checkpoint,
)
from tests import tiny

ROOT = Path(__file__).resolve().parents[2]

CRVAE = tiny.crvae(max_epochs=4, n_threads=1)
MMEDA = tiny.mmeda(max_epochs=4, n_threads=1)
COMMON_SPACE = tiny.common_space(max_epochs=4, batch_size=16, n_threads=1)
MODELS = {
    "crvae": (CRVAEEmbedder, {**CRVAE, "validation_fraction": 0.25}),
    "mmeda": (MMEDAEmbedder, {**MMEDA, "validation_fraction": 0.25}),
    "common_space": (CommonSpaceEmbedder, COMMON_SPACE),  # partner dropout, balanced batches
}
LOSS_KEYS = ("epoch", "train_loss", "valid_loss", "train_batch_count")


@pytest.fixture(scope="module")
def X():
    return make_shapes(32, image_size=16, label="color", random_state=0)


@pytest.fixture(scope="module")
def reference(X):
    """An uninterrupted CRVAE fit without checkpoints."""
    return CRVAEEmbedder(**CRVAE).fit(X)


class Interrupted(Exception):
    pass


@pytest.fixture
def interrupt(monkeypatch):
    """``interrupt(k)``: the next checkpointed fit raises right after saving epoch k."""
    save = ck.EpochCheckpoint.on_epoch_end

    def arm(epoch):
        def on_epoch_end(self, net, **kwargs):
            save(self, net, **kwargs)
            if len(net.history) == epoch:
                monkeypatch.setattr(ck.EpochCheckpoint, "on_epoch_end", save)
                raise Interrupted

        monkeypatch.setattr(ck.EpochCheckpoint, "on_epoch_end", on_epoch_end)

    return arm


def fit(cls, params, X, **extra):
    emb = cls(**{**params, **extra})
    return emb.fit(X, X["label"]) if cls is CommonSpaceEmbedder else emb.fit(X)


def losses(history):
    return [{k: row.get(k) for k in LOSS_KEYS} | {k: v for k, v in row.items()
                                                 if k.startswith(("train_", "valid_"))}
            for row in history]


def assert_same_fit(a, b, X):
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert losses(a.history_) == losses(b.history_)
    assert [r["batches"] for r in a.history_] == [r["batches"] for r in b.history_]


def saved_epoch(folder) -> int:
    return int(read_checkpoint(folder)["epoch"])


# ---- resuming ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_interrupted_fit_resumes_to_the_uninterrupted_result(name, X, tmp_path, interrupt):
    cls, params = MODELS[name]
    plain = fit(cls, params, X)
    interrupt(2)
    with pytest.raises(Interrupted):
        fit(cls, params, X, checkpoint_dir=tmp_path)
    assert saved_epoch(tmp_path) == 2
    resumed = fit(cls, params, X, checkpoint_dir=tmp_path)
    assert_same_fit(resumed, plain, X)
    assert saved_epoch(tmp_path) == params["max_epochs"]


@pytest.mark.slow
def test_kill_9_mid_fit_then_fit_again_gives_the_uninterrupted_embedding(X, reference,
                                                                         tmp_path):
    folder = tmp_path / "ckpt"
    params = {**CRVAE, "max_epochs": 25}
    script = textwrap.dedent(f"""
        import time
        from skmm import CRVAEEmbedder
        from skmm.datasets import make_shapes
        from skmm.training.checkpoint import EpochCheckpoint
        from tests import tiny

        save = EpochCheckpoint.on_epoch_end

        def slow(self, net, **kwargs):  # leave the parent time to kill us mid-fit
            save(self, net, **kwargs)
            time.sleep(0.15)

        EpochCheckpoint.on_epoch_end = slow
        X = make_shapes(32, image_size=16, label="color", random_state=0)
        CRVAEEmbedder(**tiny.crvae(max_epochs=25, n_threads=1),
                      checkpoint_dir={str(folder)!r}).fit(X)
        print("finished")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (folder / CHECKPOINT_FILE).exists() and saved_epoch(folder) >= 3:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    killed_at = saved_epoch(folder)
    assert 3 <= killed_at < params["max_epochs"]

    uninterrupted = CRVAEEmbedder(**params).fit(X)
    resumed = CRVAEEmbedder(**params, checkpoint_dir=folder).fit(X)
    assert_same_fit(resumed, uninterrupted, X)
    assert len(resumed.history_) == params["max_epochs"]


def test_complete_checkpoint_returns_the_finished_fit_and_max_epochs_extends_it(
        X, reference, tmp_path):
    first = CRVAEEmbedder(**{**CRVAE, "max_epochs": 2}, checkpoint_dir=tmp_path).fit(X)
    # fitting again: restored, not trained (the epoch durations are the saved ones)
    again = CRVAEEmbedder(**{**CRVAE, "max_epochs": 2}, checkpoint_dir=tmp_path).fit(X)
    assert list(again.history_[:, "dur"]) == list(first.history_[:, "dur"])
    np.testing.assert_array_equal(again.transform(X), first.transform(X))
    # more epochs go on from the checkpoint, to the result of a longer fit
    longer = CRVAEEmbedder(**CRVAE, checkpoint_dir=tmp_path).fit(X)
    assert longer.history_[:2, "dur"] == first.history_[:, "dur"]
    assert_same_fit(longer, reference, X)
    with pytest.raises(ValueError, match=r"epoch 4, beyond max_epochs=3"):
        CRVAEEmbedder(**{**CRVAE, "max_epochs": 3}, checkpoint_dir=tmp_path).fit(X)


def test_parameters_that_do_not_change_the_result_may_change(X, reference, tmp_path,
                                                              interrupt):
    interrupt(1)
    with pytest.raises(Interrupted):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=str(tmp_path)).fit(X)
    resumed = CRVAEEmbedder(**CRVAE, checkpoint_dir=tmp_path, verbose=1, num_workers=0,
                            memory_budget=None, device="cpu").fit(X)
    assert_same_fit(resumed, reference, X)


def test_unseeded_fit_resumes_with_the_seeds_of_the_checkpoint(X, tmp_path, interrupt):
    params = {**CRVAE, "random_state": None}
    interrupt(2)
    with pytest.raises(Interrupted):
        CRVAEEmbedder(**params, checkpoint_dir=tmp_path).fit(X)
    saved = read_checkpoint(tmp_path)
    seeds, dur = saved["fingerprint"]["seeds"], [r["dur"] for r in json.loads(saved["history"])]
    resumed = CRVAEEmbedder(**params, checkpoint_dir=tmp_path).fit(X)
    assert list(resumed.history_[:2, "dur"]) == dur  # the first epochs were not trained again
    assert len(resumed.history_) == CRVAE["max_epochs"]
    assert read_checkpoint(tmp_path)["fingerprint"]["seeds"] == seeds


# ---- refusing another fit's checkpoint -------------------------------------------


@pytest.fixture
def folder(X, tmp_path, interrupt):
    """A folder holding the checkpoint of epoch 1 of a CRVAE fit (CRVAE parameters)."""
    interrupt(1)
    with pytest.raises(Interrupted):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=tmp_path).fit(X)
    return tmp_path


@pytest.mark.parametrize("change, match", [
    ({"lr": 0.01}, r"other parameters: lr=0\.01 \(checkpoint: 0\.003\)"),
    ({"beta": 1.0, "n_components": 3}, r"beta=1\.0 \(checkpoint: 'auto'\), n_components=3"),
    ({"random_state": 1}, r"random_state=1 \(checkpoint: 0\)"),
])
def test_checkpoint_of_other_parameters_is_refused(X, folder, change, match):
    before = (folder / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(CheckpointMismatchError, match=match) as info:
        CRVAEEmbedder(**{**CRVAE, **change}, checkpoint_dir=folder).fit(X)
    assert str(folder) in str(info.value) and "another checkpoint_dir" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert (folder / CHECKPOINT_FILE).read_bytes() == before  # left as it was


def test_checkpoint_of_other_data_or_estimator_is_refused(X, folder):
    with pytest.raises(CheckpointMismatchError, match=r"other training data \(in \['image'\]"):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=folder).fit(X.iloc[::-1].reset_index(drop=True)
                                                             .assign(text=X["text"]))
    with pytest.raises(CheckpointMismatchError, match="other training data"):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=folder).fit(X.iloc[:-1])
    with pytest.raises(CheckpointMismatchError, match="made by CRVAEEmbedder, not MMEDA"):
        MMEDAEmbedder(**MMEDA, checkpoint_dir=folder).fit(X)
    # streamed images are identified by their cells: a switch of cache is named
    with pytest.raises(CheckpointMismatchError, match=r"\['image'\] streamed in one fit"):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=folder, cache="none", num_workers=0).fit(X)


def test_unreadable_checkpoint_is_refused_with_its_path(X, tmp_path):
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read the checkpoint .*checkpoint.pt"):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=tmp_path).fit(X)


def test_accelerator_is_refused(X, tmp_path):
    class Accelerator:  # passes the parameter's constraint
        def prepare(self, *args):
            return args

        def backward(self, loss):
            loss.backward()

    with pytest.raises(ValueError, match="checkpoint_dir cannot be used with accelerator"):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=tmp_path, accelerator=Accelerator()).fit(X)


# ---- the file --------------------------------------------------------------------


def test_a_save_killed_midway_leaves_the_previous_checkpoint_whole(X, folder, monkeypatch,
                                                                   reference):
    before = (folder / CHECKPOINT_FILE).read_bytes()
    real_save = torch.save

    def dies_while_writing(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise Interrupted

    monkeypatch.setattr(torch, "save", dies_while_writing)
    with pytest.raises(Interrupted):
        CRVAEEmbedder(**CRVAE, checkpoint_dir=folder).fit(X)
    monkeypatch.setattr(torch, "save", real_save)
    assert (folder / CHECKPOINT_FILE).read_bytes() == before
    assert list(folder.iterdir()) == [folder / CHECKPOINT_FILE]
    # a temporary file of a process killed during a save is removed by the next fit
    (folder / f".{CHECKPOINT_FILE}.99999.tmp").write_bytes(b"half")
    resumed = CRVAEEmbedder(**CRVAE, checkpoint_dir=folder).fit(X)
    assert list(folder.iterdir()) == [folder / CHECKPOINT_FILE]
    assert_same_fit(resumed, reference, X)


def test_checkpoint_holds_every_state_and_loads_without_pickled_code(folder):
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    assert saved["epoch"] == 1
    assert set(saved["rng"]) == {"torch", "cuda", "generators"}
    assert list(saved["rng"]["generators"]) == ["iterator_train__generator"]
    assert {"module", "optimizer", "history", "fingerprint"} <= set(saved)
    fingerprint = saved["fingerprint"]
    assert fingerprint["estimator"] == "CRVAEEmbedder"
    assert set(fingerprint["data"]) == {"image", "tokens", "lengths"}
    for ignored in ("checkpoint_dir", "verbose", "n_threads", "device", "max_epochs"):
        assert ignored not in fingerprint["params"]
    assert fingerprint["params"]["lr"] == "0.003"


def test_partial_fit_stages_do_not_checkpoint(X, tmp_path):
    X = X.assign(caption=("it is " + X["color"].astype(str)).astype(object))
    params = {**COMMON_SPACE, "max_epochs": 1, "strategy": "mcvs"}
    emb = CommonSpaceEmbedder(**params, checkpoint_dir=tmp_path).fit(X, X["label"])
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    emb.set_params(modalities={**COMMON_SPACE["modalities"],
                               "caption": ("caption", tiny.MeanWordEncoder(vector_size=8))})
    emb.partial_fit(X, X["label"])
    assert len(emb.stages_) == 2
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before


def test_describe_and_hash_data_are_stable():
    assert describe((16, 16)) == describe([16, 16]) == "[16, 16]"
    assert describe(Path("a/b.kv")) == describe("a/b.kv")
    assert describe({"b": 1, "a": 2.0}) == "{'a': 2.0, 'b': 1}"
    assert describe(np.int64(3)) == "3" and describe(np.float32(0.5)) == "0.5"
    assert describe(str.split) == "<builtins.str.split>"
    data = {"x": torch.arange(6).reshape(2, 3), "y": torch.zeros(2)}
    assert hash_data(data) == hash_data({k: v.clone() for k, v in data.items()})
    assert hash_data(data)["x"] != hash_data({**data, "x": data["x"].T.contiguous()})["x"]


# ---- with max_epochs="auto": the plateau rule ------------------------------------


@pytest.fixture
def quick_plateau(monkeypatch):
    """A plateau rule that a tiny fit meets in a few epochs (under a cap of 200)."""
    import skmm._params

    monkeypatch.setattr(skmm._params, "AUTO_STEPS", 400)
    monkeypatch.setattr(skmm._params, "PLATEAU_THRESHOLD", 0.0)
    monkeypatch.setattr(skmm._params, "PLATEAU_PATIENCE", 3)
    monkeypatch.setattr(skmm._params, "PLATEAU_PATIENCE_STEPS", 0)
    monkeypatch.setattr(skmm._params, "PLATEAU_MIN_STEPS", 8)


STOPPING = {
    "train_loss": (CRVAEEmbedder, {**CRVAE, "max_epochs": "auto", "lr": 1e-2}),
    "valid_loss": (MMEDAEmbedder, {**MMEDA, "max_epochs": "auto", "lr": 1e-2, "batch_size": 8,
                                   "validation_fraction": 0.25}),
}


@pytest.mark.parametrize("monitor", list(STOPPING))
def test_a_resumed_fit_stops_at_the_epoch_of_the_uninterrupted_one(monitor, X, tmp_path,
                                                                     interrupt, quick_plateau):
    cls, params = STOPPING[monitor]
    plain = fit(cls, params, X)
    stop = dict(plain.net_.callbacks_)["stopping"]
    assert plain.stopped_early_ and stop.monitor == monitor
    # interrupted within the patience, after the best epoch: the misses must be replayed
    k = plain.n_epochs_ - 1
    assert stop.lowest_epoch_ < k
    interrupt(k)
    with pytest.raises(Interrupted):
        fit(cls, params, X, checkpoint_dir=tmp_path)
    resumed = fit(cls, params, X, checkpoint_dir=tmp_path)
    assert resumed.n_epochs_ == plain.n_epochs_ and resumed.stopped_early_
    assert_same_fit(resumed, plain, X)  # valid_loss: the best epoch's weights, restored
    assert saved_epoch(tmp_path) == plain.n_epochs_
    # the checkpoint of the epoch where it stopped is complete: restored, not trained
    again = fit(cls, params, X, checkpoint_dir=tmp_path)
    assert list(again.history_[:, "dur"]) == list(resumed.history_[:, "dur"])
    assert again.stopped_early_
    np.testing.assert_array_equal(again.transform(X), plain.transform(X))


def test_the_checkpoint_keeps_the_best_weights_only_when_they_are_not_the_modules(
        X, tmp_path, quick_plateau):
    cls, params = STOPPING["valid_loss"]
    emb = fit(cls, params, X, checkpoint_dir=tmp_path)
    stop = dict(emb.net_.callbacks_)["stopping"]
    saved = read_checkpoint(tmp_path)
    assert stop.lowest_epoch_ < saved["epoch"]
    best = saved["best_module"]
    assert set(best) == set(emb.net_.module_.state_dict())
    for name, value in emb.net_.module_.state_dict().items():  # restored at the end
        torch.testing.assert_close(value, best[name], rtol=0, atol=0)
    cls, params = STOPPING["train_loss"]
    fit(cls, params, X, checkpoint_dir=tmp_path / "train")
    assert read_checkpoint(tmp_path / "train")["best_module"] is None  # last weights kept
