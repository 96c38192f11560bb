"""The report of a comparison: its progress, its verdict, its tables and figures.

``_Progress`` prints, as each contender and fold starts, about how long is
left; :func:`verdict` says, for each multimodal embedder of a
:class:`~skmm.comparison.ComparisonResult`, which baselines it beats, ties and
is beaten by; :func:`write_report` writes the Markdown, CSV tables and figures.
Both are re-exported by :mod:`skmm.comparison`, where they are documented.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["verdict", "write_report"]


def _pm(mean, std) -> str:
    """``"mean ± std"`` with 3 decimals."""
    return f"{mean:.3f} ± {std:.3f}"


def verdict(result, target: str | None = None) -> list[str]:
    """Which baselines each multimodal embedder beats, ties and is beaten by.

    Each contender is represented by its best row on ``target`` (an
    embedder or a baseline embedding by its best head), by mean macro-F1
    over the folds. An embedder beats a baseline when its mean is higher by
    more than the larger of their two standard deviations over the folds,
    is beaten when it is lower by more than that, and ties otherwise. The
    multimodal embedders are the rows whose ``baseline`` is false (see
    :class:`~skmm.comparison.Contender`); every other row is a baseline.

    Parameters
    ----------
    result : skmm.comparison.ComparisonResult
    target : str or None, default=None
        ``None`` takes the first target (the main one).

    Returns
    -------
    list of str
        A heading line, then one line per embedder (best first):
        ``"CRVAE (+ LinearSVC, 0.512 ± 0.020): beats ...; ties ...; beaten
        by ..."``, and a last line naming the best baseline. A single line
        says so when the comparison has no embedder or no baseline.
    """
    table = result.classification
    if target is None:
        target = table["target"].iloc[0]
    rows = table[table["target"] == target].copy()
    rows["baseline"] = rows["baseline"].eq(True) if "baseline" in rows else False
    rows["contender"] = rows["embedder"].where(rows["embedder"].notna(), rows["model"])
    rows["f1_std"] = rows["f1_std"].fillna(0.0)
    best = (rows.sort_values("f1_mean", ascending=False, kind="stable")
            .drop_duplicates("contender"))
    models, baselines = best[~best["baseline"]], best[best["baseline"]]
    if models.empty or baselines.empty:
        missing = "multimodal embedder" if models.empty else "baseline"
        return [f"Verdict on {target!r}: no {missing} in this comparison."]
    cv = result.info.get("cv")
    folds = f" over {cv} folds" if cv else ""
    lines = [f"Verdict on {target!r} (mean macro-F1{folds}, each by its best head; a tie is "
             "a difference within one standard deviation):"]
    for _, m in models.iterrows():
        head = m["model"][len(m["contender"]) + 3:] if pd.notna(m["embedder"]) else ""
        groups = {"beats": [], "ties": [], "beaten by": []}
        for _, b in baselines.iterrows():
            diff = m["f1_mean"] - b["f1_mean"]
            margin = max(m["f1_std"], b["f1_std"]) + 1e-9  # no rounding error decides
            key = "beats" if diff > margin else "beaten by" if diff < -margin else "ties"
            groups[key].append(f"{b['model']} ({b['f1_mean']:.3f})")
        said = "; ".join(f"{k} {', '.join(v)}" for k, v in groups.items() if v)
        label = f"{m['contender']} (+ {head}, " if head else f"{m['contender']} ("
        lines.append(f"  {label}{_pm(m['f1_mean'], m['f1_std'])}): {said}")
    top, first = baselines.iloc[0], models.iloc[0]
    lines.append(f"  best baseline: {top['model']} ({_pm(top['f1_mean'], top['f1_std'])}); "
                 f"best multimodal embedder: {first['model']} "
                 f"({_pm(first['f1_mean'], first['f1_std'])})")
    return lines


def _duration(seconds: float) -> str:
    """``"40 s"`` under 90 seconds, else ``"3 min"`` (rounded)."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"


