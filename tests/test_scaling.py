"""Scaling paths on the CPU: Accelerate (single process), data-parallel sharding, dask."""

from pathlib import Path

import numpy as np
import pytest
import torch

from skmm.training import AcceleratedMultimodalNet, MultimodalNet, SliceLoader, TensorDict
from tests import tiny

accelerate = pytest.importorskip("accelerate")


class Toy(torch.nn.Module):
    host_keys = ("lengths",)

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x, lengths):
        return self.lin(x)

    def loss_terms(self, out, batch):
        a = out.pow(2).mean()
        b = (out - batch["x"][:, :2]).abs().mean()
        return {"loss": a + b, "a": a, "b": b}


def _data():
    g = torch.Generator().manual_seed(0)
    return TensorDict({"x": torch.randn(50, 4, generator=g), "lengths": torch.arange(50)})


def _fit(cls, **kwargs):
    torch.manual_seed(0)
    net = cls(Toy(), optimizer=torch.optim.Adam, lr=0.01, max_epochs=3, batch_size=8,
              iterator_train__shuffle=True,
              iterator_train__generator=torch.Generator().manual_seed(1), verbose=0, **kwargs)
    return net.fit(_data())


def test_accelerate_single_process_equals_plain_net():
    plain = _fit(MultimodalNet, device="cpu")
    accelerated = _fit(AcceleratedMultimodalNet, accelerator=accelerate.Accelerator(cpu=True))
    assert type(accelerated.module_) is Toy  # unwrapped after training
    np.testing.assert_array_equal(plain.history[:, "train_loss"],
                                  accelerated.history[:, "train_loss"])
    assert accelerated.history[-1, "train_a"] == plain.history[-1, "train_a"]
    torch.testing.assert_close(plain.module_.lin.weight, accelerated.module_.lin.weight,
                               rtol=0, atol=0)
    terms = accelerated.evaluate_terms(_data())
    assert set(terms) == {"loss", "a", "b"}


def test_accelerated_net_hands_the_accelerator_no_criterion():
    # accelerate wraps every module it prepares in DistributedDataParallel
    # under several CPU processes, which refuses a module without parameters
    from skmm.training.net import ModuleLoss

    net = _fit(AcceleratedMultimodalNet, accelerator=accelerate.Accelerator(cpu=True))
    assert isinstance(net.criterion_, ModuleLoss)
    assert not isinstance(net.criterion_, torch.nn.Module)
    with pytest.raises(TypeError, match="loss_terms"):
        net.criterion_(None, None)


def test_slice_loader_shards_batches_between_processes():
    data = _data()
    seen = []
    for rank in range(3):
        loader = SliceLoader(data, batch_size=4, shuffle=True,
                             generator=torch.Generator().manual_seed(5))
        loader.shard = (rank, 3)
        batches = [b["lengths"] for b, _ in loader]
        assert len(batches) == len(loader) == 13 // 3
        seen.append(torch.cat(batches))
    rows = torch.cat(seen)
    assert len(rows.unique()) == len(rows)  # disjoint shares of one permutation


@pytest.mark.slow
def test_grid_search_on_dask_local_cluster_equals_sequential():
    """GridSearchCV over an skmm estimator with joblib's dask backend (loopback only)."""
    distributed = pytest.importorskip("distributed")
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skmm import CRVAEEmbedder
    from skmm.datasets import make_shapes

    X = make_shapes(40, image_size=16, random_state=0)
    model = CRVAEEmbedder(**TINY_CRVAE)
    grid = {"beta": [0.05, 1.0]}
    sequential = GridSearchCV(model, grid, cv=2).fit(X)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(model, grid, cv=2, n_jobs=-1).fit(X)
    # same seeds, same fits: equal up to float reduction order (a dask worker
    # runs torch with one thread, this process with several)
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"],
                               sequential.cv_results_["mean_test_score"], rtol=1e-4)
    assert on_dask.best_params_ == sequential.best_params_
    np.testing.assert_allclose(on_dask.best_estimator_.transform(X),
                               sequential.best_estimator_.transform(X), rtol=1e-3, atol=1e-4)


TINY_CRVAE = tiny.crvae()


