"""CRVAE training on the CPU in float32, bf16 and bf16 + channels-last: speed and loss.

    python benchmarks/cpu_precision.py [--threads 2] [--configs fp32,cl,bf16,bf16+cl]
                                       [--paper-rows 64] [--paper-epochs 10]
                                       [--default-rows 1024] [--default-epochs 20]
                                       [--clock-ghz G] [--fma-per-cycle N] [--output FILE]

Two models, each trained once per configuration with the same seed:

* ``paper``: ``CRVAEEmbedder.paper()`` (120x200 images, 2-layer bidirectional
  LSTM(512), fusion 4000, latent 1000, batch 16) on ``--paper-rows`` rows of
  ``make_shapes``;
* ``default``: ``CRVAEEmbedder(image_encoder=ConvEncoder(image_size=64),
  text_encoder="recurrent")`` (64x64 images, batch 64: the trained CNN and
  recurrent path at its defaults, pinned: the embedder's own defaults are now the frozen
  pretrained towers) on ``--default-rows`` rows.

Configurations (joined with ``+``): ``fp32``, ``bf16`` (``precision="bf16"``:
bfloat16 autocast of the forward pass, on a CPU with AVX-512 BF16 or AMX),
``cl`` (``channels_last=True``). Every configuration of a model trains its
first epoch (the warm-up: oneDNN builds its kernels) by ``fit``; the other
epochs are interleaved, one epoch of each configuration in turn (the order
rotating every round), so that drift of a shared, noisy machine hits them
alike. Speed is the median of the timed epochs (wall-clock and CPU seconds),
given as a ratio to fp32 within this one run; quality, after the same number
of epochs, is the last epoch's training loss, the loss of the trained weights
re-computed in float32 (see :func:`fp32_quality`) and ``score``.

Achieved GFLOP/s = samples/s x FLOPs per training sample (counted in float32
by ``FlopCounterMode``, recurrent layers added analytically; see
``_common.step_flops``), against this CPU's peak::

    peak = cores x clock x lanes x 2 (multiply + add) x FMA instructions per cycle

with ``lanes`` = vector bits / 32 for float32 FMAs and vector bits / 16 for
the bf16 dot products (``VDPBF16PS`` multiplies and adds pairs of bf16 into
float32 lanes). ``cores`` is the number of torch threads, ``clock`` the
highest clock the CPU reports (``lscpu``'s max MHz, else ``/proc/cpuinfo``'s
``cpu MHz``) and the FMA count per cycle an assumption by CPU family (AMD
Zen 4 runs AVX-512 on two 256-bit pipes: one 512-bit FMA per cycle; others
two), all of which ``--clock-ghz`` and ``--fma-per-cycle`` override. Writes
Markdown to ``--output`` (``benchmarks/results/cpu_precision.md``).

``ONEDNN_MAX_CPU_ISA=AVX512_CORE`` (or ``AVX2``) in the environment limits
oneDNN to an instruction set without bf16, to measure what bf16 costs on a
CPU that has to emulate it (the command line in the file says so).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, step_flops  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CONFIGS = "fp32,cl,bf16,bf16+cl"


# ---- the CPU and its peak -------------------------------------------------------
def cpu_info(cpuinfo: str | None = None, lscpu: str | None = None) -> dict:
    """Vendor, family, model name, clock (GHz) and flags of the first CPU.

    ``cpuinfo`` and ``lscpu`` are the texts of ``/proc/cpuinfo`` and of
    ``lscpu`` (read from the machine when None).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    if lscpu is None:
        lscpu = ""
        if shutil.which("lscpu"):
            lscpu = subprocess.run(["lscpu"], capture_output=True, text=True,
                                   env={**os.environ, "LC_ALL": "C"}).stdout
    fields: dict[str, str] = {}
    for line in cpuinfo.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    max_mhz = re.search(r"^CPU max MHz:\s*([\d.]+)", lscpu, re.M)
    mhz = float(max_mhz.group(1)) if max_mhz else float(fields.get("cpu MHz", "nan"))
    return {"vendor": fields.get("vendor_id", ""), "family": int(fields.get("cpu family", -1)),
            "model": int(fields.get("model", -1)), "name": fields.get("model name", ""),
            "ghz": mhz / 1000, "clock_source": "lscpu max MHz" if max_mhz else
            "/proc/cpuinfo cpu MHz",
            "flags": set((fields.get("flags") or fields.get("Features") or "").split())}


