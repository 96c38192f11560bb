"""
Unlabelled pairs and retrieval
==============================

Often the only thing known about a picture and a caption is that they go
together. Without labels, :class:`~skmm.CommonSpaceEmbedder` learns from the
pairing of the rows: ``fit(X)`` with no ``y`` draws a row's picture and its
caption together and pushes the other rows of the batch away (the symmetric
InfoNCE loss of CLIP, with a learned temperature), on top of the frozen
pretrained towers. A picture then retrieves its own caption, and the other
way round, for rows it has never seen.

We measure it the way retrieval is measured without labels, with
:mod:`skmm.metrics`: recall@K (the share of queries whose own partner is
among the K nearest items) and the median rank of the partner, against
the classic baseline without training: a canonical correlation analysis of
the same towers' features (:class:`skmm.baselines.TowerCCA`).
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# Pairs, and nothing else
# -----------------------
# The emoji pictures and their English names; the groups are not used.
# Held-out pairs are kept aside to test retrieval on rows the model never saw.
from sklearn.model_selection import train_test_split

from skmm.datasets import load_emoji

emoji = load_emoji(image_size=32)
X = emoji.groupby("group").head(40).reset_index(drop=True)[["image", "text"]]
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
print(len(X_train), "training pairs,", len(X_test), "held-out pairs")

# %%
# Fit without ``y``
# -----------------
# The towers are the modalities' default encoders
# (:class:`~skmm.encoders.ImageTower`, :class:`~skmm.encoders.TextTower`).
from skmm import CommonSpaceEmbedder

emb = CommonSpaceEmbedder(
    modalities={"image": "image", "text": "text"},
    n_components=64,
    max_epochs=30,
    random_state=0,
)
emb.fit(X_train)  # no labels: the pairing of the rows is the supervision
print("learned from:", emb.objective_)
# score(X) without y: the mean reciprocal rank of each row's own partner
print(f"held-out mean reciprocal rank: {emb.score(X_test):.3f}")

# %%
# Recall@K and median rank
# ------------------------
# :meth:`~skmm.CommonSpaceEmbedder.embed` embeds one modality of every row;
# row ``i`` of the pictures is paired with row ``i`` of the names.
# :func:`~skmm.metrics.paired_retrieval_table` scores both directions.
from skmm.metrics import median_rank, paired_retrieval_table, recall_at_k

images = emb.embed(X_test, "image")
names = emb.embed(X_test, "text")
print(f"picture -> name: R@1 {recall_at_k(images, names, k=1):.2f}, "
      f"R@10 {recall_at_k(images, names, k=10):.2f}, "
      f"median rank {median_rank(images, names):.0f} of {len(X_test)}")
paired_retrieval_table({"image": images, "text": names}, ks=(1, 5, 10))

# %%
# The yardstick: CCA of the towers' features
# ------------------------------------------
# :class:`~skmm.baselines.TowerCCA` reduces each tower's features by PCA and
# finds the directions where pictures and names correlate most: no gradient,
# no labels, the same retrieval methods.
from skmm.baselines import TowerCCA

cca = TowerCCA(n_components=16, pca_components=32).fit(X_train)
print(f"TowerCCA held-out mean reciprocal rank: {cca.score(X_test):.3f}")
cca_images, cca_names = cca.embed(X_test, "image"), cca.embed(X_test, "text")

# %%
# Recall@K in both directions, against CCA and chance (K / number of pairs):
import matplotlib.pyplot as plt
import numpy as np

ks = np.arange(1, 31)
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
for (q, g), (cq, cg), label, color in [
        ((images, names), (cca_images, cca_names), "picture -> name", "tab:blue"),
        ((names, images), (cca_names, cca_images), "name -> picture", "tab:orange")]:
    ax.plot(ks, [recall_at_k(q, g, k=int(k)) for k in ks], marker=".", color=color,
            label=f"common space, {label}")
    ax.plot(ks, [recall_at_k(cq, cg, k=int(k)) for k in ks], linestyle=":", color=color,
            label=f"TowerCCA, {label}")
ax.plot(ks, ks / len(X_test), color="gray", linestyle="--", label="chance")
ax.set_xlabel("K")
ax.set_ylabel("recall@K (held-out pairs)")
ax.set_ylim(0, 1)
ax.set_title(f"retrieval of the own partner among {len(X_test)} held-out pairs")
ax.legend(fontsize="small")

# %%
# Query pictures with names
# -------------------------
# :meth:`~skmm.CommonSpaceEmbedder.retrieve` returns, for each query, the
# positions of the nearest gallery items and their cosine similarities. The
# query's own picture has a green frame.
queries = X_test.iloc[:4]
indices, similarities = emb.retrieve(queries, "text", X_test, "image", k=5)
fig, axes = plt.subplots(4, 6, figsize=(8, 5.6), layout="constrained")
for row, (name, hits, sims) in enumerate(zip(queries["text"], indices, similarities)):
    axes[row, 0].text(0.5, 0.5, name.replace(" ", "\n", 2), ha="center", va="center")
    axes[row, 0].axis("off")
    for ax, hit, sim in zip(axes[row, 1:], hits, sims):
        ax.imshow(X_test["image"].iloc[hit])
        ax.set_title(f"{sim:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        own = hit == row  # the queries are the first rows of X_test
        for spine in ax.spines.values():
            spine.set_color("tab:green" if own else "white")
            spine.set_linewidth(3)
fig.suptitle("name -> the 5 nearest held-out pictures (its own picture framed in green)")
plt.show()
