"""Baselines to compare the multimodal embedders with.

* :mod:`skmm.baselines.features`: the image and the text feature blocks
  (:class:`ImageFeatures`, :class:`skmm.inputs.TextFeatures`).
* :mod:`skmm.baselines.factorization`: early fusion, collective matrix
  factorization and autoencoder matrix factorization of the two blocks.
* :mod:`skmm.baselines.autoencoders`: a conv autoencoder of images, trained
  with skorch.
* :mod:`skmm.baselines.classifiers`: the text classifier (TF-IDF, or
  multilingual sentence vectors, + LinearSVC) and the early-fusion
  one-liner :func:`make_tfidf_pca_fusion` (TF-IDF + pixel PCA, one
  LinearSVC).
* :mod:`skmm.baselines.cca`: :class:`TowerCCA`, CCA of the frozen towers'
  features of an image and a text column, the paired-retrieval baseline.
* :mod:`skmm.baselines.neural`: the neural classifiers, an image CNN and
  LSTM + CNN late fusion, whose branches may be frozen pretrained towers
  (EfficientNet-Lite0, the Universal Sentence Encoder).

Imported lazily: ``import skmm.baselines`` does not import torch.
"""

_LOCATIONS = {
    "CollectiveMF": "factorization",
    "ConvAutoencoder": "autoencoders",
    "AutoencoderMF": "factorization",
    "ImageFeatures": "features",
    "EarlyFusion": "factorization",
    "TextSVMClassifier": "classifiers",
    "TowerCCA": "cca",
    "ImageCNNClassifier": "neural",
    "LateFusionClassifier": "neural",
    "make_tfidf_pca_fusion": "classifiers",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name):
    if name in _LOCATIONS:
        import importlib

        module = importlib.import_module(f"skmm.baselines.{_LOCATIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'skmm.baselines' has no attribute {name!r}")
