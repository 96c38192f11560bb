"""MMEDAEmbedder speed, written to benchmarks/results/mmeda_speed.md.

    python benchmarks/mmeda_speed.py [--rows 1914] [--image-size 32] [--epochs 5]
                                     [--variant II] [--device auto] [--threads N]

1. Training epoch time through skorch (``MultimodalNet``) against a plain
   PyTorch loop over the same :class:`skmm.nn.mmeda.MMEDA` module, the same
   preloaded tensors, optimiser and batch size (target: skorch adds at most
   10%). Epochs of the two are interleaved so that machine drift hits both
   alike; the median epoch of each is reported.
2. ``transform`` throughput in rows per second, from prepared tensors and
   end to end from the DataFrame.

The data are the emoji of :func:`skmm.datasets.load_emoji` (the first
``--rows``), or generated shapes with ``--shapes``. The model is the trained
CNN and the word-based text matrix (``image_encoder="cnn",
text_encoder="auto"``), pinned: the embedder's defaults are now the frozen
pretrained towers, which this does not measure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from skmm.datasets import load_emoji, make_shapes
from skmm.embedders.mmeda import MMEDAEmbedder
from skmm.encoders import ConvEncoder, TextMatrix

sys.path.insert(0, str(Path(__file__).parent))
from _common import epoch_overhead, machine  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: The path measured: the trained CNN and the TF-IDF text matrix (not the
#: defaults, the frozen pretrained towers).
CLASSIC_TEXT = TextMatrix()


def measure(X, image_size, epochs, variant, device):
    """Median skorch and plain epoch times, and transform throughput."""
    emb = MMEDAEmbedder(image_encoder=ConvEncoder(image_size=image_size),
                        text_encoder=CLASSIC_TEXT, variant=variant, max_epochs=1,
                        random_state=0, device=device)
    emb.fit(X)
    data = emb._prepare(X, fitting=False)
    o = epoch_overhead(emb, data, epochs)
    t = time.perf_counter()
    emb._encode(data)
    encode_s = time.perf_counter() - t
    t = time.perf_counter()
    emb.transform(X)
    transform_s = time.perf_counter() - t
    n = len(X)
    return {"device": o["device"], "skorch": o["skorch_epoch_s"],
            "plain": o["plain_epoch_s"], "ratio": o["ratio"],
            "ratios": [s / p for s, p in zip(o["skorch_s"], o["plain_s"])],
            "encode": n / encode_s, "transform": n / transform_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1914)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variant", default="II", choices=["I", "II"])
    parser.add_argument("--shapes", action="store_true", help="use make_shapes, not emoji")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--output", default=str(RESULTS / "mmeda_speed.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shapes:
        X = make_shapes(args.rows, image_size=args.image_size, random_state=0)
    else:
        X = load_emoji(args.image_size).iloc[: args.rows]
    o = measure(X, args.image_size, args.epochs, args.variant, args.device)
    command = "python benchmarks/mmeda_speed.py " + " ".join(sys.argv[1:] if argv is None
                                                             else argv)
    per_epoch = ", ".join(f"{r:.3f}" for r in o["ratios"])
    lines = [
        "# MMEDAEmbedder speed", "",
        f"Machine: {machine()}", "",
        f"Command: `{command.strip()}`", "",
        f"Data: {len(X):,} rows of {'make_shapes' if args.shapes else 'load_emoji'}, "
        f"{args.image_size}px images, mean word vectors (50), variant {args.variant}, "
        f"default sizes (n_components 50, batch 64), device {o['device']}.", "",
        "| measurement | value |", "| --- | --- |",
        f"| training epoch, skorch (median of {args.epochs}) | {o['skorch']:.3f} s |",
        f"| training epoch, plain PyTorch loop (median of {args.epochs}) | {o['plain']:.3f} s |",
        f"| skorch / plain (target <= 1.10) | {o['ratio']:.3f} |",
        f"| per-epoch ratios (median {statistics.median(o['ratios']):.3f}) | {per_epoch} |",
        f"| transform, prepared tensors | {o['encode']:,.0f} rows/s |",
        f"| transform, from the DataFrame | {o['transform']:,.0f} rows/s |",
    ]
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
