"""skmm: scikit-learn compatible multimodal embeddings.

The estimators turn a pandas DataFrame with an image column and text columns
into one vector per row, with a PyTorch model trained through skorch:

* :class:`CRVAEEmbedder`: convolutional-recurrent variational autoencoder;
* :class:`MMEDAEmbedder`: multimodal encoder-decoder with matrix factorization;
* :class:`CommonSpaceEmbedder`: supervised common vector space of any number of
  modalities, for cross-modal retrieval;
* :class:`ZeroShotClassifier`: classes from their names, in a common space learned
  from the pairs alone.
"""

__version__ = "0.1.0"

__all__ = ["CRVAEEmbedder", "CommonSpaceEmbedder", "MMEDAEmbedder", "ZeroShotClassifier",
           "__version__"]

_LOCATIONS = {
    "CRVAEEmbedder": "skmm.embedders.crvae",
    "MMEDAEmbedder": "skmm.embedders.mmeda",
    "CommonSpaceEmbedder": "skmm.embedders.common_space",
    "ZeroShotClassifier": "skmm.zero_shot",
}


def __getattr__(name):
    # Imported lazily so that ``import skmm`` (and skmm.inputs, skmm.datasets)
    # stays fast and does not import torch until an embedder is used.
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'skmm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
