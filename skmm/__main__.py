"""Command line: ``python -m skmm demo`` and ``python -m skmm benchmark``.

``benchmark`` answers the first question a user of this library asks: does the
multimodal embedding beat what one would do with one modality? It
cross-validates the multimodal embedders (each followed by a LinearSVC and a
LogisticRegression, and on the shapes a random forest) against
single-modality, early-fusion and late-fusion baselines trained until they
converge, what a user builds from the pretrained towers without skmm
(EfficientNet-Lite0 + LR, USE + LR, the towers concatenated + LR, their late
fusion, the PCA of the towers) and the majority class, on the emoji groups
(and subgroups) or on the shapes, whose ``pair`` label (shape and mood) needs
both modalities
(each alone tops out at 0.25 accuracy) and whose ``joint`` label (an XOR)
needs a non-linear head as well; it adds KMeans NMI/ARI and retrieval mAP@50
of every embedding, writes ``results.md``, CSV tables, a bar chart and t-SNE
maps into the ``--output`` folder only, and prints the main table, then the
verdict: which baselines each multimodal embedder beats and which beat it.
``--update-results`` also refreshes the committed tables under
``benchmarks/results/`` of a source checkout (``--results-dir DIR``: any other
folder); nothing else is written outside ``--output``. The committed tables
are written whole, so ``--update-results`` refuses ``--only`` (a subset of the
contenders).

``demo`` (the README's main command) tells the same story in a few minutes:
the three embedders on the pretrained towers (CRVAE, MMEDA-II and the
supervised common space with EfficientNet-Lite0 and the Universal Sentence
Encoder) against what a user builds from the same towers without skmm, TF-IDF
and the majority class, on the emoji groups in 3 folds
(:data:`skmm.comparison.DEMO_CONTENDERS`), with the same tables, verdict and
figures; on the emoji both also score paired retrieval without labels (the
common space fitted on the pairs against CCA of the towers,
:mod:`skmm.comparison_pairs`). ``benchmark --quick`` runs every contender but the slowest
(:data:`skmm.comparison.QUICK_LEAVES_OUT`) on 32-pixel images in 3 folds.
Both print a line as each contender and fold starts, with an estimate of the
time left (``--verbose 0``: only the table and the verdict).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

#: ``benchmarks/results`` of a source checkout (absent in an installed package):
#: refreshed by ``benchmark --update-results`` only.
REPO_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def _compare(dataset: str, *, config: str, cv: int | None, output: Path, seed: int,
             verbose: int, results_dir: Path | None, names=None, argv=()) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from skmm.comparison import (
        CONFIGS,
        load_benchmark_data,
        make_contenders,
        run_comparison,
        verdict,
        write_report,
    )

    def say(msg):
        if verbose:
            print(msg, flush=True)

    t0, cpu0 = time.perf_counter(), time.process_time()
    cv = cv or CONFIGS[config]["cv"]
    size = CONFIGS[config]["image_size"]
    say(f"loading the emoji ({size} px; drawn once, then read from the cache under $SKMM_DATA)"
        if dataset == "emoji" else f"drawing the shapes ({size} px)")
    X, targets = load_benchmark_data(dataset, config=config, random_state=seed,
                                     verbose=max(verbose - 1, 0))
    skipped: dict = {}
    contenders = make_contenders(dataset, config=config, random_state=seed, names=names,
                                 skipped=skipped)
    print(f"{dataset} ({config}): {len(X)} rows, loaded in {time.perf_counter() - t0:.0f} s; "
          "targets "
          + ", ".join(f"{t} ({len(pd.unique(y))} classes)" for t, y in targets.items())
          + f"; {cv}-fold CV of {len(contenders)} contenders", flush=True)
    for name, why in skipped.items():
        print(f"  skipped {name}: {why}")
    result = run_comparison(X, targets, contenders, cv=cv, random_state=seed, verbose=verbose)
    result.skipped = skipped
    pairs = _paired_section(X, targets["group"], cv=cv, seed=seed, verbose=verbose) \
        if dataset == "emoji" else ""
    result.info["dataset"] = dataset
    command = "python -m skmm " + " ".join(shlex.quote(a) for a in argv)
    title = f"skmm comparison: {dataset} ({config})"
    say("writing the tables, the bar chart and a t-SNE map per embedder")
    path = write_report(result, output, title=title, command=command.strip(),
                        random_state=seed)
    if pairs:  # before the figures, so that the committed tables carry it too
        head, _, figures = path.read_text().partition("## Figures")
        path.write_text(head.rstrip() + "\n\n" + pairs + "\n\n## Figures" + figures)
    written = [path.parent.resolve()]
    if results_dir is not None:
        stem = f"comparison_{dataset}{'' if config == 'full' else '_' + config}"
        results_dir.mkdir(parents=True, exist_ok=True)
        # the tables and the bar chart (the docs show both); t-SNE maps stay
        # in the output folder
        text = path.read_text().split("## Figures")[0].rstrip()
        text += f"\n\nt-SNE maps per embedder: `{output}/tsne_*.png`."
        (results_dir / f"{stem}.md").write_text(text + "\n")
        bars = path.parent / "f1_bars.png"
        if bars.exists():
            shutil.copyfile(bars, results_dir / f"{stem}_f1_bars.png")
        result.classification.to_csv(results_dir / f"{stem}.csv", index=False)
        written.append(results_dir.resolve())
    first = next(iter(targets))
    print("\nfigures and tables written to " + " and ".join(f"{p}/" for p in written))
    print(f"\n{dataset}: cross-validated classification of {first!r} ({cv} folds, "
          f"{len(X)} rows; total {time.perf_counter() - t0:.0f} s, CPU time "
          f"{time.process_time() - cpu0:.0f} s)")
    print(result.main_table(first).to_string(index=False))
    print()
    print("\n".join(verdict(result, first)))
    return 0


def _paired_section(X, y, *, cv: int, seed: int, verbose: int) -> str:
    """The markdown of the paired-retrieval section (:mod:`skmm.comparison_pairs`)."""
    from skmm.comparison_pairs import (
        labels_and_pairs_markdown,
        paired_contenders,
        paired_retrieval_markdown,
        run_paired_retrieval,
    )
    from skmm.datasets import EMOJI_GROUP_DESCRIPTIONS

    if verbose:
        print("paired retrieval: the common space fitted on the pairs, on the labels and "
              "the pairs, and CCA of the towers", flush=True)
    others = [c for c in ("text_zh",) if c in X]  # the Chinese names
    names = EMOJI_GROUP_DESCRIPTIONS if set(y) <= set(EMOJI_GROUP_DESCRIPTIONS) else None
    frame = run_paired_retrieval(X[["image", "text", *others]],
                                 paired_contenders(random_state=seed), y=y,
                                 class_names=names, other_captions=others, cv=cv,
                                 random_state=seed, verbose=verbose)
    return ("## Paired retrieval\n\n"
            "Each method learns from the training folds' pairs of glyph and name (the "
            "\"labels + pairs\" space also from their groups), then every held-out glyph "
            f"ranks the held-out names (and the other way round); {cv}-fold KFold, fold "
            "means.\n\n"
            + paired_retrieval_markdown(frame)
            + "\n\nThe same fitted spaces on the groups and on both names. Probe macro-F1: "
            "a LogisticRegression on the standardised embedding of the training rows, "
            "scored on the held-out ones (these folds are not stratified, unlike the "
            "classification table's). Zero-shot macro-F1: no label read, each held-out "
            "glyph goes to the nearest group description "
            "(`skmm.datasets.EMOJI_GROUP_DESCRIPTIONS`, `skmm.ZeroShotClassifier`). "
            "R@10, any caption: each glyph ranks the held-out English and Chinese names "
            "together, a hit on either of its own.\n\n"
            + labels_and_pairs_markdown(frame))


def _results_dir(args, parser) -> Path | None:
    """``--update-results`` (the checkout's folder), ``--results-dir DIR`` or None."""
    if getattr(args, "update_results", False):
        if getattr(args, "only", None):  # the tables are written whole
            parser.error("--update-results runs every contender (the committed tables are "
                         "written whole); drop --only, or write the subset with --output or "
                         "--results-dir DIR")
        if not REPO_RESULTS.is_dir():
            parser.error(f"--update-results: no {REPO_RESULTS} (not a source checkout); "
                         "use --results-dir DIR")
        return REPO_RESULTS
    return Path(args.results_dir) if args.results_dir else None


def _demo(args, parser) -> int:
    return _compare("emoji", config="demo", cv=args.cv, output=Path(args.output), seed=args.seed,
                    verbose=args.verbose, results_dir=_results_dir(args, parser),
                    argv=args.argv)


def _benchmark(args, parser) -> int:
    results_dir = _results_dir(args, parser)
    output = args.output or f"skmm_benchmark_{args.dataset}{'_quick' if args.quick else ''}"
    names = args.only.split(",") if args.only else None
    return _compare(args.dataset, config="quick" if args.quick else "full", cv=args.cv,
                    output=Path(output), seed=args.seed, verbose=args.verbose,
                    results_dir=results_dir, names=names, argv=args.argv)


def main(argv=None) -> int:
    """Entry point of ``python -m skmm`` and of the ``skmm`` script.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m skmm",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the story in a few minutes: the embedders on the "
                                       "pretrained towers against the towers' baselines "
                                       "(emoji groups)")
    demo.add_argument("--output", default="skmm_output", help="folder for figures and tables")
    demo.add_argument("--cv", type=int, default=None, help="folds (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--verbose", type=int, default=1,
                      help="0 quiet, 1 one line per contender and fold with the time left")
    bench = sub.add_parser("benchmark", help="the full cross-validated comparison")
    bench.add_argument("--dataset", choices=["emoji", "shapes"], default="emoji")
    bench.add_argument("--cv", type=int, default=None, help="folds (default 5, 3 with --quick)")
    bench.add_argument("--quick", action="store_true",
                       help="32-pixel images, 3 folds, 600 shapes, the main targets, the slowest "
                            "contenders left out")
    bench.add_argument("--output", default=None,
                       help="folder for figures and tables (default skmm_benchmark_<dataset>)")
    bench.add_argument("--only", default=None,
                       help="comma-separated contender names to run (default: all)")
    bench.add_argument("--seed", type=int, default=0, help="random seed")
    bench.add_argument("--verbose", type=int, default=1,
                       help="0 quiet, 1 one line per contender and fold with the time left")
    for sub_parser in (demo, bench):
        committed = sub_parser.add_mutually_exclusive_group()
        committed.add_argument("--update-results", action="store_true",
                               help="also refresh the committed tables under "
                                    "benchmarks/results/ of the source checkout (default: "
                                    "write to --output only)")
        committed.add_argument("--results-dir", default=None,
                               help="also copy the tables (Markdown, CSV, bar chart) to this "
                                    "folder")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command == "demo":
        return _demo(args, demo)
    if args.command == "benchmark":
        return _benchmark(args, bench)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
