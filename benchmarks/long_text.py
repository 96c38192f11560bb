"""Long texts through the sentence tower: what ``TextTower(max_words=...)`` costs and keeps.

    python benchmarks/long_text.py

Cost: 64 texts of 50 and of 800 words (words drawn from the English emoji
names, seeded), timed 5 times with the feature cache cleared, one thread; the
median is reported, and the ratio of 800 to 50 words. Every policy reads a
50-word text whole, so the 50-word texts are timed once, for all of them.

Quality:

* the emoji names (``load_emoji``, English and Chinese): the share of names
  that ``max_words`` cuts, and the largest change of a vector (0 when no name
  is cut);
* long real texts: the package descriptions installed in this environment
  (``importlib.metadata``, English prose of 800 words or more: READMEs of
  numpy, pandas, scikit-learn ...). Each is split into its first and second
  half; each half is embedded by a policy, and the first half retrieves its
  own second half among all of them (R@1, R@5) -- what of a document's topic
  the policy keeps. Also the mean cosine between a policy's vector of the
  whole text and the vector of the whole text read through.

Policies (``TextTower(max_words, windows)``): read every word
(``max_words=None``); the first 128 or 256 words (``windows=1``); 128 words
read as 2, 4 (the default) or 8 evenly spaced windows, their vectors averaged;
and the mean of the vectors of all the text's 128-word chunks (reads
everything; its cost grows with the text). Writes
``benchmarks/results/long_text.md``.
"""

from __future__ import annotations

import re
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import machine  # noqa: E402

from skmm.datasets import load_emoji  # noqa: E402
from skmm.towers import feature_cache  # noqa: E402
from skmm.towers.features import text_tower_features, text_windows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
POLICIES = {"every word": (None, 1), "first 128 words": (128, 1), "first 256 words": (256, 1),
            "128 words: 2 windows of 64": (128, 2),
            "128 words: 4 windows of 32 (default)": (128, 4),
            "128 words: 8 windows of 16": (128, 8),
            "mean of 128-word chunks": "chunks"}
REPEATS, THREADS = 5, 1


def embed(texts, policy) -> np.ndarray:
    values = pd.Series(list(texts))
    if policy != "chunks":
        max_words, windows = policy
        return text_tower_features(values, column="text", max_words=max_words, windows=windows,
                                   n_threads=THREADS)
    chunks, owner = [], []
    for i, text in enumerate(values):
        words = text.split()
        for start in range(0, max(len(words), 1), 128):
            chunks.append(" ".join(words[start: start + 128]))
            owner.append(i)
    vectors = text_tower_features(pd.Series(chunks), column="text", n_threads=THREADS)
    owner = np.asarray(owner)
    out = np.stack([vectors[owner == i].mean(0) for i in range(len(values))])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def timed(texts, policy) -> float:
    times = []
    for _ in range(REPEATS):
        feature_cache.clear()
        start = time.perf_counter()
        embed(texts, policy)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def long_documents(min_words=800) -> list[str]:
    docs, seen = [], set()
    for dist in metadata.distributions():
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""
        name = dist.metadata.get("Name", "")
        text = re.sub(r"\s+", " ", re.sub(r"[#*`<>|=\[\]()_]+", " ", body)).strip()
        if name.lower() in seen or len(text.split()) < min_words:
            continue
        ascii_share = sum(c.isascii() for c in text) / len(text)
        if ascii_share > 0.97:  # English prose
            seen.add(name.lower())
            docs.append(text)
    return docs


def recall(queries, gallery, ks=(1, 5)) -> dict:
    sims = queries @ gallery.T
    ranks = (sims > np.diag(sims)[:, None]).sum(1)
    return {f"R@{k}": float((ranks < k).mean()) for k in ks}


def main():
    rng = np.random.default_rng(0)
    emoji = load_emoji(image_size=32)
    vocabulary = " ".join(emoji["text"]).split()
    texts = {n: [" ".join(rng.choice(vocabulary, n)) for _ in range(64)] for n in (50, 800)}
    rows = []
    t50 = timed(texts[50], (None, 1))  # no policy cuts a 50-word text
    for label, policy in POLICIES.items():
        t800 = timed(texts[800], policy)
        rows.append({"policy": label, "64 x 50 words (s)": t50, "64 x 800 words (s)": t800,
                     "800 / 50": t800 / t50})
        print(rows[-1], flush=True)
    cost = pd.DataFrame(rows)

    names = pd.concat([emoji["text"], emoji["text_zh"]]).astype(str)
    cut = float(np.mean([text_windows(t, 128, 4) != [t] for t in names]))
    feature_cache.clear()
    delta = float(np.abs(embed(names, (128, 4)) - embed(names, (None, 1))).max())

    docs = long_documents()
    halves = [(" ".join(w[: len(w) // 2]), " ".join(w[len(w) // 2:]))
              for w in (d.split() for d in docs)]
    whole = embed(docs, (None, 1))
    quality = []
    for label, policy in POLICIES.items():
        first = embed([a for a, _ in halves], policy)
        second = embed([b for _, b in halves], policy)
        read = embed(docs, policy)
        quality.append({"policy": label, **recall(first, second),
                        "cosine to every word": float(np.mean(np.sum(read * whole, 1)))})
        print(quality[-1], flush=True)
    quality = pd.DataFrame(quality)
    words = [len(d.split()) for d in docs]

    lines = [
        "# Long texts through the sentence tower (`python benchmarks/long_text.py`)", "",
        machine() + " (the tower on one thread)", "",
        "## Cost: 64 texts, uncached, one thread (median of 5)", "",
        cost.to_markdown(index=False, floatfmt=".2f"), "",
        "## Quality", "",
        f"Emoji names (English and Chinese, {len(names)}): {cut:.1%} are cut at 128 words; "
        f"the largest change of a vector is {delta:.3g}.", "",
        f"Long texts: {len(docs)} package descriptions of {min(words)} to {max(words)} words "
        f"(median {int(np.median(words))}). The first half retrieves its own second half "
        "among all of them (each half embedded by the policy); the cosine compares the "
        "policy's vector of the whole text with the vector of every word.", "",
        quality.to_markdown(index=False, floatfmt=".3f"), "",
    ]
    (RESULTS / "long_text.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
