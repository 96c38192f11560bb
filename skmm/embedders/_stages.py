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
from skmm.inputs import check_frame
from skmm.inputs.checks import set_input_features
from skmm.inputs.modalities import resolve_modalities
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
            New modalities with ``strategy="cvs"``, a changed spec of a
            trained modality, or the errors of :meth:`fit`. A failed call
            keeps the previous state.
        """
        if not hasattr(self, "net_"):
            return self.fit(X, y)
        X = check_frame(X)
        if len(X) < 2:
            raise ValueError(f"partial_fit needs at least 2 rows, got {len(X)}")
        specs_now = self._with_towers(resolve_modalities(self.modalities, X))
        for m, spec in self.modalities_.items():
            if m not in specs_now:
                raise ValueError(f"modality {m!r} was trained and is missing from modalities; "
                                 "modalities can only be added")
            if specs_now[m] != spec:
                raise ValueError(f"modality {m!r} changed from {spec} to {specs_now[m]}; "
                                 "a trained modality cannot change")
        new = [m for m in specs_now if m not in self.modalities_]
        if new and self.strategy == "cvs":
            raise ValueError(f"strategy='cvs' trains all modalities together: fit again with "
                             f"{list(specs_now)}, or use strategy='mcvs' or 'rvs' to add {new}")
        contrastive = self.objective_ == "contrastive"
        if contrastive and y is not None:
            raise ValueError("this embedder was fitted without labels (objective_="
                             "'contrastive'): partial_fit learns from the pairing of the rows "
                             "too; call it without y, or fit a new one on labels")
        if not contrastive:
            y = check_labels(X, y, estimator=self, min_classes=1)
        specs = {**self.modalities_, **{m: specs_now[m] for m in new}}
        seeds = self._stage_seeds(len(self.stages_))
        encoders = dict(self.tokenizers_)
        fit_names = []
        for i, m in enumerate(new):
            if specs[m]["kind"] == "text":
                encoders[m] = self._new_text_encoder(specs[m], seeds["word"] + i)
                fit_names.append(m)
        vector_sizes = dict(self.vector_sizes_)
        size = self.image_size_
        stage = {"tower_scalers_": dict(self.tower_scalers_)}  # a new modality's are added
        data = self._prepare_modalities(X, specs, stage, encoders=encoders,
                                        fit_names=tuple(fit_names), vector_sizes=vector_sizes,
                                        size=size)
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
        with torch_seed(seeds["torch"]):
            module.grow_classifier(len(classes))
            device = module._device()
            if new:
                for m in new:
                    module.add_branch(m, self._branch(m, specs[m], encoders, vector_sizes,
                                                      size, data).to(device))
                module.connect(new, list(self.modalities_), strategy=self.strategy,
                               reference=self.reference_)
            elif self.strategy == "rvs" and len(module.trainable) > 1:
                # the reference is frozen after the first stage
                module.trainable = tuple(m for m in module.trainable if m != self.reference_)
        module.freeze(classifier=bool(added_classes) or not new,
                      word_vectors=self.fine_tune_word_vectors)
        self._cache_frozen_features(module, data)
        net = self._train_net(module, data, seeds)
        self.modalities_ = specs
        if not contrastive:
            self.classes_ = classes
        self.tokenizers_ = encoders
        self.vector_sizes_ = vector_sizes
        self.tower_scalers_ = stage["tower_scalers_"]
        self.net_ = net
        self.stages_ = [*self.stages_, self._stage_record(new, net, len(classes))]
        set_input_features(self, X, self._columns())
        return self

    def _cache_frozen_features(self, module, data: dict) -> None:
        """Features of the image modules that do not train this stage, in place of images."""
        for m, branch in module.branches.items():
            encoder = branch.encoder
            if (isinstance(encoder, ImageFeatureEncoder) and f"{m}__image" in data
                    and not (encoder.fine_tune and m in module.trainable)):
                data[f"{m}__features"] = self._frozen_features(
                    encoder, data.pop(f"{m}__image"), data[f"{m}__mask"],
                    rows=getattr(data, "rows", None), where=f"modality {m!r}")
