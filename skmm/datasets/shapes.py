"""Generated pictures of coloured shapes with captions, for tests and tutorials."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COLORS", "MOODS", "SHAPES", "make_shapes"]

#: Shapes drawn in the images, in label order (the joint label uses index parity).
SHAPES = ("circle", "square", "triangle", "cross")
#: Palette of named colours (RGB); the colour is both drawn and written.
COLORS = {
    "red": (215, 40, 40),
    "green": (40, 150, 60),
    "blue": (40, 80, 215),
    "orange": (240, 140, 20),
    "purple": (140, 60, 175),
}
#: Moods: written in the caption, never drawn (the joint label uses index parity).
MOODS = ("calm", "angry", "sleepy", "happy")

_TEMPLATES = (
    "a {size} {color} thing, feeling {mood}",
    "something {color} and {size} that looks {mood}",
    "{mood} today: a {color} object",
    "this {size} {color} item seems {mood}",
)
_LABELS = ("shape", "color", "mood", "joint", "pair")
_SUPERSAMPLE = 4


def _draw(shape, color, center, radius, size):
    """Draw one antialiased shape on a white canvas of ``size`` (h, w)."""
    from PIL import Image, ImageDraw

    h, w = size
    k = _SUPERSAMPLE
    im = Image.new("RGB", (w * k, h * k), "white")
    pen = ImageDraw.Draw(im)
    (x, y), r = (center[0] * k, center[1] * k), radius * k
    if shape == "circle":
        pen.ellipse((x - r, y - r, x + r, y + r), fill=color)
    elif shape == "square":
        s = 0.85 * r
        pen.rectangle((x - s, y - s, x + s, y + s), fill=color)
    elif shape == "triangle":
        pen.polygon([(x, y - r), (x - r, y + 0.8 * r), (x + r, y + 0.8 * r)], fill=color)
    else:  # cross
        t = 0.3 * r
        pen.rectangle((x - r, y - t, x + r, y + t), fill=color)
        pen.rectangle((x - t, y - r, x + t, y + r), fill=color)
    return np.asarray(im.resize((w, h), Image.Resampling.LANCZOS), dtype=np.uint8)


def make_shapes(n_samples=300, image_size=32, *, label="shape", noise=0.0, random_state=None):
    """Generate pictures of coloured shapes with captions.

    Each row is one shape (circle, square, triangle or cross) in one of five
    colours, at a random position and size, drawn on a white background. The
    caption names the colour, often the size ("small" / "big") and a mood
    (calm, angry, sleepy, happy) that the picture does not show, in one of a
    few templates, e.g. ``"a small red thing, feeling calm"``. The caption
    never names the shape.

    So the five labels test different things:

    - ``"shape"``: only the image tells;
    - ``"mood"``: only the caption tells;
    - ``"color"``: both tell;
    - ``"joint"``: neither alone tells, both together do. The label is
      ``(shape index % 2) XOR (mood index % 2)`` with the orders of
      :data:`SHAPES` and :data:`MOODS`: given the shape, the mood decides it,
      and given the mood, the shape does, so a model must fuse the modalities
      to beat chance (0.5). No linear head can learn it from a representation
      that adds an image part and a text part: report it with a non-linear
      head (e.g. a random forest) too;
    - ``"pair"``: ``shape + "-" + mood``, 16 classes; the fusion test. The
      picture tells the shape and only the caption the mood, so each
      modality alone tops out at 0.25 accuracy, while an embedding that
      carries both can reach far above it with a linear head.

    Parameters
    ----------
    n_samples : int, default=300
        Number of rows.
    image_size : int or tuple of (int, int), default=32
        Height and width of the images; an int gives a square.
    label : {"shape", "color", "mood", "joint", "pair"}, default="shape"
        What the ``label`` column holds.
    noise : float, default=0.0
        Standard deviation of Gaussian pixel noise, as a fraction of 255.
    random_state : int, RandomState instance or None, default=None
        Seed; the same seed gives the same frame.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``image`` (uint8 arrays, height x width x 3), ``text`` (the
        caption), ``label`` (str, or int 0/1 for ``"joint"``) and the
        generating attributes ``shape``, ``color``, ``mood``, ``size``
        ("small" or "big") and ``radius`` (pixels).

    Examples
    --------
    >>> from skmm.datasets import make_shapes
    >>> frame = make_shapes(4, label="joint", random_state=0)
    >>> frame.shape
    (4, 8)
    >>> frame["image"][0].shape
    (32, 32, 3)
    """
    if label not in _LABELS:
        raise ValueError(f"label must be one of {_LABELS}, got {label!r}")
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    h, w = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if min(h, w) < 8:
        raise ValueError(f"image_size must be at least 8 pixels, got {image_size!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)

    shape_idx = rng.randint(len(SHAPES), size=n_samples)
    mood_idx = rng.randint(len(MOODS), size=n_samples)
    color_names = np.array(list(COLORS))[rng.randint(len(COLORS), size=n_samples)]
    radius = rng.uniform(0.22, 0.4, size=n_samples) * min(h, w)
    cx = rng.uniform(radius, w - radius)
    cy = rng.uniform(radius, h - radius)
    template = rng.randint(len(_TEMPLATES), size=n_samples)
    sizes = np.where(radius < 0.31 * min(h, w), "small", "big")

    images = []
    for i in range(n_samples):
        img = _draw(SHAPES[shape_idx[i]], COLORS[color_names[i]], (cx[i], cy[i]), radius[i], (h, w))
        if noise > 0:
            img = np.clip(img + rng.normal(0.0, noise * 255, img.shape), 0, 255).astype(np.uint8)
        images.append(img)
    shapes = np.array(SHAPES)[shape_idx]
    moods = np.array(MOODS)[mood_idx]
    text = [
        _TEMPLATES[t].format(size=s, color=c, mood=m)
        for t, s, c, m in zip(template, sizes, color_names, moods)
    ]
    labels = {
        "shape": shapes,
        "color": color_names,
        "mood": moods,
        "joint": (shape_idx % 2) ^ (mood_idx % 2),
        "pair": np.char.add(np.char.add(shapes.astype(str), "-"), moods.astype(str)),
    }[label]
    return pd.DataFrame(
        {
            "image": images,
            "text": text,
            "label": labels,
            "shape": shapes,
            "color": color_names,
            "mood": moods,
            "size": sizes,
            "radius": radius,
        }
    )
