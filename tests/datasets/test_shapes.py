import numpy as np
import pytest
from PIL import Image
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmm.datasets import make_shapes
from skmm.datasets.shapes import COLORS, MOODS, SHAPES


def test_columns_and_types():
    frame = make_shapes(50, image_size=(24, 40), random_state=0)
    assert frame.shape == (50, 8)
    assert list(frame.columns[:3]) == ["image", "text", "label"]
    assert (frame["label"] == frame["shape"]).all()
    assert set(frame["shape"]) <= set(SHAPES) and set(frame["color"]) <= set(COLORS)
    assert set(frame["mood"]) <= set(MOODS) and set(frame["size"]) <= {"small", "big"}
    for img in frame["image"]:
        assert img.shape == (24, 40, 3) and img.dtype == np.uint8
        assert 0.02 < (img < 250).any(-1).mean() < 0.8  # a shape on a white background
    for row in frame.itertuples():
        assert row.color in row.text and row.mood in row.text  # the caption names both
        assert not any(shape in row.text for shape in SHAPES)  # ... but never the shape


@pytest.mark.parametrize("label, column", [("color", "color"), ("mood", "mood")])
def test_labels(label, column):
    frame = make_shapes(30, label=label, random_state=1)
    assert (frame["label"] == frame[column]).all()


def test_joint_label_definition():
    frame = make_shapes(200, label="joint", random_state=2)
    shape = frame["shape"].map(SHAPES.index)
    mood = frame["mood"].map(MOODS.index)
    assert (frame["label"] == (shape % 2) ^ (mood % 2)).all()
    assert set(frame["label"]) == {0, 1}


def test_deterministic_and_noise():
    a = make_shapes(20, label="joint", noise=0.1, random_state=3)
    b = make_shapes(20, label="joint", noise=0.1, random_state=3)
    c = make_shapes(20, label="joint", noise=0.1, random_state=4)
    np.testing.assert_array_equal(np.stack(a["image"]), np.stack(b["image"]))
    assert a.drop(columns="image").equals(b.drop(columns="image"))
    assert not a["text"].equals(c["text"])
    clean = make_shapes(20, label="joint", random_state=3)
    assert (clean["image"][0] == 255).mean() > (a["image"][0] == 255).mean()


@pytest.mark.parametrize("kwargs", [{"label": "size"}, {"n_samples": 0}, {"noise": -1}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        make_shapes(**kwargs)


def _mask_features(img, side=8):
    """Shift- and scale-invariant image features: the shape's mask cropped to its box."""
    mask = img.min(-1) < 200
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.uint8) * 255
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.BILINEAR)).ravel() / 255


def test_joint_label_needs_both_modalities():
    frame = make_shapes(400, label="joint", random_state=0)
    y = frame["label"].to_numpy()
    pixels = np.stack(frame["image"]).reshape(len(frame), -1) / 255
    masks = np.stack([_mask_features(img) for img in frame["image"]])
    words = CountVectorizer().fit_transform(frame["text"]).toarray()
    both = np.einsum("ni,nj->nij", masks, words).reshape(len(frame), -1)  # image x text
    train, test = train_test_split(np.arange(len(frame)), test_size=0.5, random_state=0, stratify=y)

    def accuracy(X, target=y):
        model = LogisticRegression(max_iter=2000).fit(X[train], target[train])
        return model.score(X[test], target[test])

    assert accuracy(masks, frame["shape"].to_numpy()) > 0.9  # the image shows the shape
    assert accuracy(pixels) < 0.65  # ... but the image alone does not tell the label,
    assert accuracy(masks) < 0.65
    assert accuracy(words) < 0.65  # nor does the caption alone,
    assert accuracy(both) > 0.9  # while image and caption together do.


def test_pair_label_needs_both_modalities():
    from sklearn.model_selection import cross_val_score

    from skmm.baselines import TextSVMClassifier

    X = make_shapes(400, image_size=16, label="pair", random_state=0)
    assert (X["label"] == X["shape"] + "-" + X["mood"]).all()
    assert X["label"].nunique() == 16
    # the caption names the mood, never the shape: at most about 1/4 from text alone
    text_only = cross_val_score(TextSVMClassifier(random_state=0), X, X["label"], cv=3).mean()
    assert 0.15 < text_only < 0.35