def vector_bits(flags: set[str]) -> int:
    """Width of the widest FMA vectors: 512 (AVX-512), 256 (AVX2 + FMA) or 128."""
    if "avx512f" in flags:
        return 512
    return 256 if {"avx2", "fma"} <= flags else 128


def fma_per_cycle(info: dict) -> int:
    """FMA instructions of the widest vectors one core starts per cycle (an assumption).

    AMD Zen 4 (family 25 with AVX-512) splits a 512-bit FMA over its two
    256-bit pipes: one per cycle. Other x86 server cores of the AVX2 and
    AVX-512 era have two FMA pipes of their full width (some Xeon Silver and
    Bronze parts have one: pass ``--fma-per-cycle 1``).
    """
    if info["vendor"] == "AuthenticAMD" and info["family"] == 25 and "avx512f" in info["flags"]:
        return 1
    return 2


def peak_gflops(cores: int, ghz: float, bits: int, fma: int, dtype: str = "fp32") -> float:
    """Peak GFLOP/s: cores x GHz x lanes x 2 x FMAs per cycle.

    ``lanes`` is ``bits / 32`` for float32 FMAs and ``bits / 16`` for bf16
    dot products (two bf16 products accumulated into each float32 lane).
    """
    lanes = bits // (16 if dtype == "bf16" else 32)
    return cores * ghz * lanes * 2 * fma


# ---- the measurement -------------------------------------------------------------
def options(config: str) -> dict:
    """Estimator parameters of a configuration such as ``"bf16+cl"``."""
    parts = set(config.split("+"))
    unknown = parts - {"fp32", "bf16", "cl"}
    if unknown:
        raise SystemExit(f"unknown configuration parts {sorted(unknown)} in {config!r}")
    return {"precision": "bf16" if "bf16" in parts else "float32", "channels_last": "cl" in parts}


def build(model: str, config: str):
    from skmm import CRVAEEmbedder
    from skmm.encoders import ConvEncoder

    kwargs = {"max_epochs": 1, "random_state": 0, "device": "cpu", "verbose": 0,
              **options(config)}
    if model == "paper":
        return CRVAEEmbedder.paper(**kwargs)
    # the CNN and recurrent path, not the defaults (the frozen pretrained towers)
    return CRVAEEmbedder(image_encoder=ConvEncoder(image_size=64), text_encoder="recurrent",
                         **kwargs)


def fp32_quality(emb, X, dataset) -> dict:
    """The trained model's training loss and score, both computed in float32.

    ``fp32_loss``: the objective over ``dataset`` in train mode (as during
    training: batch statistics, a sampled latent under a fixed seed), on a
    copy of the module, without autocast and without gradients.
    ``score``: ``emb.score(X)`` without autocast (eval mode).
    """
    from skmm.training import torch_seed

    net = emb.net_
    module = copy.deepcopy(net.module_).train()
    autocast, net.autocast = net.autocast, None
    try:
        total, n = 0.0, 0
        with torch_seed(0), torch.no_grad():
            for batch, _ in net.get_iterator(dataset, training=False):
                batch = net.to_device(batch)
                size = len(next(iter(batch.values())))
                total += float(module.loss_terms(module(**batch), batch)["loss"]) * size
                n += size
        return {"fp32_loss": total / n, "score": float(emb.score(X))}
    finally:
        net.autocast = autocast


