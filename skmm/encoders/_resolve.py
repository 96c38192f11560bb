"""The one place where an encoder parameter's value becomes an encoder object.

A shortcut string (:data:`skmm.encoders._base.SHORTCUTS`) stands for an encoder
class at its defaults, a torch module for a frozen
:class:`~skmm.encoders.ModuleEncoder`; an encoder object is copied with its
settings. No other code tests an encoder's name.
"""

from __future__ import annotations

from skmm.encoders._base import PASSTHROUGH, SHORTCUTS, Encoder
from skmm.encoders.towers import ImageTower, TextTower
from skmm.encoders.trained import (
    ConvEncoder,
    MeanWordEncoder,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextMatrix,
)

__all__ = ["resolve_encoder"]

#: The class each shortcut of :data:`SHORTCUTS` stands for.
_CLASSES = {"image": {"efficientnet_lite0": ImageTower, "cnn": ConvEncoder},
            "text": {"use": TextTower, "recurrent": RecurrentTextEncoder,
                     "mean": MeanWordEncoder, "tfidf": TextMatrix}}
assert {m: tuple(c) for m, c in _CLASSES.items()} == SHORTCUTS


def resolve_encoder(value, modality: str, *, allowed: tuple, estimator, parameter: str):
    """The encoder object that ``value`` stands for: a new, unfitted one.

    Parameters
    ----------
    value : Encoder, str or torch.nn.Module
        An encoder (a new one with the same settings), a shortcut of :data:`SHORTCUTS` or
        :data:`PASSTHROUGH`, or (images) a torch module, which becomes a
        frozen :class:`~skmm.encoders.ModuleEncoder`.
    modality : {"image", "text"}
    allowed : tuple of type
        The encoder classes the estimator takes (``str`` admits
        :data:`PASSTHROUGH`).
    estimator, parameter
        For messages.

    Returns
    -------
    Encoder or "passthrough"

    Raises
    ------
    ValueError
        An unknown shortcut, an encoder of the other modality, or one the
        estimator does not take.
    """
    from skmm._params import is_torch_module

    name = type(estimator).__name__
    takes = [c.__name__ for c in allowed if c is not str]
    if str in allowed:
        takes.append(repr(PASSTHROUGH))
    if isinstance(value, str):
        if value == PASSTHROUGH:
            if str not in allowed:
                raise ValueError(f"{name}: {parameter}={PASSTHROUGH!r} is not taken here; "
                                 f"it takes {', '.join(takes)}")
            return value
        classes = _CLASSES[modality]
        if value not in classes:
            raise ValueError(f"{name}: {parameter}={value!r} is no {modality} encoder; the "
                             f"shortcuts are {sorted(classes)} and {PASSTHROUGH!r}, or pass "
                             "an encoder object of skmm.encoders")
        encoder = classes[value]()
    elif is_torch_module(value) and modality == "image":
        encoder = ModuleEncoder(value)
    elif isinstance(value, Encoder):
        # a new object with the same settings; unlike clone, it shares what they hold
        # (a module, word vectors): fit copies a module once, for the model
        encoder = type(value)(**value.get_params(deep=False))
    else:
        raise ValueError(f"{name}: {parameter} must be an encoder of skmm.encoders or a "
                         f"shortcut string; got {type(value).__name__}")
    if encoder.modality != modality:
        raise ValueError(f"{name}: {parameter}={type(encoder).__name__}(...) encodes "
                         f"{encoder.modality}s, not {modality}s")
    if not isinstance(encoder, tuple(c for c in allowed if c is not str)):
        raise ValueError(f"{name}: {parameter}={type(encoder).__name__}(...) is not taken by "
                         f"{name}; it takes {', '.join(takes)}")
    return encoder
