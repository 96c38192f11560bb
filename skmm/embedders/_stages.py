"""Training the common space in stages: ``partial_fit`` (M-CVS, RVS, new classes).

:class:`StagesMixin` holds what :class:`~skmm.CommonSpaceEmbedder` adds to the
one fit sequence for stage-wise training: the seeds of each stage, the record
of each stage (``stages_``), and ``partial_fit``, which adds the branches of
new modalities (or continues on new classes) with everything trained before
frozen.
"""

from __future__ import annotations

import copy
from numbers import Integral

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state

from skmm._base import check_labels
from skmm.embedders._modality_encoders import same_encoder
from skmm.inputs import check_frame
from skmm.inputs.checks import set_input_features
from skmm.nn.encoders import ImageFeatureEncoder
from skmm.training import torch_seed, unwrap

__all__ = ["StagesMixin"]


class StagesMixin:
    """The stages of :class:`~skmm.CommonSpaceEmbedder` (not for direct use)."""

    def _stage_seeds(self, stage: int) -> dict:
        """The seeds of stage ``stage`` (0: :meth:`fit`; then each :meth:`partial_fit`)."""
        if stage == 0 or not isinstance(self.random_state, Integral):
            return self._seeds()
        state = np.random.SeedSequence([int(self.random_state), stage]).generate_state(1)[0]
        rng = check_random_state(int(state))
        draws = rng.randint(0, 2**31 - 1, size=len(self._seed_names))
        return {name: int(s) for name, s in zip(self._seed_names, draws)}

    @staticmethod
    def _stage_record(added, net, n_classes):
        return {"added": list(added), "trainable": list(unwrap(net.module_).trainable),
                "n_classes": int(n_classes), "epochs": len(net.history),
                "epoch_seconds": float(np.median(net.history[:, "dur"]))}

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one more stage: new modalities (M-CVS, RVS) or new classes.

        On an unfitted embedder this is :meth:`fit`. Otherwise the modalities
        of ``modalities`` not yet trained are added (``strategy`` ``"mcvs"``
        or ``"rvs"``; extend ``modalities`` with :meth:`set_params` first):
        their branches and attention blocks are trained, everything trained
        before is frozen (earlier embeddings stay bit-identical), and the
        classifier trains only if ``y`` brings new classes. Without new
        modalities, training continues on ``X`` (the parameters of the last
        stage, never the RVS reference, and the classifier), and new classes
        in ``y`` grow the classifier: stage-wise class learning.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds the columns of all modalities (cells may be missing).
        y : array-like of shape (n_samples,) or None
            Class labels; None for an embedder fitted without labels
            (``objective_="contrastive"``), whose new modalities learn to
            meet the frozen earlier ones on the pairing of the rows.

        Returns
        -------
        self : CommonSpaceEmbedder

        Raises
        ------
        ValueError
            New modalities with ``strategy="cvs"``, a changed column, kind or
            encoder setting of a trained modality, a changed
            ``n_components`` or ``attention``, or the errors of :meth:`fit`.
            A failed call keeps the previous state.
        """
        if not hasattr(self, "net_"):
            return self.fit(X, y)
        X = check_frame(X)
        if len(X) < 2:
            raise ValueError(f"partial_fit needs at least 2 rows, got {len(X)}")
        specs_now, encoders_now = self._resolve_modalities(X)
        for m, spec in self.modalities_.items():
            if m not in specs_now:
                raise ValueError(f"modality {m!r} was trained and is missing from modalities; "
                                 "modalities can only be added")
            if specs_now[m] != spec or not same_encoder(encoders_now[m], self.encoders_[m]):
                raise ValueError(f"modality {m!r} changed from {spec} read by "
                                 f"{self.encoders_[m]!r} to {specs_now[m]} read by "
                                 f"{encoders_now[m]!r}; a trained modality cannot change")
        new = [m for m in specs_now if m not in self.modalities_]
        if new and self.strategy == "cvs":
            raise ValueError(f"strategy='cvs' trains all modalities together: fit again with "
                             f"{list(specs_now)}, or use strategy='mcvs' or 'rvs' to add {new}")
        contrastive = self.objective_ == "contrastive"
        if contrastive and y is not None:
            raise ValueError("this embedder was fitted without labels (objective_="
                             "'contrastive'): partial_fit learns from the pairing of the rows "
                             "too; call it without y, or fit a new one on labels")
        self._check_settings(not contrastive, len(specs_now))
        fitted = unwrap(self.net_.module_)
        for name, value in (("n_components", fitted.n_components),
                            ("attention", fitted.attention or contrastive)):
            if getattr(self, name) != value:
                raise ValueError(f"{name}={getattr(self, name)!r} differs from the trained "
                                 f"space's {value!r}, which every stage keeps; fit again to "
                                 "change it")
        if not contrastive:
            y = check_labels(X, y, estimator=self, min_classes=1)
        specs = {**self.modalities_, **{m: specs_now[m] for m in new}}
        encoders = {**self.encoders_, **{m: encoders_now[m] for m in new}}
        self._fit_state = {"encoders_": encoders}  # what this stage's net reads
        try:
            self._partial_fit(X, y, specs, encoders, new, contrastive)
        finally:
            del self._fit_state
        return self

    def _partial_fit(self, X, y, specs: dict, encoders: dict, new: list,
                     contrastive: bool) -> None:
        seeds = self._stage_seeds(len(self.stages_))
        tokenizers = dict(self.tokenizers_)
        fit_names = []
        for i, m in enumerate(new):
            if self._role(encoders[m]) == "words":
                tokenizers[m] = encoders[m].text_encoder(seeds["word"] + i)
                fit_names.append(m)
        vector_sizes = dict(self.vector_sizes_)
        stage = {"tower_scalers_": dict(self.tower_scalers_)}  # a new modality's are added
        data = self._prepare_modalities(X, specs, encoders, stage, tokenizers=tokenizers,
                                        fit_names=tuple(fit_names), vector_sizes=vector_sizes)
        classes, added_classes = getattr(self, "classes_", np.array([])), []
        if not contrastive:
            known = set(classes.tolist())
            added_classes = sorted({v for v in y.tolist() if v not in known}, key=str)
            if added_classes:
                classes = np.concatenate([classes, np.asarray(added_classes, dtype=object)])
            lookup = {c: i for i, c in enumerate(classes.tolist())}
            data["y"] = torch.tensor([lookup[v] for v in y.tolist()], dtype=torch.int64)
        self._check_present(data, specs, new)
        if contrastive:
            self._check_pairs(data, specs)
        module = copy.deepcopy(unwrap(self.net_.module_))
        # the stage's weights and margins
        for name, value in self._loss_settings(len(specs)).items():
            setattr(module, name, value)
        with torch_seed(seeds["torch"]):
            module.grow_classifier(len(classes))
            device = module._device()
            if new:
                for m in new:
                    module.add_branch(m, self._branch(m, encoders[m], tokenizers, vector_sizes,
                                                      data).to(device))
                module.connect(new, list(self.modalities_), strategy=self.strategy,
                               reference=self.reference_)
            elif self.strategy == "rvs" and len(module.trainable) > 1:
                # the reference is frozen after the first stage
                module.trainable = tuple(m for m in module.trainable if m != self.reference_)
        module.freeze(classifier=bool(added_classes) or not new,
                      word_vectors={m for m, e in encoders.items()
                                    if self._role(e) == "words" and e.fine_tune})
        self._cache_frozen_features(module, data)
        net = self._train_net(module, data, seeds)
        self.modalities_ = specs
        self.encoders_ = encoders
        self.pair_weight_ = module.pair_weight
        if not contrastive:
            self.classes_ = classes
        self.tokenizers_ = tokenizers
        self.vector_sizes_ = vector_sizes
        self.tower_scalers_ = stage["tower_scalers_"]
        self.net_ = net
        self.stages_ = [*self.stages_, self._stage_record(new, net, len(classes))]
        set_input_features(self, X, self._columns())

    def _cache_frozen_features(self, module, data: dict) -> None:
        """Features of the image modules that do not train this stage, in place of images."""
        for m, branch in module.branches.items():
            encoder = branch.encoder
            if (isinstance(encoder, ImageFeatureEncoder) and f"{m}__image" in data
                    and not (encoder.fine_tune and m in module.trainable)):
                data[f"{m}__features"] = self._frozen_features(
                    encoder, data.pop(f"{m}__image"), data[f"{m}__mask"],
                    rows=getattr(data, "rows", None), where=f"modality {m!r}")
