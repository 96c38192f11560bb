"""
Model selection with GridSearchCV
=================================

Every skmm embedder is a scikit-learn estimator, so
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other.
:meth:`skmm.CommonSpaceEmbedder.score` returns the mean mAP@K of
cross-modal retrieval (pictures query names and names query pictures; an
item of the query's class is relevant), so the search needs no downstream
model: it picks the space that retrieves best on the held-out folds.
"""

# %%
# The data
# --------
from skmm.datasets import load_emoji

emoji = load_emoji(image_size=32)
X = emoji.groupby("group").head(40).reset_index(drop=True)
y = X["group"]

# %%
# A small grid
# ------------
# The width of the space and the dropout of its branches, three folds:
# 4 candidates x 3 folds = 12 fits, plus the refit on all rows. The
# embedder reads the emoji through its default pretrained towers
# (:class:`~skmm.encoders.ImageTower`, :class:`~skmm.encoders.TextTower`), whose
# features are computed once per cell and shared by every fit.
from sklearn.model_selection import GridSearchCV

from skmm import CommonSpaceEmbedder

emb = CommonSpaceEmbedder(max_epochs=15, random_state=0)
grid = {"n_components": [8, 64], "dropout": [0.0, 0.5]}
search = GridSearchCV(emb, grid, cv=3).fit(X, y)
print("best:", search.best_params_, f"mAP@50 = {search.best_score_:.3f}")

# %%
# The scores of the grid
# ----------------------
import matplotlib.pyplot as plt
import pandas as pd

results = pd.DataFrame(search.cv_results_)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for dropout, rows in results.groupby("param_dropout"):
    ax.errorbar(rows["param_n_components"].astype(int), rows["mean_test_score"],
                yerr=rows["std_test_score"], marker="o", capsize=3,
                label=f"dropout={dropout}")
ax.set_xscale("log", base=2)
ax.set_xticks(grid["n_components"], [str(n) for n in grid["n_components"]])
ax.set_xlabel("n_components")
ax.set_ylabel("mAP@50 (mean ± std over 3 folds)")
ax.set_title("GridSearchCV of CommonSpaceEmbedder")
ax.legend()
plt.show()
results[["params", "mean_test_score", "std_test_score", "mean_fit_time"]]

# %%
# With a downstream model
# -----------------------
# To tune for a classifier instead, put the embedder in a
# :class:`~sklearn.pipeline.Pipeline` and name its parameters with the
# step's prefix, e.g.
# ``GridSearchCV(make_pipeline(emb, LogisticRegression()),
# {"commonspaceembedder__n_components": [8, 64]}, scoring="f1_macro")``.
# The unsupervised embedders (:class:`~skmm.CRVAEEmbedder`,
# :class:`~skmm.MMEDAEmbedder`) score without labels: their ``score`` is the
# negative reconstruction error, which no hyperparameter redefines.
