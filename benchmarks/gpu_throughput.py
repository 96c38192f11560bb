"""Training throughput of the paper-sized CRVAE: samples/s and share of the matrix peak.

    python benchmarks/gpu_throughput.py [--rows 4096] [--epochs 3] [--batch-sizes 16,128]
                                        [--configs fp32,bf16,bf16+cl,bf16+cl+compile]
                                        [--cache memory] [--output FILE]

Fits ``CRVAEEmbedder.paper()`` (120x200 images, 32-channel CNN, 2-layer
bidirectional LSTM(512), fusion 4000, latent 1000) on ``--rows`` rows of
``make_shapes`` for ``--epochs`` + 1 epochs per configuration and batch
size, and reports the median epoch time of all but the first (which pays
for cuDNN's autotuning and ``torch.compile``) as training samples/s.

Configurations (joined with ``+``): ``fp32``; ``bf16`` (``precision="bf16"``:
bfloat16 autocast, CUDA only); ``cl`` (``channels_last=True``); ``compile``
(``compile=True``, inductor). The defaults are all of those on CUDA and
``fp32,cl`` on the CPU (autocast is CUDA-only in skmm and inductor takes
minutes to build on 2 cores).

The floating-point operations of one training step (forward, loss,
backward) are counted once on the CPU with
:class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and
convolutions: the work tensor cores do); achieved FLOP/s = samples/s x
FLOPs per sample. On a known GPU this is given as a share of its dense
bf16 tensor-core peak (the "matrix throughput"; fp32 rows are compared with
the same peak, which they cannot reach). Writes Markdown to ``--output``
(``benchmarks/results/gpu_throughput_<device>.md`` by default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, rnn_flops, step_flops  # noqa: E402,F401  (rnn_flops: tests)

RESULTS = Path(__file__).parent / "results"

#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' data sheets.
BF16_PEAK_TFLOPS = {
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H200": 989.4,
    "A100": 312.0,
    "L4": 121.0,
    "L40S": 362.0,
}


def bf16_peak(device_name: str) -> float | None:
    """The dense bf16 peak (TFLOP/s) of a GPU by its CUDA name, or None if unknown."""
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):
        if key in device_name:
            return BF16_PEAK_TFLOPS[key]
    return None


def options(config: str) -> dict:
    """Estimator parameters of a configuration such as ``"bf16+cl+compile"``."""
    parts = set(config.split("+"))
    unknown = parts - {"fp32", "bf16", "cl", "compile"}
    if unknown:
        raise SystemExit(f"unknown configuration parts {sorted(unknown)} in {config!r}")
    return {"precision": "bf16" if "bf16" in parts else "float32",
            "channels_last": "cl" in parts, "compile": "compile" in parts}


def measure(X, config: str, batch_size: int, epochs: int, cache: str, device: str) -> dict:
    from skmm import CRVAEEmbedder

    emb = CRVAEEmbedder.paper(max_epochs=epochs + 1, batch_size=batch_size, random_state=0,
                              device=device, cache=cache, **options(config))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    emb.fit(X)
    wall = time.perf_counter() - start
    durations = list(emb.history_[:, "dur"])
    epoch_s = statistics.median(durations[1:]) if len(durations) > 1 else durations[0]
    return {
        "config": config, "batch_size": batch_size, "epoch_s": epoch_s,
        "first_epoch_s": durations[0], "samples_per_s": len(X) / epoch_s, "wall_s": wall,
        "gpu_peak_mib": (torch.cuda.max_memory_allocated() / 2**20
                         if device.startswith("cuda") else float("nan")),
        "final_loss": float(emb.history_[-1, "train_loss"]), "emb": emb,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up)")
    parser.add_argument("--batch-sizes", default="16,128")
    parser.add_argument("--configs", default=None)
    parser.add_argument("--cache", default="memory", choices=["memory", "none"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    from skmm.datasets import make_shapes
    from skmm.training import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    configs = (args.configs or ("fp32,bf16,bf16+cl,bf16+cl+compile" if cuda else "fp32,cl"))
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    peak = bf16_peak(name) if cuda else None
    if cuda:
        torch.backends.cudnn.benchmark = True
    X = make_shapes(args.rows, image_size=(120, 200), random_state=0)
    if args.cache == "none":  # stream the images from PNG files through DataLoader workers
        from streaming import write_files

        folder = Path(f"/tmp/skmm_gpu_throughput_{args.rows}")
        X = write_files(folder, args.rows)

    runs, flops = [], {}
    for batch_size in batch_sizes:
        for config in configs.split(","):
            run = measure(X, config, batch_size, args.epochs, args.cache, device)
            if batch_size not in flops:
                flops[batch_size] = step_flops(run["emb"], X, batch_size) / batch_size
            run["tflops"] = run["samples_per_s"] * flops[batch_size] / 1e12
            run["peak_share"] = run["tflops"] / peak if peak else float("nan")
            del run["emb"]
            runs.append(run)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()},
                  flush=True)

    command = ("python benchmarks/gpu_throughput.py " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:])).strip()
    peak_text = f"{peak:,.1f} TFLOP/s dense bf16" if peak else "unknown (no GPU or not listed)"
    lines = [
        f"# Paper-sized CRVAE training throughput ({name})",
        "",
        f"Machine: {machine()}",
        "",
        f"Command: `{command}`",
        "",
        f"{args.rows:,} rows of `make_shapes` at 120x200, `CRVAEEmbedder.paper()`, "
        f"`cache=\"{args.cache}\"`; samples/s from the median of {args.epochs} epochs after a "
        "warm-up epoch. FLOPs per training sample (forward + backward, counted by "
        "`FlopCounterMode`): "
        + ", ".join(f"{flops[b] / 1e9:,.2f} GFLOP at batch {b}" for b in batch_sizes)
        + f". Matrix peak: {peak_text}.",
        "",
        "| configuration | batch | samples/s | epoch (s) | first epoch (s) | achieved TFLOP/s "
        "| share of peak | GPU peak memory | final loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        share = "n/a" if np.isnan(r["peak_share"]) else f"{r['peak_share']:.1%}"
        mem = "n/a" if np.isnan(r["gpu_peak_mib"]) else f"{r['gpu_peak_mib']:,.0f} MiB"
        lines.append(f"| {r['config']} | {r['batch_size']} | {r['samples_per_s']:,.1f} | "
                     f"{r['epoch_s']:.2f} | {r['first_epoch_s']:.2f} | {r['tflops']:.3f} | "
                     f"{share} | {mem} | {r['final_loss']:.4f} |")
    output = Path(args.output or RESULTS / f"gpu_throughput_{'cuda' if cuda else 'cpu'}.md")
    output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
