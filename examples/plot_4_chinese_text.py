"""
Chinese text: the multilingual sentence encoder or jieba
========================================================

:func:`~skmm.datasets.load_emoji` carries a Chinese name for every emoji
(``text_zh``). A text column in Chinese can enter an embedder in two ways:

* :class:`~skmm.encoders.TextTower` (a text column's default encoder): the
  multilingual Universal Sentence Encoder reads Chinese (one of its 16
  languages) with its own tokenizer;
* word vectors over jieba segments (:class:`~skmm.encoders.MeanWordEncoder`
  with ``tokenizer="jieba"``): jieba cuts the text into words and Word2Vec
  learns their vectors from your texts.

We fit the common space on the pictures and their Chinese names both ways,
score cross-modal retrieval on held-out emoji, and query pictures with
Chinese names.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# The data, and what jieba does to it
# -----------------------------------
from sklearn.model_selection import train_test_split

from skmm.datasets import load_emoji
from skmm.inputs import jieba_tokenize

emoji = load_emoji(image_size=32)
X = emoji.groupby("group").head(40).reset_index(drop=True)
X_train, X_test = train_test_split(X, test_size=0.3, stratify=X["group"], random_state=0)
for zh, en in X[["text_zh", "text"]].values[[0, 45, 120, 200]]:
    print(f"{zh}  ->  {jieba_tokenize(zh)}   ({en})")

# %%
# Two ways to read the Chinese names
# ----------------------------------
# The modalities are declared by name, each a column and its encoder:
# ``("text_zh", MeanWordEncoder(tokenizer="jieba"))`` reads the column
# ``text_zh`` as the mean of the vectors of its jieba segments; a column given
# alone gets the default encoder of its kind (the towers). The image goes
# through EfficientNet-Lite0 (:class:`~skmm.encoders.ImageTower`) in both models.
from skmm import CommonSpaceEmbedder
from skmm.encoders import MeanWordEncoder, TextTower

common = dict(n_components=32, max_epochs=20, random_state=0)
models = {
    "USE (multilingual)": CommonSpaceEmbedder(
        modalities={"image": "image", "zh": ("text_zh", TextTower())}, **common),
    "jieba + Word2Vec": CommonSpaceEmbedder(
        modalities={"image": "image", "zh": ("text_zh", MeanWordEncoder(tokenizer="jieba"))},
        **common),
}
scores = {}
for name, model in models.items():
    model.fit(X_train, X_train["group"])
    # mean mAP@50 of image -> name and name -> image retrieval, same group = relevant
    scores[name] = model.score(X_test, X_test["group"])
    print(f"{name}: held-out cross-modal mAP@50 = {scores[name]:.3f}")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.2), layout="constrained")
ax.barh(list(scores), list(scores.values()), color=["tab:green", "tab:olive"])
ax.set_xlim(0, 1)
ax.set_xlabel("held-out cross-modal mAP@50 (emoji groups)")
ax.set_title("Chinese names + pictures")

# %%
# Query the pictures with Chinese names
# -------------------------------------
# :meth:`~skmm.CommonSpaceEmbedder.retrieve` embeds the queries in one
# modality and the gallery in another and returns the nearest items. Here
# each held-out Chinese name queries the held-out pictures; the figure shows
# the five nearest pictures of four queries (their Chinese names are printed
# above, the English names label the rows). The space was trained on the
# emoji groups, so it brings a name near the pictures of its group (their
# similarity in green), not only near its own picture.
model = models["USE (multilingual)"]
queries = X_test.iloc[[0, 10, 20, 30]]
indices, similarities = model.retrieve(queries, "zh", X_test, "image", k=5)
fig, axes = plt.subplots(4, 6, figsize=(8, 5.6), layout="constrained")
for row, (query, hits, sims) in enumerate(zip(queries.itertuples(), indices, similarities)):
    print(f"query {query.text_zh!r} ({query.text}):",
          ", ".join(X_test["text_zh"].iloc[hits]))
    axes[row, 0].text(0.5, 0.5, query.text.replace(" ", "\n", 2), ha="center", va="center",
                      fontsize=9)
    axes[row, 0].axis("off")
    for ax, hit, sim in zip(axes[row, 1:], hits, sims):
        ax.imshow(X_test["image"].iloc[hit])
        same = X_test["group"].iloc[hit] == query.group
        ax.set_title(f"{sim:.2f}", fontsize=9, color="tab:green" if same else "tab:red")
        ax.axis("off")
fig.suptitle("Chinese name -> the 5 nearest held-out pictures (cosine similarity)")
plt.show()