def run_model(model: str, X, configs: list[str], epochs: int) -> tuple[list[dict], float]:
    """Train every configuration ``epochs`` epochs (the first by ``fit``), interleaved."""
    from skmm.training import TensorDict

    embs, datasets, cpu_s = {}, {}, {c: [] for c in configs}
    for config in configs:
        emb = build(model, config)
        emb.fit(X)  # the warm-up epoch
        embs[config] = emb
        datasets[config] = TensorDict(emb._prepare(X, fitting=False))
        print(f"{model} {config}: warm-up epoch {emb.history_[-1, 'dur']:.2f} s", flush=True)
    for r in range(epochs - 1):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for config in order:
            start = time.process_time()
            embs[config].net_.partial_fit(datasets[config], epochs=1)
            cpu_s[config].append(time.process_time() - start)
        print(f"{model} epoch {r + 2}/{epochs}: " + ", ".join(
            f"{c} {embs[c].net_.history[-1, 'dur']:.2f} s ({cpu_s[c][-1]:.2f} CPU s)"
            for c in configs), flush=True)
    first = embs[configs[0]]
    flops = step_flops(first, X, first.batch_size) / first.batch_size
    runs = []
    for config in configs:
        net = embs[config].net_
        durations = list(net.history[:, "dur"])
        epoch_s = statistics.median(durations[1:]) if len(durations) > 1 else durations[0]
        runs.append({"model": model, "config": config, "batch_size": embs[config].batch_size,
                     "epochs": len(durations), "first_epoch_s": durations[0],
                     "epoch_s": epoch_s, "samples_per_s": len(X) / epoch_s,
                     "cpu_s": statistics.median(cpu_s[config]) if cpu_s[config] else np.nan,
                     "gflops": len(X) / epoch_s * flops / 1e9,
                     "train_loss": float(net.history[-1, "train_loss"]),
                     **fp32_quality(embs[config], X, datasets[config])})
    return runs, flops


