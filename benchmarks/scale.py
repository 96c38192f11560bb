"""Search at scale: exact and approximate top-10 search, and the towers' throughput.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--queries 10000] [--dim 256]
                               [--ef 64,128,256] [--isotropic-sizes 10000,100000]
                               [--tower-rows 1000] [--threads 2] [--parts search,towers]

For each gallery size, ``--queries`` query vectors and the gallery (``--dim``
float32, unit length) are generated once and written to a temporary folder;
each method then runs in a child process that loads them, so that its peak
resident memory above the loaded data is its own (Linux's ``VmHWM``, reset by
``/proc/self/clear_refs`` once the data is loaded, minus the RSS then; the data:
queries + gallery):

* ``skmm top_k``: :func:`skmm.metrics.top_k`, exact, in blocks bounded by
  scikit-learn's ``working_memory`` (1 GiB);
* ``NearestNeighbors brute``: ``NearestNeighbors(algorithm="brute",
  metric="cosine")``, fit and kneighbors;
* ``faiss Flat``: faiss's exact ``IndexFlatIP`` (it copies the gallery);
* ``GalleryIndex hnsw``: :class:`skmm.search.GalleryIndex` with
  ``method="hnsw"`` (faiss ``IndexHNSWFlat``, M=32, efConstruction=40): the
  build, then one search per ``--ef`` value; recall@10 against the exact
  result of ``skmm top_k``.

Two kinds of vectors: ``low-rank`` (32 latent factors through a random
256 x 32 map, plus 10% isotropic noise, normalised: embeddings of real data
have a low intrinsic dimension, which is what graph search relies on), at
every size; ``isotropic`` (Gaussian, normalised: no structure, the worst case
of any approximate search), at ``--isotropic-sizes``.

The towers' part times :class:`skmm.encoders.ImageTower` and
:class:`skmm.encoders.TextTower` on ``--tower-rows`` rows of
:func:`skmm.datasets.make_shapes` (images of 64 px, resized to the tower's
128; captions made distinct), first with an empty feature cache (computing)
and then again (every cell a cache hit).

Every child runs with ``--threads`` BLAS, OpenMP and torch threads. Writes
``benchmarks/results/scale.md``: one part per ``--parts`` entry, each with its
command line and the load average while it ran; a run of some parts keeps the
file's others.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
K = 10
LATENT = 32
METHODS = ["skmm", "sklearn", "faiss-flat", "hnsw"]
NAMES = {"skmm": "skmm top_k", "sklearn": "NearestNeighbors brute", "faiss-flat": "faiss Flat",
         "hnsw": "GalleryIndex hnsw"}


def generate(path: Path, rows: int, dim: int, kind: str, seed: int) -> None:
    """``rows`` unit vectors of ``kind`` written to ``path`` (.npy) in chunks."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dim))
    basis = np.random.default_rng(0).standard_normal((LATENT, dim), dtype=np.float32)
    basis /= np.sqrt(LATENT)
    rng = np.random.default_rng(seed)
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        z = rng.standard_normal((n, dim), dtype=np.float32)
        if kind == "low-rank":
            z *= 0.1
            z += rng.standard_normal((n, LATENT), dtype=np.float32) @ basis
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        out[start: start + n] = z
    out.flush()
    del out


