"""Posterior collapse on a small real-looking table: CRVAE before and after the fusion changes.

    python benchmarks/collapse.py

``make_frames(90, image_size=(120, 200), random_state=0)``: 90 rendered video
frames (9 shots of 6 scenes) with English (``text``) and Chinese
(``text_zh``, jieba) transcripts, the size of the table on which CRVAE's
latent collapsed. Each language is fitted twice, at the defaults that the
fusion issue found (``max_epochs=20``, word-vector MSE, raw loss terms,
``lr=1e-3``: "before") and at today's defaults of that model ("after"), one
torch thread, seed 0; both on the trained CNN and recurrent text encoder
(``ConvEncoder(image_size=64)`` and ``RecurrentTextEncoder``, pinned: the
embedder's defaults are now the frozen pretrained towers). Reported: the active units
(variance of the latent mean across rows above 0.01), the mean KL per
dimension, the distinct rows of ``transform`` (rounded to 3 decimals) and the
modality probe (held-out R² of a ridge from the embedding to pixel PCA and to
TF-IDF SVD; ``skmm.metrics.modality_probe``).
Writes ``benchmarks/results/collapse.md`` with the machine line.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import machine  # noqa: E402

from skmm import CRVAEEmbedder  # noqa: E402
from skmm.datasets import make_frames  # noqa: E402
from skmm.encoders import ConvEncoder, RecurrentTextEncoder  # noqa: E402
from skmm.metrics import modality_probe, modality_references  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The "before" settings: the text encoder's decoding terms and the embedder's.
BEFORE_TEXT = dict(text_loss="mse", bow_weight=0.0)
BEFORE = dict(max_epochs=20, normalize_terms=False, lr=1e-3)


def classic(tokenizer, **text):
    """The model measured: the trained CNN and the recurrent text encoder (not the
    defaults, the frozen pretrained towers)."""
    return dict(image_encoder=ConvEncoder(image_size=64),
                text_encoder=RecurrentTextEncoder(tokenizer=tokenizer, **text))


def main():
    X = make_frames(90, image_size=(120, 200), random_state=0)
    rows = ["| text | CRVAE | epochs | active units (of 32) | KL per dim (nats) | distinct rows "
            "| probe R² image | probe R² text | warned | fit |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for col, tokenizer in [("text", "english"), ("text_zh", "jieba")]:
        refs = modality_references(X, image_col="image", text_col=col, random_state=0)
        for name, text, params in [("before", BEFORE_TEXT, BEFORE),
                                   ("after (CNN + GRU defaults)", {}, {})]:
            emb = CRVAEEmbedder(text_col=col, random_state=0, n_threads=1,
                                **classic(tokenizer, **text), **params)
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                Z = emb.fit_transform(X)
            seconds = time.perf_counter() - start
            warned = any("collapsed" in str(w.message) for w in caught)
            last = emb.history_[-1]
            probe = modality_probe(Z, refs, cv=3, random_state=0)["r2"]
            distinct = len(np.unique(np.round(Z, 3), axis=0))
            rows.append(f"| {col} | {name} | {len(emb.history_)} | {last['active_units']} | "
                        f"{np.mean(last['kl_per_dim']):.4f} | {distinct} of {len(X)} | "
                        f"{probe['image']:.2f} | {probe[col]:.2f} | {'yes' if warned else 'no'} "
                        f"| {seconds:.0f} s |")
            print(rows[-1], flush=True)
    text = "\n".join(["# Posterior collapse on a 90-row video table", "",
                      f"`python benchmarks/collapse.py` on {machine()}.", "",
                      __doc__.split("\n\n")[2].replace("\n", " "), "", *rows, ""])
    print(text)
    (RESULTS / "collapse.md").write_text(text)


if __name__ == "__main__":
    main()