def table(runs: list[dict], peaks: dict) -> list[str]:
    base = {r["model"]: r for r in runs if r["config"] == "fp32"}
    lines = ["| model | configuration | samples/s | epoch (s) | speed-up vs fp32 | epoch (CPU s) "
             "| speed-up vs fp32 (CPU s) | GFLOP/s | share of peak | last epoch's loss "
             "| loss in fp32 | vs fp32 | score |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: |"]
    for r in runs:
        ref = base.get(r["model"])
        dtype = "bf16" if "bf16" in r["config"] else "fp32"
        speed = f"{ref['epoch_s'] / r['epoch_s']:.2f}x" if ref else "n/a"
        cpu_speed = f"{ref['cpu_s'] / r['cpu_s']:.2f}x" if ref else "n/a"
        delta = (f"{(r['fp32_loss'] - ref['fp32_loss']) / abs(ref['fp32_loss']):+.2%}"
                 if ref else "n/a")
        lines.append(
            f"| {r['model']} | {r['config']} | {r['samples_per_s']:,.1f} | {r['epoch_s']:.2f} | "
            f"{speed} | {r['cpu_s']:.2f} | {cpu_speed} | {r['gflops']:.1f} | "
            f"{r['gflops'] / peaks[dtype]:.1%} of {dtype} | "
            f"{r['train_loss']:.5f} | {r['fp32_loss']:.5f} | {delta} | {r['score']:.4f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--configs", default=CONFIGS)
    parser.add_argument("--models", default="paper,default")
    parser.add_argument("--paper-rows", type=int, default=64)
    parser.add_argument("--paper-epochs", type=int, default=10,
                        help="epochs of each configuration, the first a warm-up")
    parser.add_argument("--default-rows", type=int, default=1024)
    parser.add_argument("--default-epochs", type=int, default=20)
    parser.add_argument("--clock-ghz", type=float, default=None)
    parser.add_argument("--fma-per-cycle", type=int, default=None)
    parser.add_argument("--output", default=str(RESULTS / "cpu_precision.md"))
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)

    from skmm.datasets import make_shapes
    from skmm.training.net import cpu_bf16_support

    torch.set_num_threads(args.threads)
    info = cpu_info()
    ghz = args.clock_ghz or info["ghz"]
    bits = vector_bits(info["flags"])
    fma = args.fma_per_cycle or fma_per_cycle(info)
    peaks = {d: peak_gflops(args.threads, ghz, bits, fma, d) for d in ("fp32", "bf16")}
    bf16_flag = cpu_bf16_support()
    configs = args.configs.split(",")
    for config in configs:
        options(config)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    runs, flops = [], {}
    for model in args.models.split(","):
        if model == "paper":
            X = make_shapes(args.paper_rows, image_size=(120, 200), random_state=0)
            epochs = args.paper_epochs
        elif model == "default":
            X = make_shapes(args.default_rows, image_size=64, random_state=0)
            epochs = args.default_epochs
        else:
            raise SystemExit(f"unknown model {model!r}: paper or default")
        model_runs, flops[model] = run_model(model, X, configs, epochs)
        runs += model_runs
    wall = time.perf_counter() - t0

    rows = {"paper": args.paper_rows, "default": args.default_rows}
    epochs = {"paper": args.paper_epochs, "default": args.default_epochs}
    command = ("python benchmarks/cpu_precision.py " + " ".join(argv)).strip()
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if isa:  # oneDNN limited to an older instruction set: bf16 is emulated below AVX512_CORE_BF16
        command = f"ONEDNN_MAX_CPU_ISA={isa} {command}"
        bf16_flag = f"{bf16_flag}, but oneDNN limited to {isa} (ONEDNN_MAX_CPU_ISA)"
    title = "# CRVAE training on the CPU: float32, bf16, channels-last"
    if isa:
        title += f" (oneDNN limited to {isa}: bf16 emulated)"
    lines = [
        title, "",
        f"Machine: {machine()}; {info['name']} (vendor {info['vendor']}, family "
        f"{info['family']}, model {info['model']}); bf16 instructions: "
        f"{bf16_flag or 'none'}", "",
        f"Command: `{command}` ({wall / 60:.1f} min in all; load average "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)", "",
        "Each configuration trains with the same seed; the first epoch (by `fit`) is a "
        "warm-up, the others are interleaved across configurations. Speed: median epoch of "
        "the timed epochs, in wall-clock seconds and in CPU seconds of the process (less "
        "sensitive to other programs on a shared machine), and its ratio to fp32 in this "
        "run; samples/s and GFLOP/s are from the wall-clock median. Quality, after the same "
        "epochs: the training loss of the last epoch (as the configuration computed it), the "
        "loss of the trained weights re-computed in float32 over the training rows (train "
        "mode, fixed seed) with its difference to fp32's, and `score` (minus the relative "
        "reconstruction error in eval mode, in float32; higher is better). `cl` (float32, "
        "channels-last) differs from fp32 only in the order of the sums: its differences "
        "show how far two float32 runs drift apart.", "",
    ]
    for model in flops:
        lines.append(f"* `{model}`: {rows[model]:,} rows of `make_shapes`, {epochs[model]} "
                     f"epochs; {flops[model] / 1e9:,.3f} GFLOP per training sample "
                     "(forward + backward, counted in float32)")
    lines += [
        "", "Peak of the threads used: cores x clock x lanes x 2 (multiply + add) x FMA "
        "instructions per cycle, lanes = vector bits / 32 (float32 FMA) or / 16 (bf16 dot "
        "product, `VDPBF16PS`):", "",
        f"* fp32: {args.threads} x {ghz:.3f} GHz x {bits // 32} x 2 x {fma} = "
        f"{peaks['fp32']:,.1f} GFLOP/s",
        f"* bf16: {args.threads} x {ghz:.3f} GHz x {bits // 16} x 2 x {fma} = "
        f"{peaks['bf16']:,.1f} GFLOP/s",
        "", f"Clock: {'--clock-ghz' if args.clock_ghz else info['clock_source']}; vector "
        f"width {bits} bits; {fma} FMA of that width per cycle per core "
        f"({'--fma-per-cycle' if args.fma_per_cycle else 'assumed for this CPU family'}). "
        "Under a hypervisor the clock shown may be the base clock, not the boost clock the "
        "cores run at, so the shares of peak may be overstated.", "",
    ]
    lines += table(runs, peaks)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
