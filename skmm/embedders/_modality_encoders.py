"""The modalities of the common space: each a column and its encoder.

:class:`ModalityEncodersMixin` holds what :class:`~skmm.CommonSpaceEmbedder`
does with the encoders of its ``modalities`` (one per modality, see
:mod:`skmm.encoders`): it resolves them against a table (kinds inferred from
the cells, shortcuts turned into encoder objects, settings the common space
would not act on refused), builds each modality's branch from its encoder,
and refuses the embedder's settings that would not act in a fit.
"""

from __future__ import annotations

import inspect
from numbers import Real

import pandas as pd

from skmm import _params
from skmm._params import is_torch_module
from skmm.encoders import (
    ConvEncoder,
    ImageTower,
    MeanWordEncoder,
    ModuleEncoder,
    RecurrentTextEncoder,
    TextTower,
)
from skmm.inputs.modalities import mostly_cjk, parse_modalities, resolve_modalities
from skmm.inputs.tokenizers import WORDLLAMA
from skmm.nn.common_space import ModalityBranch, make_encoder
from skmm.training.features import PortableModule

__all__ = ["DEFAULT_ENCODERS", "SUPERVISED_ONLY", "ModalityEncodersMixin", "same_encoder"]

#: The encoder of a modality given by its column or kind alone (shortcuts of
#: :mod:`skmm.encoders`): the frozen pretrained towers, precomputed vectors as they are.
DEFAULT_ENCODERS = {"image": "efficientnet_lite0", "text": "use", "vector": "passthrough"}

#: How the model reads a column, by the role of its encoder.
INPUTS = {"tower": "vector", "vector": "vector", "cnn": "image", "module": "image",
          "words": "text"}
#: What the common space acts on, per kind: ``{encoder class or str: its parameters}``.
_RULES = {
    "image": {ImageTower: "all", ConvEncoder: "all", ModuleEncoder: "all"},
    "text": {TextTower: "all", MeanWordEncoder: "all",
             RecurrentTextEncoder: tuple(n for n in RecurrentTextEncoder._defaults()
                                         if n not in RecurrentTextEncoder.DECODER)},
    "vector": {str: "all"},
}
#: The parameters that act only with labels (the supervised objective).
SUPERVISED_ONLY = ("ce_weight", "triplet_weight", "pair_weight", "gammas", "margins",
                   "items_per_class", "attention", "partner_dropout")
#: ``pair_weight="auto"`` with labels and at least two modalities (the pairing term's
#: weight beside the class terms; measured: the user guide's "Labels and pairs").
AUTO_PAIR_WEIGHT = 2.0
#: A tower's settings that follow the embedder's (not compared between stages).
_INHERITED = ("column", "device", "precision", "n_threads", "verbose")


def _same_setting(a, b) -> bool:
    """Equal values; objects (modules, loaded vectors, callables) by their class."""
    if type(a) is not type(b):
        return False
    if a is None or isinstance(a, str | int | float | bool | tuple):
        return a == b
    return True