class _Progress:
    """Progress lines of :func:`~skmm.comparison.run_comparison`, one per contender and fold.

    Before each step it prints ``[7/24] CRVAE (towers), fold 2/3, about 3 min
    left``; after a contender's last fold, the time its folds took. The
    estimate of what is left, this step included, takes for a contender
    already seen the mean of its folds so far, and for one not yet seen its
    :attr:`~skmm.comparison.Contender.cost_s` times the pace of the run so far (measured
    seconds over guessed seconds of the steps done, pulled towards 1 by
    ``prior_s`` seconds so that a few cheap steps do not swing it).
    """

    def __init__(self, contenders: Sequence, cv: int, verbose: int,
                 prior_s: float = 30.0):
        self.contenders, self.cv, self.verbose, self.prior_s = contenders, cv, verbose, prior_s
        self.total = len(contenders) * cv
        self.step = 0
        self.folds: dict[str, list[float]] = {}
        self.spent = self.guessed = 0.0
        self.t0 = time.perf_counter()

    def _left_s(self, contender_index: int, fold: int) -> float:
        guessed = self.guessed + self.prior_s
        pace = (self.spent + self.prior_s) / guessed if guessed > 0 else 1.0
        left = 0.0
        for i in range(contender_index, len(self.contenders)):
            c = self.contenders[i]
            folds = self.cv - fold if i == contender_index else self.cv
            seen = self.folds.get(c.name)
            left += folds * (float(np.mean(seen)) if seen else c.cost_s * pace)
        return left

    def start(self, contender_index: int, fold: int) -> None:
        """Say which step starts, and about how long is left."""
        self.step += 1
        if self.verbose:
            name = self.contenders[contender_index].name
            left = _duration(self._left_s(contender_index, fold))
            print(f"[{self.step}/{self.total}] {name}, fold {fold + 1}/{self.cv}, "
                  f"about {left} left", flush=True)

    def done(self, contender_index: int, fold: int, seconds: float) -> None:
        """Record a finished step; after a contender's last fold, say its time."""
        c = self.contenders[contender_index]
        self.folds.setdefault(c.name, []).append(seconds)
        self.spent += seconds
        self.guessed += c.cost_s
        if self.verbose and fold == self.cv - 1:
            print(f"    {c.name}: {self.cv} folds in {sum(self.folds[c.name]):.1f} s",
                  flush=True)

    def finish(self) -> None:
        """Say the total."""
        if self.verbose:
            print(f"{self.total} folds of {len(self.contenders)} contenders in "
                  f"{_duration(time.perf_counter() - self.t0)}", flush=True)