def memory(key: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> None:
    """Reset the peak RSS to the current RSS (Linux 4.0+: /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(args) -> None:
    """Run one method on one data set; print one JSON line."""
    import faiss
    from sklearn.neighbors import NearestNeighbors

    from skmm.metrics import top_k
    from skmm.search import GalleryIndex

    faiss.omp_set_num_threads(args.threads)
    folder = Path(args.folder)
    G = np.load(folder / "gallery.npy")
    Q = np.load(folder / "queries.npy")
    reset_peak()  # imports and loading are not the method's
    base = memory("VmRSS")
    record = {"method": args.child, "data_bytes": G.nbytes + Q.nbytes}
    t = time.perf_counter()
    if args.child == "skmm":
        indices, _ = top_k(Q, G, K)
        record["time"] = time.perf_counter() - t
        np.save(folder / "exact.npy", indices)
    elif args.child == "sklearn":
        nn = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine").fit(G)
        indices = nn.kneighbors(Q, return_distance=False)
        record["time"] = time.perf_counter() - t
    elif args.child == "faiss-flat":
        flat = faiss.IndexFlatIP(G.shape[1])
        flat.add(G)
        indices = flat.search(Q, K)[1]
        record["time"] = time.perf_counter() - t
    else:
        index = GalleryIndex("hnsw", n_threads=args.threads).fit(G)
        record["build"] = time.perf_counter() - t
        record["searches"] = []
        exact = np.load(folder / "exact.npy")
        for ef in args.ef:
            index.ef_search = ef
            t = time.perf_counter()
            indices = index.search(Q, K)[0]
            record["searches"].append({"ef": ef, "time": time.perf_counter() - t,
                                       "recall": recall(indices, exact)})
    if args.child in ("sklearn", "faiss-flat"):
        record["agree"] = recall(indices, np.load(folder / "exact.npy"))
    record["peak_above_data"] = max(0, memory("VmHWM") - base)
    print(json.dumps(record))


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """The mean share of each query's exact top-k that ``found`` holds."""
    hits = (found[:, :, None] == exact[:, None, :]).any(axis=2).sum(axis=1)
    return float(hits.mean() / exact.shape[1])


def towers(rows: int, threads: int) -> dict:
    """Rows per second of the two towers, computing and from the cache."""
    import torch

    from skmm.datasets import make_shapes
    from skmm.encoders import ImageTower, TextTower
    from skmm.towers import feature_cache

    torch.set_num_threads(threads)
    X = make_shapes(rows, image_size=64, random_state=0)
    X["text"] = [f"{t} (item {i})" for i, t in enumerate(X["text"])]  # distinct texts
    out = {}
    for name, tower in (("ImageTower (EfficientNet-Lite0, 128 px)",
                         ImageTower("image", n_threads=threads, device="cpu")),
                        ("TextTower (USE v3)", TextTower("text", n_threads=threads))):
        tower.fit(X.iloc[:2]).transform(X.iloc[:2])  # load the weights outside the timing
        feature_cache.clear()
        t = time.perf_counter()
        tower.transform(X)
        first = time.perf_counter() - t
        t = time.perf_counter()
        tower.transform(X)
        out[name] = {"compute": rows / first, "cached": rows / (time.perf_counter() - t)}
    return out


def run_child(folder: Path, method: str, args) -> dict:
    env = {**os.environ, **{v: str(args.threads) for v in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    cmd = [sys.executable, __file__, "--child", method, "--folder", str(folder),
           "--threads", str(args.threads), "--ef", ",".join(map(str, args.ef))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def search_rows(args) -> list[str]:
    cases = [("low-rank", n) for n in args.sizes] + [("isotropic", n)
                                                      for n in args.isotropic_sizes]
    rows = []
    for kind, n in cases:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            t = time.perf_counter()
            generate(folder / "gallery.npy", n, args.dim, kind, seed=1)
            generate(folder / "queries.npy", args.queries, args.dim, kind, seed=2)
            print(f"{kind} {n:,}: data in {time.perf_counter() - t:.0f} s", flush=True)
            results = {}
            methods = METHODS if kind == "low-rank" else ["skmm", "hnsw"]
            for method in methods:
                results[method] = r = run_child(folder, method, args)
                print(f"  {method}: {r}", flush=True)
        exact = results["skmm"]["time"]
        data = gib(results["skmm"]["data_bytes"])
        for method in methods:
            r = results[method]
            cells = [kind, f"{n:,}", NAMES[method]]
            if method == "hnsw":
                for s in r["searches"]:
                    rows.append("| " + " | ".join(cells + [
                        f"ef_search={s['ef']}", f"{s['time']:.2f}", f"{r['build']:.1f}",
                        f"{exact / s['time']:.1f}x", gib(r["peak_above_data"]), data,
                        f"{s['recall']:.3f}"]) + " |")
            else:
                agree = "1 (reference)" if method == "skmm" else f"{r['agree']:.4f}"
                rows.append("| " + " | ".join(cells + [
                    "exact", f"{r['time']:.2f}", "", f"{exact / r['time']:.2f}x",
                    gib(r["peak_above_data"]), data, agree]) + " |")
    return rows


TITLE = "# Search at scale: exact and approximate top-10, and the towers' throughput"


def parts_of(text: str) -> dict[str, str]:
    """The parts of a results file, by name (each starts at a ``<!-- part: NAME -->`` line)."""
    parts, name = {}, None
    for line in text.splitlines():
        if line.startswith("<!-- part: "):
            name = line.removeprefix("<!-- part: ").removesuffix(" -->")
            parts[name] = []
        elif name is not None:
            parts[name].append(line)
    return {n: "\n".join(lines).strip("\n") for n, lines in parts.items()}


def search_part(args, machine: str) -> list[str]:
    load = os.getloadavg()[0]
    rows = search_rows(args)
    command = (f"python benchmarks/scale.py --parts search "
               f"--sizes {','.join(map(str, args.sizes))} --queries {args.queries} "
               f"--dim {args.dim} --ef {','.join(map(str, args.ef))} "
               f"--isotropic-sizes {','.join(map(str, args.isotropic_sizes))} "
               f"--threads {args.threads}")
    return [
        f"Machine: {machine}", "", f"Command: `{command}`", "",
        f"Load average (1 min) at the start and the end: {load:.1f} / "
        f"{os.getloadavg()[0]:.1f} (other processes share the cores).", "",
        f"Top-{K} of {args.queries:,} queries against galleries of {args.dim}-d float32 "
        "unit vectors (*low-rank*: 32 latent factors plus 10% noise, like embeddings; "
        "*isotropic*: Gaussian, no structure). Time: the search (for NearestNeighbors "
        "its fit too; for faiss Flat the copy into the index), in one child process per "
        "method; the HNSW graph's build is its own column. Speed-up: against skmm "
        "top_k on the same vectors. Peak memory: the child's peak RSS above its RSS "
        "with the data loaded. Recall@10: the share of the exact top-10 found (for the "
        "exact methods, their agreement with skmm top_k, ties and rounding aside).",
        "",
        "| vectors | gallery | method | setting | search (s) | build (s) | speed-up "
        "| peak memory above the data | data | recall@10 |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows]


def towers_part(args, machine: str) -> list[str]:
    load = os.getloadavg()[0]
    thr = towers(args.tower_rows, args.threads)
    command = (f"python benchmarks/scale.py --parts towers --tower-rows {args.tower_rows} "
               f"--threads {args.threads}")
    return [
        f"Machine: {machine}", "", f"Command: `{command}`", "",
        f"Load average (1 min) at the start and the end: {load:.1f} / "
        f"{os.getloadavg()[0]:.1f}.", "",
        f"The towers on {args.tower_rows:,} rows of `make_shapes` (64 px images, resized "
        "to 128; distinct captions), rows per second with an empty feature cache and "
        "again with every cell in it:", "",
        "| tower | rows/s, computing | rows/s, from the cache |",
        "| --- | ---: | ---: |",
        *[f"| {name} | {v['compute']:,.0f} | {v['cached']:,.0f} |" for name, v in
          thr.items()]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--isotropic-sizes", type=ints, default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--ef", type=ints, default=[64, 128, 256])
    parser.add_argument("--tower-rows", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", default="search,towers",
                        help="the parts to measure; the file keeps the others")
    parser.add_argument("--output", default=str(RESULTS / "scale.md"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine

    output = Path(args.output)
    parts = parts_of(output.read_text()) if output.exists() else {}
    for name, measure in (("search", search_part), ("towers", towers_part)):
        if name in args.parts.split(","):
            parts[name] = "\n".join(measure(args, machine()))
    text = "\n\n".join([TITLE] + [f"<!-- part: {n} -->\n{parts[n]}"
                                   for n in ("search", "towers") if n in parts]) + "\n"
    output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
