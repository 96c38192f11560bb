"""What a new user's first hour costs: long captions, and torch's thread count.

    python benchmarks/first_hour.py [--repeats 3]

Both measure CRVAE's trained CNN and recurrent text path
(``ConvEncoder(image_size=32)`` and ``RecurrentTextEncoder``, pinned: the
embedder's defaults are now the frozen pretrained towers, whose cost is elsewhere).

* **Long captions.** CRVAE at the text encoder's default cap
  (``RecurrentTextEncoder(max_length=100)``) and with no cap (``max_length=None``)
  on 64 rows of ``make_shapes`` whose captions are padded to 50 or to 800 words;
  the figure is the ratio of the median fit times (800 words / 50 words) at the
  same cap. Target: at most 3 at the default cap.
* **Threads.** The README's first example (CRVAE on ``load_emoji(32)``, 10
  epochs), on the CNN path, for one epoch at 1 and at 2 torch threads, on the machine as it is
  (another process may be busy), and whether the embeddings agree bit for bit.

Writes ``benchmarks/results/first_hour.md`` with the machine line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine  # noqa: E402

from skmm import CRVAEEmbedder  # noqa: E402
from skmm.datasets import load_emoji, make_shapes  # noqa: E402
from skmm.encoders import ConvEncoder, RecurrentTextEncoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def classic(**text) -> dict:
    """The path measured: the trained CNN at 32 pixels and the recurrent text
    encoder (not the defaults, the frozen pretrained towers)."""
    return {"image_encoder": ConvEncoder(image_size=32),
            "text_encoder": RecurrentTextEncoder(**text)}


def captions(n_words: int, rows: int = 64):
    X = make_shapes(rows, image_size=32, random_state=0)
    filler = "and the picture shows a thing on a white background".split()
    X["text"] = [" ".join((t.split() + filler * 100)[:n_words]) for t in X["text"]]
    return X


def fit_seconds(X, repeats: int, **text) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        CRVAEEmbedder(max_epochs=2, random_state=0, n_threads=1, **classic(**text)).fit(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def long_captions(repeats: int) -> list[str]:
    rows = ["| max_length | 50 words | 800 words | ratio |", "| --- | ---: | ---: | ---: |"]
    short, long = captions(50), captions(800)
    for cap in (100, None):
        a = fit_seconds(short, repeats, max_length=cap)
        b = fit_seconds(long, repeats, max_length=cap)
        label = f"{cap} (default)" if cap == 100 else "None"
        rows.append(f"| {label} | {a:.2f} s | {b:.2f} s | **{b / a:.2f}** |")
    return rows


def threads(repeats: int) -> list[str]:
    X = load_emoji(image_size=32)
    rows = ["| torch threads | median epoch | embedding |", "| --- | ---: | --- |"]
    out = {}
    for n in (1, 2):
        durs = []
        for _ in range(repeats):
            emb = CRVAEEmbedder(n_components=16, max_epochs=1, random_state=0,
                                n_threads=n, **classic()).fit(X)
            durs.append(emb.history_[-1, "dur"])
        out[n] = emb.transform(X)
        rows.append(f"| {n} | {statistics.median(durs):.2f} s | |")
    same = np.array_equal(out[1], out[2])
    diff = float(np.abs(out[1] - out[2]).max())
    rows[-1] = rows[-1][:-3] + f"| {'identical' if same else f'max difference {diff:.1e}'} |"
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    lines = ["# First hour: long captions and threads", "",
             f"`python benchmarks/first_hour.py --repeats {args.repeats}` on {machine()}.", "",
             "## CRVAE fit (2 epochs, 64 rows, 32 px, 1 thread), 50- vs 800-word captions", "",
             *long_captions(args.repeats), "",
             "## One epoch of the README example (1,914 emoji, 32 px) by torch threads", "",
             *threads(args.repeats), ""]
    text = "\n".join(lines)
    print(text)
    (RESULTS / "first_hour.md").write_text(text)


if __name__ == "__main__":
    main()
