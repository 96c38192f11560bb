"""ConvAutoencoder: a convolutional autoencoder over an image column (MMEDA's AE0).

Its codes are image features, also used inside the other baselines
(:class:`skmm.baselines.features.ImageFeatures` with ``image_features="convae"``).
"""

from __future__ import annotations

import torch

from skmm._base import BaseEmbedder, image_variance
from skmm._params import TRAINING, constraints, fill_doc
from skmm.inputs import as_size, load_images
from skmm.nn.mmeda import ImageAutoencoder

__all__ = ["ConvAutoencoder"]


# ---------------------------------------------------------------------------
# Conv autoencoder
# ---------------------------------------------------------------------------


@fill_doc
class ConvAutoencoder(BaseEmbedder):
    """A convolutional autoencoder over an image column; ``transform`` gives its codes.

    Three conv blocks (:class:`skmm.nn.encoders.ConvEncoder`), a linear code,
    and a mirrored deconvolution decoder, trained on the pixel MSE with
    skorch (:class:`skmm.training.MultimodalNet`). The AE0 of MMEDA on its
    own: an image feature extractor for the baselines.

    Parameters
    ----------
    image_col : str, default="image"
        Column of images (paths, bytes, PIL images or arrays).
    %(image_size:32)s
    n_components : int, default=32
        Width of the code.
    conv_channels : int, default=16
        Filters of each conv block.
    %(max_epochs:20)s
    %(batch_size)s
    %(lr:1e-3)s
    %(validation_fraction)s
    %(device)s
    %(precision:"float32")s
    %(n_threads)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
    image_size_ : (int, int)
    reconstruction_scale_ : dict of str to float
        The variance, in the training data, of what each term of
        :meth:`score` rebuilds (pixels in [0, 1], word vectors or the text
        matrix): the errors are divided by it.
    history_ : skorch.history.History
        ``train_loss`` and ``train_image`` per epoch.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmm.baselines import ConvAutoencoder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(32, image_size=16, random_state=0)
    >>> ConvAutoencoder(image_size=16, n_components=4, max_epochs=1,
    ...                 random_state=0).fit_transform(X).shape
    (32, 4)
    """

    _parameter_constraints = constraints(
        "image_col", "image_size", "n_components", "conv_channels", *TRAINING, "precision",
        "n_threads", "random_state", "verbose")

    def __init__(self, image_col="image", *, image_size=32, n_components=32, conv_channels=16,
                 max_epochs=20, batch_size=64, lr=1e-3, validation_fraction=None, device="auto",
                 precision="float32", n_threads=None, random_state=None,
                 verbose=0):
        self.image_col = image_col
        self.image_size = image_size
        self.n_components = n_components
        self.conv_channels = conv_channels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _columns(self):
        return [self.image_col]

    def _prepare(self, X, *, fitting: bool, state: dict | None = None) -> dict:
        size = as_size(self.image_size) if fitting else self.image_size_
        images = load_images(X[self.image_col], column=self.image_col, mode="RGB", size=size,
                             verbose=self.verbose)
        if fitting:
            state["image_size_"] = size
            state["reconstruction_scale_"] = {"image": image_variance(images)}
        return {"image": torch.from_numpy(images)}

    _score_terms = ("image",)

    def _build_module(self, data: dict, state: dict) -> ImageAutoencoder:
        return ImageAutoencoder((3, *state["image_size_"]), self.conv_channels, self.n_components)

    @staticmethod
    def _encode_batch(module, batch):
        return module.encode(batch["image"])
