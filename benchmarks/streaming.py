"""Images larger than memory: streamed (DataLoader workers) against in memory.

    python benchmarks/streaming.py [--rows 50000] [--workers 2] [--batch-size 64]
                                   [--modes none,memory] [--files DIR]

Writes ``--rows`` PNG files of 120x200 (once; kept in ``--files`` if given),
then fits a small ``CRVAEEmbedder`` for one epoch on a DataFrame of their
paths, once per ``cache`` mode, each in a child process so that its peak
resident memory is its own: ``cache="none"`` decodes every batch from the
files in ``--workers`` DataLoader worker processes; ``cache="memory"``
decodes all images into one uint8 array first. Reports the fit time, rows/s,
the peak RSS of the training process and of the largest worker, and writes
``benchmarks/results/streaming.md``.

The model is deliberately small (the question is the data path, not the
model); both modes see the same batches, so they train the same weights. It
is the trained CNN and recurrent text path (``ConvEncoder`` and
``RecurrentTextEncoder``), pinned: the embedder's defaults are now the frozen
pretrained towers, whose features of each image are computed once per process
rather than decoded batch by batch in every epoch.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from skmm.encoders import ConvEncoder, RecurrentTextEncoder

RESULTS = Path(__file__).parent / "results"
SIZE = (120, 200)
MODEL = dict(image_encoder=ConvEncoder(image_size=SIZE, channels=8),
             text_encoder=RecurrentTextEncoder(hidden_size=16, vector_size=16), n_components=16,
             fusion_size=64, max_epochs=1, random_state=0)


def write_files(folder: Path, rows: int) -> pd.DataFrame:
    """``rows`` PNGs of 120x200 (shapes with captions); reuse those already there."""
    from PIL import Image

    from skmm.datasets import make_shapes

    shapes = make_shapes(500, image_size=64, random_state=0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(rows):
        path = folder / f"{i:06d}.png"
        if not path.exists():
            image = Image.fromarray(shapes["image"].iloc[i % 500]).resize(SIZE[::-1])
            image.save(path)
        paths.append(str(path))
    return pd.DataFrame({"image": paths, "text": np.resize(shapes["text"].to_numpy(), rows)})


def child(folder: str, rows: int, cache: str, workers: int, batch_size: int) -> None:
    """Fit one epoch; print a JSON line with time and peak memory."""
    import torch

    from skmm import CRVAEEmbedder

    X = write_files(Path(folder), rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    emb = CRVAEEmbedder(**MODEL, cache=cache, num_workers=workers, batch_size=batch_size,
                        device="cpu")
    t = time.perf_counter()
    emb.fit(X)
    fit_s = time.perf_counter() - t
    print(json.dumps({
        "cache": cache, "rows": rows, "workers": workers, "batch_size": batch_size,
        "fit_s": fit_s, "rows_per_s": rows / fit_s, "rss_before": before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "worker_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "image_bytes": rows * 3 * SIZE[0] * SIZE[1], "threads": torch.get_num_threads(),
        "final_loss": float(emb.history_[-1, "train_loss"]),
    }))


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--modes", default="none,memory")
    parser.add_argument("--files", default=None, help="folder for the PNGs (kept)")
    parser.add_argument("--output", default=str(RESULTS / "streaming.md"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.files, args.rows, args.child, args.workers, args.batch_size)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.files or tmp)
        t = time.perf_counter()
        write_files(folder, args.rows)
        print(f"{args.rows} files ready in {time.perf_counter() - t:.0f} s", flush=True)
        runs = []
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--child", mode, "--files", str(folder),
                   "--rows", str(args.rows), "--workers", str(args.workers),
                   "--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(runs[-1], flush=True)

    from _common import machine

    lines = [
        "# Streamed images against in-memory images (CRVAEEmbedder, one epoch)",
        "",
        f"Machine: {machine()}",
        "",
        f"Command: `python benchmarks/streaming.py --rows {args.rows} --workers {args.workers} "
        f"--batch-size {args.batch_size} --modes {args.modes}`",
        "",
        f"{args.rows:,} PNG files of 120x200 (decoded: {mib(runs[0]['image_bytes'])} of uint8); "
        "a small CRVAE (8 channels, hidden 16) so that the data path dominates. "
        "`cache=\"none\"` first decodes every file once to report unreadable rows before "
        "training, then decodes each batch again in the workers.",
        "",
        "| cache | fit (s) | rows/s | peak RSS, training process | peak RSS, largest child* "
        "| RSS before fit | final loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(f"| {r['cache']} | {r['fit_s']:.1f} | {r['rows_per_s']:,.0f} | "
                     f"{mib(r['peak_rss'])} | {mib(r['worker_peak_rss'])} | "
                     f"{mib(r['rss_before'])} | {r['final_loss']:.5f} |")
    lines += ["", "\\* A forked worker's RSS counts the pages it shares with the training "
              "process, so this column is an upper bound on what a worker adds."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