def same_encoder(a, b) -> bool:
    """Whether two resolved encoders have the same settings (a tower's inherited
    infrastructure aside)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if type(a) is not type(b):
        return False
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return all(_same_setting(pa[k], pb[k]) for k in pa if k not in _INHERITED)


class ModalityEncodersMixin:
    """The per-modality encoders of :class:`~skmm.CommonSpaceEmbedder` (not for direct use)."""

    def _validate_params(self):
        super()._validate_params()
        for name, size in (("gammas", 3), ("margins", 2)):
            value = getattr(self, name)
            if len(value) != size or not all(
                    isinstance(v, Real) and not isinstance(v, bool) and v >= 0
                    for v in value):
                raise ValueError(f"{type(self).__name__}: {name} must be a tuple of {size} "
                                 f"non-negative numbers; got {value!r}")

    def __getstate__(self):
        state = super().__getstate__()
        modalities = state.get("modalities")
        if isinstance(modalities, dict) and any(
                isinstance(v, tuple | list) and len(v) == 2 and is_torch_module(v[1])
                for v in modalities.values()):  # a user's module: loadable without CUDA
            state = {**state, "modalities": {
                m: type(v)([v[0], PortableModule(v[1])]) if isinstance(v, tuple | list)
                and len(v) == 2 and is_torch_module(v[1]) else v
                for m, v in modalities.items()}}
        return state

    def _modality_encoder(self, m: str, spec: dict):
        """The encoder of modality ``m`` (a resolved spec: its kind known), new and unfitted
        (:meth:`~skmm._encoding.EncoderMixin._resolve_encoder`)."""
        kind = spec["kind"]
        return self._resolve_encoder(spec.get("encoder", DEFAULT_ENCODERS[kind]),
                                     "image" if kind == "vector" else kind, _RULES[kind],
                                     f"modalities[{m!r}]")

    def _resolve_auto(self) -> dict:
        """The encoders of the modalities whose kind is given (the others need the data:
        :meth:`_resolve_modalities`), and ``lr_`` when they are all known."""
        resolved = super()._resolve_auto()
        specs = parse_modalities(self.modalities)
        resolved["encoders_"] = {m: self._modality_encoder(m, s) for m, s in specs.items()
                                 if "kind" in s}
        if len(resolved["encoders_"]) == len(specs):
            resolved["lr_"] = self._auto_lr(resolved["encoders_"])
        return resolved

    def _auto_lr(self, encoders: dict) -> float:
        """``lr``; ``"auto"``: 3e-4 with labels, a frozen tower and no pairing term
        (``pair_weight`` 0), 1e-3 otherwise."""
        if self.lr != "auto":
            return self.lr
        towered = any(self._role(e) == "tower" for e in encoders.values())
        return 3e-4 if towered and not self._learns_pairs(len(encoders)) else 1e-3

    def _learns_pairs(self, n_modalities: int) -> bool:
        """Whether the fit learns the pairing of the rows: without labels, or with a
        pairing term beside them."""
        return not self._supervised or self._pair_weight(n_modalities) > 0

    def _resolve_modalities(self, X: pd.DataFrame, known=None) -> tuple[dict, dict]:
        """``({name: {"column", "kind"}}, {name: encoder})``: the modalities of
        ``modalities`` resolved against ``X`` (:func:`~skmm.inputs.modalities.
        resolve_modalities`), each encoder a new, unfitted one (those of ``known``
        resolved before)."""
        specs, encoders, known = {}, {}, known or {}
        for m, spec in resolve_modalities(self.modalities, X).items():
            column = spec["column"]
            encoder = known[m] if m in known else self._modality_encoder(m, spec)
            if (self._role(encoder) == "words" and isinstance(encoder.tokenizer, str)
                    and encoder.tokenizer == "english" and not (
                        isinstance(encoder.word_vectors, str)
                        and encoder.word_vectors == WORDLLAMA)
                    and mostly_cjk(X[column])):
                raise ValueError(
                    f"{type(self).__name__}: modality {m!r}: most texts of column {column!r} "
                    f"are Chinese, Japanese or Korean, which {type(encoder).__name__}("
                    "tokenizer='english') cannot split into words (each text would be one "
                    "word); give the encoder tokenizer='jieba' (Chinese) or a callable")
            specs[m] = {"column": column, "kind": spec["kind"]}
            encoders[m] = encoder
        towers = {}
        for m, encoder in encoders.items():  # one standardisation per towered column
            if self._role(encoder) == "tower":
                first = towers.setdefault(specs[m]["column"], (m, encoder))
                if not same_encoder(first[1], encoder):
                    raise ValueError(f"{type(self).__name__}: modalities {first[0]!r} and "
                                     f"{m!r} read column {specs[m]['column']!r} through "
                                     "different towers; give one column to each")
        return specs, encoders

    def _encoders(self) -> dict:
        """The resolved encoders: the fit's (or stage's) in one, else the fitted ones."""
        return self._resolved("encoders")

    def _image_encoders(self) -> list:
        return [e for e in self._encoders().values() if INPUTS[self._role(e)] == "image"]

    def _auto_steps(self) -> int | None:
        """:data:`~skmm._params.AUTO_VECTOR_STEPS` when every modality enters as fixed
        vectors (frozen towers or precomputed), else None (the default cap)."""
        roles = {self._role(e) for e in self._encoders().values()}
        return _params.AUTO_VECTOR_STEPS if roles <= {"vector", "tower"} else None

    def _check_settings(self, supervised: bool, n_modalities: int) -> None:
        """Refuse a setting that would not act in this fit."""
        name = type(self).__name__
        defaults = {k: p.default for k, p in inspect.signature(type(self)).parameters.items()}

        def refuse(params, why):
            for p in params:
                if getattr(self, p) != defaults[p]:
                    raise ValueError(f"{name}({p}={getattr(self, p)!r}): {why}; leave it at "
                                     f"the default {defaults[p]!r}")

        if not supervised:
            refuse(SUPERVISED_ONLY, "it acts only with labels, and fit(X) without y learns "
                                    "from the pairing of the rows (the contrastive objective)")
            return
        if not self.attention:
            refuse(["partner_dropout"], "it drops partners in the attention blocks, and "
                                        "attention=False builds none")
        if self.triplet_weight == 0:
            refuse(["gammas", "margins"], "it weighs the triplet terms, and "
                                          "triplet_weight=0 switches them off")
        if n_modalities == 1 and self.strategy == "cvs":
            refuse(["attention", "partner_dropout"], "one modality has no attention block")
            refuse(["pair_weight"], "it weighs the pairing of a row's modalities, and "
                                    "modalities has one")
            if tuple(self.gammas[1:]) != defaults["gammas"][1:] or \
                    self.margins[1] != defaults["margins"][1]:
                raise ValueError(f"{name}(gammas={self.gammas!r}, margins={self.margins!r}): "
                                 "gammas[1], gammas[2] and margins[1] weigh and bound the "
                                 "terms of other modalities, and modalities has one; leave "
                                 "them at the defaults")

    def _pair_weight(self, n_modalities: int) -> float:
        """``pair_weight``; ``"auto"``: :data:`AUTO_PAIR_WEIGHT` with labels and at least
        two modalities, 0 otherwise (the value of a fit is ``pair_weight_``)."""
        if self.pair_weight != "auto":
            return float(self.pair_weight)
        return AUTO_PAIR_WEIGHT if self._supervised and n_modalities >= 2 else 0.0

    def _loss_settings(self, n_modalities: int) -> dict:
        """The loss weights and margins of the module (refreshed at each stage), for
        ``n_modalities`` modalities."""
        return dict(ce_weight=self.ce_weight, triplet_weight=self.triplet_weight,
                    pair_weight=self._pair_weight(n_modalities),
                    gamma1=self.gammas[0], gamma2=self.gammas[1], gamma3=self.gammas[2],
                    margin_intra=self.margins[0], margin_inter=self.margins[1],
                    partner_dropout=self.partner_dropout)

    def _branch(self, m, encoder, tokenizers, vector_sizes, data):
        """The branch of modality ``m``: its encoder's module, then the layers into the space."""
        role = self._role(encoder)
        kind, size = INPUTS[role], self._image_size(encoder)
        image_encoder = None
        if role == "module":
            image_encoder = self._image_feature_encoder(
                data[f"{m}__image"], (3, *size), data, f"{m}__features", data[f"{m}__mask"],
                encoder=encoder)
            if not image_encoder.fine_tune:  # its cached features stand for the images
                del data[f"{m}__image"]
        text = {}
        if isinstance(encoder, RecurrentTextEncoder):
            text = dict(text_encoder=encoder.cell, hidden_size=encoder.hidden_size,
                        num_layers=encoder.num_layers, bidirectional=encoder.bidirectional,
                        mean_pooling=encoder.mean_pooling_)
        module = make_encoder(
            kind, image_shape=(3, *size) if size else None,
            conv_channels=encoder.channels if role == "cnn" else 16,
            vectors=tokenizers[m].vectors_ if role == "words" else None,
            n_features=vector_sizes.get(m), image_encoder=image_encoder,
            fine_tune_word_vectors=role == "words" and encoder.fine_tune, **text)
        # where the pairing is learned, a frozen tower's features are also dropped out at
        # the input
        pairs = self._learns_pairs(len(self._encoders()))
        input_dropout = self.dropout if role == "tower" and pairs else 0.0
        return ModalityBranch(kind, module, self.hidden_size, self.n_components,
                              dropout=self.dropout, input_dropout=input_dropout)

