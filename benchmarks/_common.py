"""What the benchmark scripts share: the one-line machine description."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """CPU, core count, torch version and threads, GPU, Python: one line."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}, "
            f"Python {platform.python_version()}")
