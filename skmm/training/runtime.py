"""Where and how torch runs: the device, seeded blocks, compiled modules."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["resolve_device", "torch_seed", "torch_threads", "unwrap"]


@contextlib.contextmanager
def torch_seed(seed: int):
    """Seed torch inside the block and leave the caller's global RNG state untouched."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module itself, or the original one behind a ``torch.compile`` wrapper."""
    return getattr(module, "_orig_mod", module)


def resolve_device(device: str | torch.device) -> str:
    """Resolve ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch intra-op threads (None: as they are), then restore."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
