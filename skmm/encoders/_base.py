"""What every encoder shares, and the one place where a shortcut becomes an encoder.

An encoder is a scikit-learn estimator that carries the settings of how one
column becomes input to an embedder's model (see :mod:`skmm.encoders`). Its
class says what it is through :attr:`Encoder.modality` (``"image"`` or
``"text"``) and :attr:`Encoder.role` (how the model reads it); no code tests an
encoder's name.
"""

from __future__ import annotations

import inspect

from sklearn.base import BaseEstimator

__all__ = ["PASSTHROUGH", "SHORTCUTS", "Encoder", "check_reads", "encoder_role",
           "resolve_encoder"]

#: The encoder of a column of precomputed vectors (one 1-D array per cell).
PASSTHROUGH = "passthrough"


class Encoder(BaseEstimator):
    """Base class of the encoders of :mod:`skmm.encoders` (not for direct use).

    ``modality`` is the kind of column the encoder reads; ``role`` tells an
    embedder how its model takes the encoder's output:

    - ``"tower"``: fixed vectors of a frozen pretrained tower, computed once
      per cell (:class:`ImageTower`, :class:`TextTower`);
    - ``"cnn"``: the papers' conv blocks, trained (:class:`ConvEncoder`);
    - ``"module"``: a torch module's features, frozen or fine-tuned
      (:class:`ModuleEncoder`);
    - ``"words"``: token ids over word vectors, pooled or recurrent
      (:class:`MeanWordEncoder`, :class:`RecurrentTextEncoder`);
    - ``"matrix"``: a per-text feature matrix (:class:`TextMatrix`).
    """

    modality: str = ""
    role: str = ""

    @classmethod
    def _defaults(cls) -> dict:
        return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}


def encoder_role(encoder) -> str:
    """``encoder.role``, ``"vector"`` for :data:`PASSTHROUGH`."""
    return "vector" if isinstance(encoder, str) and encoder == PASSTHROUGH else encoder.role


def _differs(value, default) -> bool:
    if value is default:
        return False
    try:
        return bool(value != default)
    except Exception:  # arrays, objects without a plain ==
        return True


def check_reads(encoder, reads, *, estimator, parameter: str) -> None:
    """Raise if ``encoder`` has a setting that ``estimator`` would not act on.

    Parameters
    ----------
    encoder : Encoder or str
    reads : iterable of str or "all"
        The parameters of ``encoder`` the estimator acts on.
    estimator : object
        For the message.
    parameter : str
        The estimator's parameter that holds ``encoder`` (``"text_encoder"``,
        ``"modalities['zh']"`` ...), for the message.

    Raises
    ------
    ValueError
        A parameter outside ``reads`` is set to another value than its
        default; the message names it, the estimator and what it reads.
    """
    if isinstance(encoder, str) or reads == "all":
        return
    reads = set(reads)
    defaults = type(encoder)._defaults()
    ignored = sorted(name for name, value in encoder.get_params(deep=False).items()
                     if name not in reads and name in defaults
                     and _differs(value, defaults[name]))
    if ignored:
        name = ignored[0]
        raise ValueError(
            f"{parameter}={type(encoder).__name__}({name}={getattr(encoder, name)!r}): "
            f"{type(estimator).__name__} does not act on {type(encoder).__name__}'s "
            f"{', '.join(ignored)}; leave {'it' if len(ignored) == 1 else 'them'} at the "
            f"default (it reads {', '.join(sorted(reads)) or 'none of its settings'})")


def _shortcuts() -> dict:
    from skmm.encoders.towers import ImageTower, TextTower
    from skmm.encoders.trained import (
        ConvEncoder,
        MeanWordEncoder,
        RecurrentTextEncoder,
        TextMatrix,
    )

    return {"image": {"efficientnet_lite0": ImageTower, "cnn": ConvEncoder},
            "text": {"use": TextTower, "recurrent": RecurrentTextEncoder,
                     "mean": MeanWordEncoder, "tfidf": TextMatrix}}


#: The documented string shortcuts of each modality: ``{modality: {name: encoder class}}``
#: (each stands for the class at its defaults), plus :data:`PASSTHROUGH`.
SHORTCUTS = {"image": ("efficientnet_lite0", "cnn"), "text": ("use", "recurrent", "mean", "tfidf")}


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
    from skmm.encoders.trained import ModuleEncoder

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
        classes = _shortcuts()[modality]
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
