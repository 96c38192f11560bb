"""skmm: scikit-learn compatible multimodal embeddings.

The estimators turn a pandas DataFrame with an image column and a text column
into one vector per row, with a PyTorch model trained through skorch.
"""

__version__ = "0.1.0"

__all__ = ["CRVAEEmbedder", "__version__"]


def __getattr__(name):
    # Imported lazily so that ``import skmm`` (and skmm.inputs, skmm.datasets)
    # stays fast and does not import torch until an embedder is used.
    if name == "CRVAEEmbedder":
        from skmm.embedders.crvae import CRVAEEmbedder

        return CRVAEEmbedder
    raise AttributeError(f"module 'skmm' has no attribute {name!r}")
