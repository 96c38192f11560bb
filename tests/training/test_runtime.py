"""skmm.training.runtime: device, seeded blocks, compiled modules."""

import pytest
import torch

from skmm.training import resolve_device, torch_seed, torch_threads, unwrap


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_unknown_or_missing_devices_are_named_with_what_is_available():
    with pytest.raises(ValueError, match=r"device='gpu' is not a device torch knows.*\['cpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda' cannot be used.*available devices"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="cuda:99"):
        resolve_device("cuda:99")


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_torch_seed_leaves_the_global_rng_untouched():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    with torch_seed(5):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with torch_seed(5):
        assert torch.equal(torch.rand(3), inside)


def test_unwrap():
    module = torch.nn.Linear(2, 2)
    assert unwrap(module) is module

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

    assert unwrap(Wrapper(module)) is module
