"""
Comparing embedders with baselines
==================================

:mod:`skmm.comparison` cross-validates embedders (each followed by a
classifier head) against the baselines a user would build without skmm, on
the same folds. ``python -m skmm demo`` runs the quick comparison on the
whole emoji table; that takes minutes, so here we run a very small one, then
plot the committed results of the quick comparison.
"""

# %%
# A very small comparison
# -----------------------
# Three of the pretrained towers' baselines (a logistic regression on each
# tower's features, and on both side by side) against the common space on
# the same towers, on 360 emoji, 3 folds, target: the emoji group.
from skmm import CommonSpaceEmbedder
from skmm.comparison import Contender, run_comparison, tower_contenders, verdict
from skmm.datasets import load_emoji

emoji = load_emoji(image_size=32)
X = emoji.groupby("group").head(40).reset_index(drop=True)
space = CommonSpaceEmbedder(n_components=32, max_epochs=15, random_state=0)  # the towers
contenders = tower_contenders()[:3] + [
    Contender("common space (towers)", "image + text", space, supervised=True,
              heads=("LogisticRegression",), cross_modal=("image", "text")),
]
result = run_comparison(X, {"group": X["group"].to_numpy()}, contenders, cv=3)
print("\n".join(verdict(result)))
result.main_table()

# %%
# Its figure
# ----------
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

COLORS = {"image + text": "tab:green", "image": "tab:blue", "text": "tab:orange", "-": "tab:gray"}


def f1_bars(table, ax, title):
    """Mean macro-F1 over the folds, with their standard deviation, coloured by modality."""
    table = table.sort_values("f1_mean")
    ax.barh(table["model"], table["f1_mean"], xerr=table["f1_std"].fillna(0), capsize=3,
            color=[COLORS.get(m, "tab:green") for m in table["modality"]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1 (mean ± std over folds)")
    ax.set_title(title)
    ax.legend(handles=[Patch(color=c, label=m) for m, c in COLORS.items() if m != "-"],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    ax.grid(axis="x", alpha=0.3)


fig, ax = plt.subplots(figsize=(7, 2.6), layout="constrained")
f1_bars(result.classification, ax, "360 emoji, 3 folds, target: group")

# %%
# The held-out embedding of the first fold
# ----------------------------------------
# ``result.maps`` keeps, per embedder, the first fold's held-out embedding
# and its labels, for a map.
from skmm.plotting import plot_embedding_map

Z, labels = result.maps["common space (towers)"]
plot_embedding_map(Z, labels, random_state=0, title="common space (towers), held-out fold")

# %%
# The committed quick comparison
# ------------------------------
# ``python -m skmm benchmark --dataset emoji --quick`` on all 1,914 emoji
# wrote ``benchmarks/results/comparison_emoji_quick.csv`` (the table of the
# docs' Benchmarks page); a source checkout has it next to this folder.
from pathlib import Path

import pandas as pd

csv = Path("..") / "benchmarks" / "results" / "comparison_emoji_quick.csv"
if csv.exists():
    quick = pd.read_csv(csv)
    quick = quick[quick["target"] == "group"]
    # each embedder by its best head; every baseline classifier as it is
    heads = quick[quick["embedder"].notna()].sort_values("f1_mean", ascending=False)
    best = pd.concat([quick[quick["embedder"].isna()],
                      heads.drop_duplicates("embedder", keep="first")])
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(best) + 1.2), layout="constrained")
    f1_bars(best, ax, "quick comparison: 1,914 emoji, 3 folds")
    plt.show()
else:
    print(f"{csv} is not here: run the example from the examples/ folder of a checkout")
