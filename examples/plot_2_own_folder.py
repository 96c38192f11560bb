"""
Your own folder of images and captions
======================================

Most data sets arrive as a folder of image files and a table of captions.
This example writes such a folder (PNG files drawn with Pillow and a
``captions.csv``), reads it into a DataFrame of paths and texts with
:func:`skmm.datasets.load_image_text_folder`, checks it with
:func:`skmm.inputs.validate_frame`, and embeds it without labels with
:class:`~skmm.CRVAEEmbedder`.
"""

# %%
# Write a folder of images and a CSV of captions
# ----------------------------------------------
# :func:`~skmm.datasets.make_shapes` draws a coloured shape per picture and
# writes a caption that names its colour and a mood; we save each picture as
# a PNG file with Pillow, the way a camera or a scraper would leave them.
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

from skmm.datasets import make_shapes

shapes = make_shapes(200, image_size=64, label="pair", random_state=0)
folder = Path(tempfile.mkdtemp(prefix="skmm_example_"))
(folder / "pictures").mkdir()
rows = []
for i, (pixels, caption) in enumerate(zip(shapes["image"], shapes["text"])):
    name = f"pictures/shape_{i:03d}.png"
    Image.fromarray(pixels).save(folder / name)
    rows.append({"file": name, "caption": caption})
# a row whose file never made it to the folder, as happens in real tables
rows.append({"file": "pictures/lost.png", "caption": "a picture that is not there"})
pd.DataFrame(rows).to_csv(folder / "captions.csv", index=False)
print(f"{folder}: captions.csv ({len(rows)} rows) and "
      f"{len(list((folder / 'pictures').iterdir()))} PNG files in pictures/")

# %%
# Read it into a DataFrame
# ------------------------
# The image column holds absolute paths; the images are opened only when a
# model fits or transforms.
from skmm.datasets import load_image_text_folder

X = load_image_text_folder(folder / "captions.csv", image_col="file", text_col="caption")
X.head()

# %%
# Find the unusable rows before fitting
# -------------------------------------
# An embedder refuses a table with a missing file (its error names the
# column, the rows and the reason). :func:`~skmm.inputs.validate_frame`
# lists every such row so that the table can be filtered first.
from skmm.inputs import validate_frame

bad = validate_frame(X, image_cols=["file"], text_cols=["caption"])
print(bad.to_string(index=False))
X = X.drop(index=bad["row"].dropna().unique())

# %%
# Embed the folder
# ----------------
# No labels are needed: the CRVAE learns one Gaussian latent per row from the
# picture and the caption together. At its defaults it reads them through the
# pretrained towers: the picture through EfficientNet-Lite0
# (``image_encoder="efficientnet_lite0"``) and the caption through the
# Universal Sentence Encoder (``text_encoder="use"``).
from skmm import CRVAEEmbedder

emb = CRVAEEmbedder(
    image_col="file",
    text_col="caption",
    n_components=16,
    max_epochs=100,
    random_state=0,
)
Z = emb.fit_transform(X)
print(Z.shape)

# %%
# What the folder holds, and what the embedding keeps
# ---------------------------------------------------
# The shape is only in the picture and the mood only in the caption (the
# colour is in both). A logistic regression on the embedding, cross-validated,
# tells how much of each one vector per row keeps; the t-SNE map is coloured
# by the mood, which only the caption tells.
import textwrap

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skmm.plotting import plot_embedding_map

meta = shapes.loc[: len(X) - 1]
accuracy = {
    f"{name}\n({where})": cross_val_score(LogisticRegression(max_iter=2000), Z, meta[name],
                                           cv=3).mean()
    for name, where in [("shape", "picture"), ("mood", "caption"), ("color", "both")]
}
print({name.split()[0]: round(acc, 2) for name, acc in accuracy.items()})

fig = plt.figure(figsize=(10, 6.5), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[1, 2.2])
for ax, (path, caption) in zip(top.subplots(1, 5), X[["file", "caption"]].values):
    ax.imshow(Image.open(path))
    ax.set_title(textwrap.fill(caption, 22), fontsize=8)
    ax.axis("off")
left, right = bottom.subplots(1, 2, width_ratios=[1.3, 1])
plot_embedding_map(Z, meta["mood"], random_state=0, ax=left, title="t-SNE, coloured by mood")
right.bar(list(accuracy), list(accuracy.values()), color=["tab:blue", "tab:orange", "tab:green"])
chance = [1 / meta[name].nunique() for name in ("shape", "mood", "color")]
right.hlines(chance, [-0.4, 0.6, 1.6], [0.4, 1.4, 2.4], color="black", linestyle="--",
             label="chance")
right.set_ylim(0, 1)
right.set_ylabel("accuracy of a logistic regression\non the embedding (3-fold CV)")
right.legend(loc="lower right")
plt.show()
