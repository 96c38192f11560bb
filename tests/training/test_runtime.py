"""skmm.training.runtime: device, seeded blocks, compiled modules."""

import torch

from skmm.training import resolve_device, torch_seed, unwrap


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


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
