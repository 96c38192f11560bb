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
    """The module itself, or the original one behind its wrappers.

    The wrappers are ``torch.compile``'s (``_orig_mod``) and the data-parallel
    ones (:class:`~torch.nn.parallel.DistributedDataParallel`, which
    Accelerate puts around the module when several processes train, and
    :class:`~torch.nn.DataParallel`), in any order.
    """
    while True:
        if isinstance(module, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


def available_devices() -> list[str]:
    """The devices torch can use here: ``"cpu"``, then ``"cuda:0"`` ... and ``"mps"``."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device) -> str:
    """The device to train on: ``"auto"`` is CUDA when a GPU is present, else the CPU.

    Raises
    ------
    ValueError
        ``device`` is not a device name torch knows (e.g. ``"gpu"``), or names
        one this machine does not have (``"cuda"`` on a CPU-only build, a
        GPU index out of range); the message lists the available devices.
    """
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    available = available_devices()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device={device!r} is not a device torch knows; use \"auto\" or one "
                         f"of the available devices {available}") from None
    if parsed.type == "cpu":
        return str(device)
    name = f"{parsed.type}:{parsed.index}" if parsed.index is not None else parsed.type
    if not any(a == name or a.split(":")[0] == name for a in available):
        why = ("this build of torch has no CUDA support" if parsed.type == "cuda"
               and not torch.backends.cuda.is_built() else "it is not available here")
        raise ValueError(f"device={device!r} cannot be used: {why}; available devices: "
                         f"{available} (device=\"auto\" picks CUDA when present)")
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
