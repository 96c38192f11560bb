"""
Zero-shot classification from class names
=========================================

A common space learned from pairs alone (a picture and its caption per row,
no labels) can classify without a single labelled row: each class's name is
embedded like a caption, and each picture goes to the class whose name lies
nearest, as CLIP's zero-shot classifier does.
:class:`~skmm.ZeroShotClassifier` does this on top of
:class:`~skmm.CommonSpaceEmbedder`.

Here the classes are the 9 groups of the emoji. The space never sees a group:
it learns from the pairs of glyph and English name of the training rows, and
the groups of the held-out rows only score the predictions.
"""

# %%
# Pairs, and the groups kept for scoring
# --------------------------------------
# The training rows give their pictures and names; the held-out rows' groups
# are the truth the predictions are scored against.
from sklearn.model_selection import train_test_split

from skmm.datasets import load_emoji

emoji = load_emoji(image_size=32)
X_train, X_test = train_test_split(emoji, test_size=0.25, random_state=0)
X_train = X_train[["image", "text"]]  # pairs only: no group column
y_test = X_test["group"]
print(len(X_train), "training pairs,", len(X_test), "held-out glyphs,",
      y_test.nunique(), "groups")

# %%
# The classes, by name
# --------------------
# ``classes`` is a list of labels, each also its name, or ``{label: name}``.
# Unicode's group names ("Smileys & Emotion", "Objects", ...) say little of
# what a glyph shows; a few plain words per group, written once from the
# group names (``skmm.datasets.EMOJI_GROUP_DESCRIPTIONS``), say more.
from skmm.datasets import EMOJI_GROUP_DESCRIPTIONS as SHORT_NAMES

print(SHORT_NAMES)

# %%
# Fit on the pairs, predict the groups
# ------------------------------------
# ``fit(X)`` fits a clone of the space on the pairs of ``X`` without labels
# (the symmetric InfoNCE of :doc:`the unlabelled pairs
# <plot_3_unlabelled_pairs>`, on the frozen pretrained towers), then embeds
# each class name like a caption. Guessing gives a macro-F1 of about 0.10.
from sklearn.metrics import f1_score

from skmm import CommonSpaceEmbedder, ZeroShotClassifier

clf = ZeroShotClassifier(CommonSpaceEmbedder(random_state=0), classes=SHORT_NAMES)
clf.fit(X_train)  # no y
pred = clf.predict(X_test)
print(f"held-out macro-F1 (short names): {f1_score(y_test, pred, average='macro'):.3f}")

# %%
# The same space with Unicode's group names: a fitted space is used as it is,
# so only the names are embedded again.
unicode_names = ZeroShotClassifier(clf.space_, classes=list(SHORT_NAMES)).fit(X_train)
pred_unicode = unicode_names.predict(X_test)
print(f"held-out macro-F1 (Unicode's names): "
      f"{f1_score(y_test, pred_unicode, average='macro'):.3f}")

# %%
# ``predict_proba`` is the softmax of the cosine similarities at the space's
# learned temperature (``temperature_``):
import pandas as pd

proba = pd.DataFrame(clf.predict_proba(X_test.iloc[:3]), columns=clf.classes_,
                     index=X_test["text"].iloc[:3]).round(2)
print(f"temperature {clf.temperature_:.3f}")
print(proba.to_string())

# %%
# Which groups it confuses
# ------------------------
# Each row of the matrix is a true group, normalised to sum to 1.
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

fig, ax = plt.subplots(figsize=(7.5, 6.5), layout="constrained")
ConfusionMatrixDisplay.from_predictions(
    y_test, pred, labels=clf.classes_,
    display_labels=[SHORT_NAMES[c] for c in clf.classes_],
    normalize="true", values_format=".2f", colorbar=False,
    xticks_rotation=45, ax=ax)
ax.set_xlabel("predicted (nearest class name)")
ax.set_ylabel("true group")
ax.set_title(f"zero-shot emoji groups, {len(X_test)} held-out glyphs")
plt.show()