@pytest.fixture(scope="module")
def shapes_on_disk(tmp_path_factory):
    """make_shapes with the image column as PNG paths."""
    from PIL import Image

    from skmm.datasets import make_shapes

    X = make_shapes(40, image_size=16, random_state=0)
    folder = tmp_path_factory.mktemp("shapes")
    paths = []
    for i, image in enumerate(X["image"]):
        paths.append(str(folder / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    X = X.astype({"image": object})
    X["image"] = paths
    return X


@pytest.mark.parametrize("num_workers", [0, 2])
def test_streamed_fit_equals_in_memory_fit(shapes_on_disk, num_workers):
    from skmm import CRVAEEmbedder

    X = shapes_on_disk
    in_memory = CRVAEEmbedder(**TINY_CRVAE, cache="memory")
    streamed = CRVAEEmbedder(**TINY_CRVAE, cache="none", num_workers=num_workers)
    Z_memory = in_memory.fit_transform(X)
    Z_streamed = streamed.fit_transform(X)
    np.testing.assert_array_equal(Z_memory, Z_streamed)
    np.testing.assert_array_equal(in_memory.history_[:, "train_loss"],
                                  streamed.history_[:, "train_loss"])
    np.testing.assert_array_equal(streamed.transform(X.iloc[:7]), in_memory.transform(X.iloc[:7]))


def test_auto_cache_streams_above_memory_budget(shapes_on_disk):
    from skmm import CRVAEEmbedder

    small_budget = CRVAEEmbedder(**TINY_CRVAE, memory_budget=1000, num_workers=0)
    assert small_budget._streams(40 * 3 * 16 * 16)
    assert not CRVAEEmbedder(**TINY_CRVAE)._streams(40 * 3 * 16 * 16)
    Z = small_budget.fit_transform(shapes_on_disk)
    np.testing.assert_array_equal(
        Z, CRVAEEmbedder(**TINY_CRVAE, cache="memory").fit_transform(shapes_on_disk))


def test_streamed_fit_reports_unreadable_file_before_training(shapes_on_disk):
    from skmm import CRVAEEmbedder
    from skmm.exceptions import InvalidRowsError

    X = shapes_on_disk.copy()
    X.loc[X.index[5], "image"] = "/no/such/image.png"
    with pytest.raises(InvalidRowsError, match="'image'") as err:
        CRVAEEmbedder(**TINY_CRVAE, cache="none").fit(X)
    assert "5" in str(err.value)


def test_crvae_trains_through_accelerate(shapes_on_disk):
    import pickle

    from skmm import CRVAEEmbedder

    X = shapes_on_disk
    # the accelerator owns mixed precision (float32 here): compare with a float32 net
    plain = CRVAEEmbedder(**TINY_CRVAE, device="cpu", precision="float32").fit(X)
    accelerated = CRVAEEmbedder(**TINY_CRVAE,
                                accelerator=accelerate.Accelerator(cpu=True)).fit(X)
    np.testing.assert_array_equal(plain.transform(X), accelerated.transform(X))
    assert "train_kl" in accelerated.history_[-1]
    restored = pickle.loads(pickle.dumps(accelerated))
    np.testing.assert_array_equal(restored.transform(X), plain.transform(X))


TINY_MMEDA = tiny.mmeda()


def test_mmeda_streams_and_trains_through_accelerate(shapes_on_disk):
    from skmm import MMEDAEmbedder

    X = shapes_on_disk
    in_memory = MMEDAEmbedder(**TINY_MMEDA, cache="memory", device="cpu", precision="float32")
    Z = in_memory.fit_transform(X)
    streamed = MMEDAEmbedder(**TINY_MMEDA, cache="none", num_workers=0, precision="float32")
    np.testing.assert_array_equal(streamed.fit_transform(X), Z)
    accelerated = MMEDAEmbedder(**TINY_MMEDA, accelerator=accelerate.Accelerator(cpu=True))
    np.testing.assert_array_equal(accelerated.fit_transform(X), Z)


TINY_COMMON = tiny.common_space(batch_size=16)


@pytest.fixture(scope="module")
def partly_paired(shapes_on_disk):
    """Shapes on disk with a few image cells missing (text-only rows)."""
    X = shapes_on_disk.copy()
    X.loc[X.index[[3, 17, 30]], "image"] = None
    return X


@pytest.mark.parametrize("num_workers", [0, 2])
def test_common_space_streamed_equals_in_memory(partly_paired, num_workers):
    from skmm import CommonSpaceEmbedder
    from skmm.training import ClassBalancedWorkerLoader

    X, y = partly_paired, partly_paired["color"].to_numpy()
    in_memory = CommonSpaceEmbedder(**TINY_COMMON, cache="memory").fit(X, y)
    streamed = CommonSpaceEmbedder(**TINY_COMMON, cache="none", num_workers=num_workers)
    Z = streamed.fit_transform(X, y)
    assert streamed.net_.iterator_train is ClassBalancedWorkerLoader
    np.testing.assert_array_equal(Z, in_memory.transform(X))
    np.testing.assert_array_equal(streamed.history_[:, "train_loss"],
                                  in_memory.history_[:, "train_loss"])
    with_image = X.dropna(subset=["image"])
    np.testing.assert_array_equal(streamed.embed(with_image, "image"),
                                  in_memory.embed(with_image, "image"))
    assert streamed.score(X, y) == in_memory.score(X, y)


def test_common_space_streamed_stage_and_bad_file(partly_paired):
    from skmm import CommonSpaceEmbedder
    from skmm.exceptions import InvalidRowsError

    X, y = partly_paired, partly_paired["color"].to_numpy()
    params = dict(TINY_COMMON, strategy="mcvs", modalities=["text"])
    streamed = CommonSpaceEmbedder(**params, cache="none", num_workers=0).fit(X, y)
    in_memory = CommonSpaceEmbedder(**params, cache="memory").fit(X, y)
    for emb in (streamed, in_memory):  # add the image modality as a second stage
        emb.set_params(modalities=["text", "image"]).partial_fit(X, y)
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(X))

    bad = X.copy()
    bad.loc[bad.index[8], "image"] = "/no/such/file.png"
    before = streamed.transform(X)
    with pytest.raises(InvalidRowsError, match="'image'") as err:
        streamed.fit(bad, y)
    assert "8" in str(err.value)
    np.testing.assert_array_equal(streamed.transform(X), before)  # previous fit kept


def test_common_space_trains_through_accelerate(shapes_on_disk):
    from skmm import CommonSpaceEmbedder

    X, y = shapes_on_disk, shapes_on_disk["color"].to_numpy()
    plain = CommonSpaceEmbedder(**TINY_COMMON, device="cpu", precision="float32").fit(X, y)
    accelerated = CommonSpaceEmbedder(**TINY_COMMON,
                                      accelerator=accelerate.Accelerator(cpu=True)).fit(X, y)
    np.testing.assert_array_equal(plain.transform(X), accelerated.transform(X))
    assert "train_inter" in accelerated.history_[-1]


# ---- GPU efficiency options, checked on the CPU --------------------------------
def test_channels_last_keeps_weights_and_images_channels_last(shapes_on_disk):
    from skmm import CRVAEEmbedder

    X = shapes_on_disk
    seen = []
    default = CRVAEEmbedder(**TINY_CRVAE, cache="memory").fit(X)
    emb = CRVAEEmbedder(**TINY_CRVAE, cache="memory", channels_last=True)
    emb.fit(X)
    net = emb.net_
    conv = [p for p in net.module_.parameters() if p.dim() == 4]
    assert conv and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv)
    batch = net.to_device({"image": torch.zeros(2, 3, 16, 16, dtype=torch.uint8),
                           "lengths": torch.ones(2, dtype=torch.int64)})
    seen.append(batch["image"])
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert batch["lengths"].device.type == "cpu"  # host keys stay put
    # the same training in another memory layout: equal up to rounding, which
    # two epochs compound (differences of about 3e-4 on values of about 0.1)
    np.testing.assert_allclose(emb.transform(X), default.transform(X), rtol=0, atol=2e-3)


