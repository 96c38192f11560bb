"""What every encoder shares (a leaf module: the encoders and the inputs import it).

An encoder is a scikit-learn estimator that carries the settings of how one
column becomes input to an embedder's model (see :mod:`skmm.encoders`). Its
class says what it is through :attr:`Encoder.modality` (``"image"`` or
``"text"``) and :attr:`Encoder.role` (how the model reads it); no code tests an
encoder's name.
"""

from __future__ import annotations

import inspect

from sklearn.base import BaseEstimator

__all__ = ["PASSTHROUGH", "SHORTCUTS", "Encoder", "check_reads", "encoder_role"]

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


#: The documented string shortcuts of each modality (each stands for an encoder class at
#: its defaults: :func:`skmm.encoders._resolve.resolve_encoder`), plus :data:`PASSTHROUGH`.
SHORTCUTS = {"image": ("efficientnet_lite0", "cnn"), "text": ("use", "recurrent", "mean", "tfidf")}
