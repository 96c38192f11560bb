"""Command line: ``python -m skmm demo``.

``demo`` loads the bundled emoji dataset, fits a CRVAEEmbedder, clusters the
embeddings with KMeans and compares the clusters with the emoji groups,
next to the same for PCA of the raw pixels and for mean word vectors. It
prints a table and writes figures into an output folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _demo(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmm import CRVAEEmbedder
    from skmm.datasets import load_emoji
    from skmm.inputs import ImageLoader, MeanWordVectors
    from skmm.metrics import cluster_sweep, clustering_scores
    from skmm.plotting import plot_cluster_sweep, plot_embedding_map, plot_history

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    X = load_emoji(image_size=args.image_size, verbose=args.verbose)
    y = X["group"].to_numpy()
    print(f"emoji dataset: {len(X)} rows, {X['group'].nunique()} groups, "
          f"{X['subgroup'].nunique()} subgroups, images {args.image_size}px "
          f"({time.perf_counter() - t0:.1f} s)")

    crvae = CRVAEEmbedder(image_size=args.image_size, n_components=args.n_components,
                          max_epochs=args.epochs, random_state=args.seed,
                          verbose=args.verbose)
    models = {
        "CRVAE (image + text)": crvae,
        "PCA of pixels (image)": make_pipeline(
            ImageLoader(image_size=args.image_size), StandardScaler(),
            PCA(args.n_components, random_state=args.seed)),
        "mean word vectors (text)": MeanWordVectors(random_state=args.seed),
    }
    rows, embeddings = [], {}
    for name, model in models.items():
        t = time.perf_counter()
        Z = model.fit_transform(X)
        fit_s = time.perf_counter() - t
        scores = clustering_scores(Z, y, random_state=args.seed)
        embeddings[name] = Z
        rows.append({"embedding": name, "dims": Z.shape[1], "NMI": scores["nmi"],
                     "ARI": scores["ari"], "fit s": fit_s})
        print(f"  {name}: {fit_s:.1f} s", flush=True)

    # figures
    Z = embeddings["CRVAE (image + text)"]
    ax = plot_embedding_map(Z, X["group"], random_state=args.seed,
                            title="CRVAE embedding of emoji (t-SNE), by group")
    ax.figure.savefig(out / "crvae_tsne.png", dpi=120, bbox_inches="tight")
    sweep = cluster_sweep(Z, range(2, 16), random_state=args.seed)
    plot_cluster_sweep(sweep).savefig(out / "crvae_cluster_sweep.png", dpi=120,
                                      bbox_inches="tight")
    ax = plot_history(crvae.history_, title="CRVAE training loss terms")
    ax.figure.savefig(out / "crvae_history.png", dpi=120, bbox_inches="tight")
    sweep.to_csv(out / "crvae_cluster_sweep.csv", index=False)

    table = pd.DataFrame(rows)
    table.to_csv(out / "clustering.csv", index=False)
    print(f"\nKMeans with k={len(set(y))} clusters vs. the emoji groups "
          f"({len(X)} rows; total {time.perf_counter() - t0:.0f} s)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nfigures and tables written to {out.resolve()}/")
    return 0


def main(argv=None) -> int:
    """Entry point of ``python -m skmm`` and of the ``skmm`` script."""
    parser = argparse.ArgumentParser(prog="python -m skmm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="embed the bundled emoji dataset and compare clusterings")
    demo.add_argument("--output", default="skmm_output", help="folder for figures and tables")
    demo.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    demo.add_argument("--epochs", type=int, default=30, help="CRVAE training epochs")
    demo.add_argument("--n-components", type=int, default=32, help="embedding dimensions")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--verbose", type=int, default=1, help="0 silent, 1 epoch table")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