def _machine() -> str:
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{platform.machine()}, {os.cpu_count()} CPUs{load}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {gpu}, Python {platform.python_version()}")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + " --- |" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def _bar_chart(result, path: Path) -> None:
    from skmm.plotting import _pyplot

    plt = _pyplot()
    table = result.classification
    names = list(table["target"].unique())
    n_models = table.groupby("target").size().max()
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 0.32 * n_models + 1.5),
                             squeeze=False)
    for ax, target in zip(axes[0], names):
        t = table[table["target"] == target].sort_values("f1_mean")
        colors = [{"text": "tab:orange", "image": "tab:blue", "-": "tab:gray"}.get(m, "tab:green")
                  for m in t["modality"]]
        ax.barh(t["model"], t["f1_mean"], xerr=t["f1_std"].fillna(0), color=colors, capsize=3)
        ax.set_xlabel("macro-F1 (mean ± std over folds)")
        ax.set_title(f"target: {target}")
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in
               ("tab:green", "tab:blue", "tab:orange", "tab:gray")]
    axes[0][-1].legend(handles, ["image + text", "image", "text", "none"], loc="lower right",
                       fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_report(result, output, *, title: str = "skmm comparison",
                 command: str = "", figures: bool = True, random_state: int = 0) -> Path:
    """Write the tables and figures of a comparison into ``output``.

    Parameters
    ----------
    result : skmm.comparison.ComparisonResult
    output : str or path-like
        Folder, created if needed.
    title : str, default="skmm comparison"
        First heading of ``results.md``.
    command : str, default=""
        The command line that produced the result, written in ``results.md``.
    figures : bool, default=True
        Also draw ``f1_bars.png`` and ``tsne_<embedder>.png`` (needs matplotlib).
    random_state : int, default=0
        Seeds t-SNE.

    Returns
    -------
    pathlib.Path
        The path of ``results.md``.
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    info = result.info
    result.classification.to_csv(out / "results.csv", index=False)
    result.clustering.to_csv(out / "clustering.csv", index=False)
    result.retrieval.to_csv(out / "retrieval.csv", index=False)
    result.folds.to_csv(out / "folds.csv", index=False)
    lines = [f"# {title}", "", f"Machine: {_machine()}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [f"Data: {info.get('dataset', '')} ({info['rows']} rows); targets "
              + ", ".join(f"{t} ({n} classes)" for t, n in info["targets"].items())
              + f"; {info['cv']}-fold stratified cross-validation (seed "
              f"{info['random_state']}); total {info['seconds']:.0f} s"
              + (f" (CPU time {info['cpu_seconds']:.0f} s)" if "cpu_seconds" in info else "")
              + ".", "",
              "Every model is fitted on the training folds only (embedders with their "
              "classifier heads, the supervised common space with the training labels) and "
              "scored on the held-out fold. NMI/ARI: KMeans with as many clusters as classes "
              f"on the held-out embedding. mAP@{info['map_k']}: each held-out item queries "
              "the others, items of its class are relevant. Times: mean seconds per fold.", ""]
    for target in result.classification["target"].unique():
        lines += [f"## Classification: {target}", "", _markdown(result.main_table(target)), ""]
    said = verdict(result)
    lines += ["## Verdict", "", said[0], ""] + [f"- {line.strip()}" for line in said[1:]] + [""]
    if not result.clustering.empty:
        clu = result.clustering.copy()
        clu["NMI"] = [_pm(m, s) for m, s in zip(clu["nmi_mean"], clu["nmi_std"])]
        clu["ARI"] = [_pm(m, s) for m, s in zip(clu["ari_mean"], clu["ari_std"])]
        lines += ["## Clustering (KMeans on the held-out embedding)", "",
                  _markdown(clu[["target", "embedder", "NMI", "ARI"]]), ""]
    if not result.retrieval.empty:
        ret = result.retrieval.copy()
        k = info["map_k"]
        ret[f"mAP@{k}"] = [_pm(m, s) for m, s in zip(ret["map_mean"], ret["map_std"])]
        cols = ["target", "embedder", f"mAP@{k}"]
        if "cross_map_mean" in ret:
            ret[f"image->text mAP@{k}"] = [
                "" if pd.isna(m) else _pm(m, s)
                for m, s in zip(ret["cross_map_mean"], ret["cross_map_std"])]
            cols.append(f"image->text mAP@{k}")
        lines += ["## Retrieval (same class, held-out fold)", "", _markdown(ret[cols]), ""]
    if result.skipped:
        lines += ["## Not run", ""] + [f"- {k}: {v}" for k, v in result.skipped.items()] + [""]
    if figures:
        from skmm.plotting import _pyplot, plot_embedding_map

        plt = _pyplot()
        _bar_chart(result, out / "f1_bars.png")
        lines += ["## Figures", "", "![macro-F1](f1_bars.png)", ""]
        for name, (Z, labels) in result.maps.items():
            ax = plot_embedding_map(Z, labels, random_state=random_state,
                                    title=f"{name}: t-SNE of a held-out fold")
            file = f"tsne_{_slug(name)}.png"
            ax.figure.savefig(out / file, dpi=110, bbox_inches="tight")
            plt.close(ax.figure)
            lines += [f"![{name}]({file})"]
        lines.append("")
    path = out / "results.md"
    path.write_text("\n".join(lines))
    return path
