"""CRVAEEmbedder speed and memory, written to benchmarks/results/crvae_speed.md.

    python benchmarks/crvae_speed.py [--rows 2000] [--image-size 64] [--epochs 5]
                                     [--memory-rows 10000] [--device auto]

Three measurements:

1. Training epoch time through skorch (``MultimodalNet``) against a plain
   PyTorch loop over the same module, the same preloaded tensors, the same
   optimiser and batch size (the target: skorch adds at most 10%). Epochs of
   the two are interleaved so that machine drift hits both alike.
2. ``transform`` throughput in rows per second (images and texts already
   decoded and encoded, and end to end from the DataFrame).
3. Peak host memory while fitting ``--memory-rows`` PNG files of 120x200
   (run in a child process so its peak RSS is its own), against the target
   "under 2x the uint8 image bytes plus the model".

The model is the trained CNN and recurrent text path
(``ConvEncoder(image_size=...)`` and ``RecurrentTextEncoder()``), pinned: the embedder's
defaults are now the frozen pretrained towers, which this does not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from skmm import CRVAEEmbedder
from skmm.datasets import make_shapes
from skmm.encoders import ConvEncoder, RecurrentTextEncoder

sys.path.insert(0, str(Path(__file__).parent))
from _common import epoch_overhead, machine  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def classic(image_size) -> dict:
    """The path measured: the trained CNN and the recurrent text encoder (not the
    defaults, the frozen pretrained towers)."""
    return {"image_encoder": ConvEncoder(image_size=image_size),
            "text_encoder": RecurrentTextEncoder()}


def overhead(rows, image_size, epochs, device):
    X = make_shapes(rows, image_size=image_size, random_state=0)
    emb = CRVAEEmbedder(max_epochs=1, random_state=0, device=device, **classic(image_size))
    emb.fit(X)
    data = emb._prepare(X, fitting=False)
    o = epoch_overhead(emb, data, epochs)

    # transform throughput
    t = time.perf_counter()
    emb._encode(data)
    encode_s = time.perf_counter() - t
    t = time.perf_counter()
    emb.transform(X)
    transform_s = time.perf_counter() - t
    return {
        "rows": rows, "image_size": image_size, "epochs": epochs, "device": o["device"],
        "skorch_epoch_s": o["skorch_epoch_s"], "plain_epoch_s": o["plain_epoch_s"],
        "ratio": o["ratio"],
        "encode_rows_per_s": rows / encode_s, "transform_rows_per_s": rows / transform_s,
    }


def memory_child(rows, device):
    """Fit one epoch on ``rows`` PNG files of 120x200; print JSON with peak RSS."""
    from PIL import Image

    size = (120, 200)
    shapes = make_shapes(200, image_size=64, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(rows):
            path = os.path.join(tmp, f"{i}.png")
            Image.fromarray(shapes["image"].iloc[i % 200]).resize(size[::-1]).save(path)
            paths.append(path)
        import pandas as pd

        X = pd.DataFrame({"image": paths, "text": np.resize(shapes["text"].to_numpy(), rows)})
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        emb = CRVAEEmbedder(max_epochs=1, random_state=0, device=device, **classic(size))
        t = time.perf_counter()
        emb.fit(X)
        fit_s = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    params = sum(p.numel() * p.element_size() for p in emb.net_.module_.parameters())
    print(json.dumps({
        "rows": rows, "fit_s": fit_s, "image_bytes": rows * 3 * size[0] * size[1],
        # parameters + gradients + Adam's two moments
        "model_bytes": 4 * params, "rss_before": rss_before, "peak_rss": peak,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=10000, help="0 skips the memory run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(RESULTS / "crvae_speed.md"))
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_rows, args.device)

    o = overhead(args.rows, args.image_size, args.epochs, args.device)
    lines = [
        "# CRVAEEmbedder speed and memory", "",
        f"Machine: {machine()}", "",
        f"Command: `python benchmarks/crvae_speed.py --rows {args.rows} --image-size "
        f"{args.image_size} --epochs {args.epochs} --memory-rows {args.memory_rows}`", "",
        "| measurement | value |", "| --- | --- |",
        f"| training epoch, skorch (median of {o['epochs']}) | {o['skorch_epoch_s']:.3f} s |",
        f"| training epoch, plain PyTorch loop | {o['plain_epoch_s']:.3f} s |",
        f"| skorch / plain (target <= 1.10) | {o['ratio']:.3f} |",
        f"| transform, prepared tensors | {o['encode_rows_per_s']:,.0f} rows/s |",
        f"| transform, from the DataFrame | {o['transform_rows_per_s']:,.0f} rows/s |",
    ]
    print("\n".join(lines), flush=True)
    if args.memory_rows:
        out = subprocess.run([sys.executable, __file__, "--memory-child", "--memory-rows",
                              str(args.memory_rows), "--device", args.device],
                             check=True, capture_output=True, text=True).stdout
        m = json.loads(out.strip().splitlines()[-1])
        growth = m["peak_rss"] - m["rss_before"]
        budget = 2 * m["image_bytes"] + m["model_bytes"]
        mem = [
            f"| fit, {m['rows']:,} PNG files of 120x200, 1 epoch | {m['fit_s']:.1f} s |",
            f"| uint8 image bytes | {m['image_bytes'] / 2**20:,.0f} MiB |",
            f"| model (params, grads, Adam state) | {m['model_bytes'] / 2**20:,.1f} MiB |",
            f"| peak RSS growth during fit | {growth / 2**20:,.0f} MiB |",
            f"| growth / (2 x images + model) (target < 1) | {growth / budget:.2f} |",
        ]
        print("\n".join(mem))
        lines += mem
    RESULTS.mkdir(exist_ok=True)
    Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