@pytest.mark.slow
def test_compile_option_trains_a_compiled_module(shapes_on_disk):
    import pickle

    from skmm import CRVAEEmbedder

    X = shapes_on_disk
    # "aot_eager" traces forward and backward as inductor does, without a C++ build
    emb = CRVAEEmbedder(**TINY_CRVAE, cache="memory", compile={"backend": "aot_eager"})
    emb.fit(X)
    assert emb.net_.compile and emb.net_.compile__backend == "aot_eager"
    assert hasattr(emb.net_.module_, "_orig_mod")  # a torch.compile wrapper
    plain = CRVAEEmbedder(**TINY_CRVAE, cache="memory").fit(X)
    np.testing.assert_allclose(emb.history_[:, "train_loss"], plain.history_[:, "train_loss"],
                               rtol=1e-4)
    # traced kernels round differently; two epochs compound it (as channels_last)
    np.testing.assert_allclose(emb.transform(X), plain.transform(X), rtol=0, atol=2e-3)
    restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(X), emb.transform(X))


def test_compiled_common_space_grows_a_stage(shapes_on_disk):
    from skmm import CommonSpaceEmbedder

    X, y = shapes_on_disk, shapes_on_disk["color"].to_numpy()
    modalities = TINY_COMMON["modalities"]
    emb = CommonSpaceEmbedder(**{**TINY_COMMON, "modalities": {"text": modalities["text"]}},
                              strategy="mcvs", compile={"backend": "eager"}).fit(X, y)
    before = emb.embed(X, "text")
    emb.set_params(modalities={"text": modalities["text"], "image": modalities["image"]})
    emb.partial_fit(X, y)
    assert [s["added"] for s in emb.stages_] == [["text"], ["image"]]
    np.testing.assert_array_equal(emb.embed(X, "text"), before)  # frozen stage


