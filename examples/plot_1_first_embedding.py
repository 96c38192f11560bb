"""
A first embedding and its t-SNE map
===================================

Fit :class:`~skmm.CommonSpaceEmbedder` on emoji pictures and their English
names, read through the two pretrained towers (ImageNet EfficientNet-Lite0
for the pictures, the multilingual Universal Sentence Encoder for the
names), and draw the embedding with :func:`skmm.plotting.plot_embedding_map`.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# The data
# --------
# :func:`~skmm.datasets.load_emoji` returns one row per emoji: its picture
# (an RGB array), its English and Chinese names, its group and subgroup.
# We keep 40 emoji of each of the 9 groups so that the example runs in
# seconds.
from skmm.datasets import load_emoji

emoji = load_emoji(image_size=32)
X = emoji.groupby("group").head(40).reset_index(drop=True)
print(X.shape)
X[["text", "text_zh", "group", "subgroup"]].head()

# %%
# Fit the embedder
# ----------------
# The common space is supervised: it learns from classes, here the emoji
# groups, and places a picture and a name of the same group close to each
# other. At its defaults (each modality's encoder is the tower of its kind:
# :class:`~skmm.encoders.ImageTower` and :class:`~skmm.encoders.TextTower`)
# both modalities enter as the frozen towers' features, computed once per
# cell (a second fit reads them from :data:`skmm.towers.feature_cache`).
from skmm import CommonSpaceEmbedder

emb = CommonSpaceEmbedder(
    n_components=32,
    max_epochs=20,
    random_state=0,
)
Z = emb.fit_transform(X, X["group"])
print(Z.shape, Z.dtype)

# %%
# The training curve
# ------------------
# ``history_`` records every loss term per epoch;
# :func:`~skmm.plotting.plot_history` draws them.
from skmm.plotting import plot_embedding_map, plot_history

plot_history(emb.history_, title="training loss per epoch")

# %%
# A t-SNE map of the embedding
# ----------------------------
# :meth:`~skmm.CommonSpaceEmbedder.transform` returns one vector per row
# (the mean of the picture's and the name's embeddings), float32. Coloured by
# group, the map shows the groups the space was trained to separate.
plot_embedding_map(Z, X["group"], random_state=0, title="emoji: image + English name")

# %%
# The embedding is an ordinary feature matrix: cluster it, classify it, or
# query one modality with the other (see the example on unlabelled pairs and retrieval).
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

clusters = KMeans(9, n_init=10, random_state=0).fit_predict(Z)
print(f"NMI of KMeans clusters with the groups: "
      f"{normalized_mutual_info_score(X['group'], clusters):.2f}")
