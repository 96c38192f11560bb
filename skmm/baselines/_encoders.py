"""The encoders of the baseline classifiers: an encoder object, or None for their own network.

The baselines take the encoders of :mod:`skmm.encoders` where a branch reads a
column through one (a pretrained tower; the late fusion's recurrent text
encoder), and ``None`` (the default) for the classifier's own network, whose
settings are then the classifier's: the two-layer CNN, the late fusion's CNN
branch, the TF-IDF of the text SVM. No baseline gives a string a meaning of its
own: a shortcut means what :func:`skmm.encoders._base.resolve_encoder` says.
"""

from __future__ import annotations

import inspect

from skmm.encoders._base import check_reads
from skmm.encoders._resolve import resolve_encoder

__all__ = ["check_replaced", "resolve_branch"]


def resolve_branch(value, modality: str, rules: dict, *, estimator, parameter: str, own: str):
    """The encoder that ``value`` stands for, or None for the classifier's own network.

    Parameters
    ----------
    value : Encoder, str or None
        The value of the classifier's ``parameter``.
    modality : {"image", "text"}
    rules : dict
        ``{encoder class: the names of its parameters the classifier acts on, or "all"}``.
    own : str
        What None stands for, said in the error of an encoder not taken.
    estimator : object
        The classifier, for messages.
    parameter : str
        ``"image_encoder"`` or ``"text_encoder"``, for messages.

    Returns
    -------
    Encoder or None
        A new encoder object, validated, checked against ``rules``
        (:func:`~skmm.encoders._base.check_reads`), its ``"auto"`` settings
        resolved; None when the value is None.

    Raises
    ------
    ValueError
        An unknown shortcut or an encoder the classifier does not take (the
        message says what None means), or a setting of the encoder the
        classifier does not act on.
    """
    if value is None:
        return None
    try:
        encoder = resolve_encoder(value, modality, allowed=tuple(rules), estimator=estimator,
                                  parameter=parameter)
    except ValueError as err:
        raise ValueError(f"{err}; or None (the default): {own}") from None
    encoder._validate_params()
    check_reads(encoder, rules[type(encoder)], estimator=estimator, parameter=parameter)
    if hasattr(encoder, "resolve_auto"):
        encoder.resolve_auto()
    return encoder


def _same(value, default) -> bool:
    if isinstance(value, (tuple, list)) and isinstance(default, (tuple, list)):
        return list(value) == list(default)
    if value is default:
        return True
    try:
        return bool(value == default)
    except Exception:  # arrays, objects without a plain ==
        return False


def check_replaced(estimator, names, *, parameter: str, encoder, network: str) -> None:
    """Raise if a setting of the classifier's own ``network`` is set while ``encoder`` replaces it.

    Parameters
    ----------
    estimator : object
    names : iterable of str
        The classifier's parameters that only its own network reads.
    parameter : str
        The parameter that holds ``encoder``, for the message.
    encoder : Encoder or None
        None: the own network is used, nothing to check.
    network : str
        The own network, for the message (``"two-layer CNN"``).

    Raises
    ------
    ValueError
        One of ``names`` differs from its default; the message names it and
        the encoder that replaces the network.
    """
    if encoder is None:
        return
    defaults = {name: p.default for name, p in
                inspect.signature(type(estimator).__init__).parameters.items()}
    changed = [name for name in names if not _same(getattr(estimator, name), defaults[name])]
    if changed:
        settings = ", ".join(f"{name}={getattr(estimator, name)!r}" for name in changed)
        raise ValueError(
            f"{type(estimator).__name__}({settings}): {', '.join(changed)} "
            f"{'sets' if len(changed) == 1 else 'set'} the classifier's own {network}, which "
            f"{parameter}={type(encoder).__name__}(...) replaces; leave "
            f"{'it' if len(changed) == 1 else 'them'} at the default, or set {parameter}=None")