def test_gpu_options_are_validated():
    from skmm import CRVAEEmbedder, MMEDAEmbedder

    for cls in (CRVAEEmbedder, MMEDAEmbedder):
        with pytest.raises(ValueError, match="compile"):
            cls(compile="yes").fit(None)
        with pytest.raises(ValueError, match="channels_last"):
            cls(channels_last=1.5).fit(None)


BF16_SCRIPT = """
import json
import numpy as np, torch
from accelerate import Accelerator
from skmm import CommonSpaceEmbedder, CRVAEEmbedder
from skmm.datasets import make_shapes
from tests import tiny

X = make_shapes(40, image_size=16, random_state=0)
accelerator = Accelerator(cpu=True, mixed_precision="bf16")
dtypes = set()
torch.nn.modules.module.register_module_forward_hook(
    lambda module, args, out: dtypes.add(str(out.dtype)) if isinstance(out, torch.Tensor) else None)
crvae = CRVAEEmbedder(**tiny.crvae(), accelerator=accelerator).fit(X)
common = CommonSpaceEmbedder(**tiny.common_space(batch_size=16), accelerator=accelerator)
common.fit(X, X["color"])
fp32 = CommonSpaceEmbedder(**tiny.common_space(batch_size=16), device="cpu").fit(X, X["color"])
print(json.dumps({"dtypes": sorted(dtypes), "crvae": list(crvae.history_[:, "train_loss"]),
                  "finite": bool(np.isfinite(crvae.transform(X)).all()),
                  "score": common.score(X, X["color"]), "fp32": fp32.score(X, X["color"])}))
"""


@pytest.mark.slow
def test_bf16_mixed_precision_through_accelerate():
    """An Accelerator(mixed_precision="bf16") trains in bf16 (in its own process:
    the accelerator state is process-wide)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", BF16_SCRIPT], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "torch.bfloat16" in result["dtypes"]  # layers ran under bf16 autocast
    assert np.isfinite(result["crvae"]).all() and result["finite"]
    # bf16 rounding changes the weights a little, not what is learned
    assert result["score"] != result["fp32"]
    assert abs(result["score"] - result["fp32"]) < 0.05


@pytest.mark.slow
def test_inductor_compiles_the_crvae(shapes_on_disk):
    """compile=True, as on a GPU: inductor builds CPU kernels (about 20 s)."""
    from skmm import CRVAEEmbedder

    X = shapes_on_disk
    # at the paper's small rate the two sampling streams stay close
    compiled = CRVAEEmbedder(**TINY_CRVAE, cache="memory", compile=True, lr=1e-3).fit(X)
    eager = CRVAEEmbedder(**TINY_CRVAE, cache="memory", lr=1e-3).fit(X)
    assert hasattr(compiled.net_.module_, "_orig_mod")
    # inductor draws the VAE's samples from its own generator: close, not equal
    np.testing.assert_allclose(compiled.transform(X), eager.transform(X), rtol=0, atol=2e-2)
    assert np.isfinite(compiled.history_[:, "train_loss"]).all()
