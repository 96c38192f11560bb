"""CommonSpaceEmbedder: a common vector space for any number of modalities, learned
from class labels or, without them, from the pairing of the rows."""

from __future__ import annotations

import contextlib
import functools
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import BaseEmbedder, as_tensors
from skmm._checkpointing import CheckpointMixin
from skmm._encoding import EncoderMixin
from skmm._params import (
    AUTO_CONSTRAINTS,
    DEFAULT_MEMORY_BUDGET,
    INFRASTRUCTURE,
    TRAINING,
    constraints,
    fill_doc,
)
from skmm._scaling import ScalingMixin
from skmm.embedders._modality_encoders import (
    DEFAULT_ENCODERS,
    INPUTS,
    SUPERVISED_ONLY,
    ModalityEncodersMixin,
)
from skmm.embedders._retrieval import RetrievalMixin
from skmm.embedders._stages import StagesMixin
from skmm.encoders import (
    ConvEncoder,
    MeanWordEncoder,
)
from skmm.inputs.modalities import (
    inferred_kinds,
    parse_modalities,
    prepare_modalities,
)
from skmm.inputs.tokenizers import shared_tokens
from skmm.nn.common_space import CommonSpaceNet
from skmm.training import (
    ClassBalancedLoader,
    ClassBalancedWorkerLoader,
    PreparedData,
)

__all__ = ["DEFAULT_ENCODERS", "PAPER_PRESET", "SUPERVISED_ONLY", "CommonSpaceEmbedder"]

#: The settings of the common-vector-space thesis: a CNN and the mean of Word2Vec
#: vectors on the columns "image" and "text", 512 dimensions, margins 1.0, gammas
#: 0.25 / 0.25 / 0.5, batch 128, Adam 1e-3 (the width of the first fully connected
#: layer is ours: the common space's). :meth:`CommonSpaceEmbedder.paper` clones it.
PAPER_PRESET = {
    "modalities": {"image": ("image", ConvEncoder()), "text": ("text", MeanWordEncoder())},
    "n_components": 512,
    "hidden_size": 512,
    "margins": (1.0, 1.0),
    "gammas": (0.25, 0.25, 0.5),
    "batch_size": 128,
    "lr": 1e-3,
}


@fill_doc
class CommonSpaceEmbedder(RetrievalMixin, StagesMixin, ModalityEncodersMixin, EncoderMixin,
                          CheckpointMixin, ScalingMixin, BaseEmbedder):
    """Common vector space of any number of modalities (CVS, M-CVS, RVS).

    Items of the same class lie close in the common space whatever their
    modality, so that an image retrieves the texts of its class and the
    other way round. Without labels (``fit(X)``), the pairing of the rows is
    the supervision: a row's modalities are drawn together and the other
    rows of the batch pushed away (the symmetric InfoNCE of CLIP, learned
    temperature), so that a picture retrieves its own caption; see Notes.
    With labels the same pairing term joins the class terms
    (``pair_weight``), so that a space that classifies still finds a
    picture's own caption.

    Each modality is a column and its encoder (:mod:`skmm.encoders`), and
    has a branch: the encoder's output (a frozen tower's standardised
    features, a trained CNN's, pooled or recurrent word vectors, or the
    column's own vectors) through two fully connected layers into the
    common space; aligned attention blocks refine the branch output, which
    is L2-normalised. The loss is ``ce_weight`` x the cross-entropy of a
    linear classifier on the common space + ``triplet_weight`` x a triplet
    loss: ``gammas[0]`` x the intra-modal term of the first modality,
    ``gammas[1]`` x the mean intra-modal term of the others, ``gammas[2]``
    x the mean inter-modal term over modality pairs (both directions), over
    the semi-hard triplets of the batch (inter-modal: anchors from one
    modality, positives and negatives from the other). The triplet term is
    that of pytorch-metric-learning's ``TripletMarginMiner("semihard")`` +
    ``TripletMarginLoss`` (with ``ref_emb`` across modalities), computed by
    :func:`skmm.nn.losses.semihard_triplet_loss` with masks instead of
    enumerated triplets: the same values and gradients (tested), several
    times faster on class-balanced batches.

    Parameters
    ----------
    modalities : dict, list of str or None, default=None
        ``{name: spec}``, a spec being one of:

        - ``column``: the kind (image, text or vector) is inferred from the
          cells (:func:`skmm.inputs.modalities.infer_kind`), and the
          modality has the kind's default encoder (:data:`DEFAULT_ENCODERS`):
          :class:`~skmm.encoders.ImageTower` for images,
          :class:`~skmm.encoders.TextTower` for texts, ``"passthrough"`` for a
          column of precomputed vectors (1-D arrays or lists of one length);
        - ``(column, kind)``, kind ``"image"``, ``"text"`` or ``"vector"``:
          the same, with the kind given;
        - ``(column, encoder)``: an encoder of :mod:`skmm.encoders`
          (:class:`~skmm.encoders.ImageTower`,
          :class:`~skmm.encoders.ConvEncoder`,
          :class:`~skmm.encoders.ModuleEncoder`,
          :class:`~skmm.encoders.TextTower`,
          :class:`~skmm.encoders.MeanWordEncoder`,
          :class:`~skmm.encoders.RecurrentTextEncoder`, whose decoding
          settings do not apply here), a shortcut (``"efficientnet_lite0"``,
          ``"cnn"``, ``"use"``, ``"mean"``, ``"recurrent"``, ``"passthrough"``)
          or a ``torch.nn.Module`` (a frozen image encoder). The encoder says
          the kind.

        E.g. ``{"image": ("image", ImageTower(image_size=96)), "en": ("text",
        TextTower()), "zh": ("text_zh", RecurrentTextEncoder(tokenizer=
        "jieba"))}``. A word encoder left at ``tokenizer="english"`` on a
        column of mostly Chinese, Japanese or Korean texts raises (it would
        read each text as one word): give it ``tokenizer="jieba"``. A row may
        carry any subset of the modalities (missing cells are None or NaN):
        fully paired rows and rows with a single modality both train. A list
        of columns makes each its own modality; ``None`` means ``{"image":
        "image", "text": "text"}``. The encoders are cloned in ``fit``: the
        fitted ones are ``encoders_``. ``modalities`` is one parameter (a
        grid search tries whole ``modalities`` values).
    strategy : {"cvs", "mcvs", "rvs"}, default="cvs"
        ``"cvs"``: all modalities trained together, one attention block per
        pair (n(n-1)/2 blocks); :meth:`partial_fit` adds no modality.
        ``"mcvs"``: trains as ``"cvs"``; then extend ``modalities`` with
        :meth:`set_params` and call :meth:`partial_fit`: only the new
        modality's branch and its blocks (towards every earlier modality)
        train, everything earlier is frozen and its embeddings stay
        bit-identical. ``"rvs"``: the first modality of ``modalities`` (of
        the first stage) is the reference, with its own block; every other
        modality adds one block towards it (n blocks for n modalities) and
        only inter-modal terms towards it; the reference is frozen after the
        first stage. Order ``modalities`` to choose the reference.
    n_components : int, default=128
        Dimensions of the common space (the thesis used 512,
        :data:`PAPER_PRESET`).
    hidden_size : int, default=256
        Width of the first fully connected layer of every branch.
    dropout : float in [0, 1), default=0.3
        Dropout between the two fully connected layers of every branch, in
        training; where the pairing of the rows is learned (without labels,
        or with a pairing term: ``pair_weight_`` above 0), also of a frozen
        tower's features at the branch's input. With a few thousand rows the branches fit the
        training classes (or pairs) within a few epochs; dropout keeps them
        from doing it by memorising, and also slows training. The trade-off,
        measured: the user guide's "Common space" and "Unlabelled pairs".
    attention : bool, default=True
        Use the aligned attention blocks (False for the ablation).
    partner_dropout : float in [0, 1], default=0.5
        In training, the probability that a row's real partner features are
        replaced by the stand-in in an attention block (see Notes), so that
        the paired (fused) and the standalone embeddings are both trained.
        Only with ``attention=True``.
    ce_weight, triplet_weight : float, default=1.0, 1.0
        Weights of the cross-entropy and triplet terms.
    pair_weight : float or "auto", default="auto"
        With labels, the weight of the pairing term: the symmetric InfoNCE
        between the modalities of each row (as without labels: learned
        temperature, each modality embedded on its own as a retrieval query
        is), added to the class terms, so that the space that classifies
        also finds a picture's own caption. ``"auto"``: 2.0 with labels and
        at least two modalities, 0 otherwise; the value used is
        ``pair_weight_``. 0 switches the term off (the class objective
        alone: the labels then erase the pairing, a picture finds its own
        name among ~638 held-out emoji at R@10 0.12 instead of 0.47, and
        the macro-F1 is 0.835 instead of 0.845). Measured: the user guide's
        "Labels and pairs".
    gammas : (float, float, float), default=(0.25, 0.25, 0.5)
        Weights, inside the triplet term, of the first modality's
        intra-modal term, the other modalities' intra-modal terms, and the
        inter-modal terms.
    margins : (float, float), default=(1.0, 1.0)
        The intra-modal and inter-modal triplet margins (embeddings are
        L2-normalised: distances lie in [0, 2]).
    items_per_class : int, default=4
        With labels, training batches are built of groups of this many rows of one class
        (:class:`~skmm.training.ClassBalancedLoader`; with streamed images
        :class:`~skmm.training.ClassBalancedWorkerLoader`), so that the miner
        finds positives.
    map_k : int, default=50
        K of the mAP@K that :meth:`score` returns with labels.
    max_epochs : int or "auto", default=40
        Epochs of :meth:`fit` and of every :meth:`partial_fit` stage: a
        fixed budget. ``"auto"`` trains until the loss stops improving, by
        the rule of the other embedders' ``max_epochs="auto"`` (a cap of
        about 1,000 optimiser steps, 400 when every modality enters as fixed
        vectors; ``valid_loss`` with ``validation_fraction``, else
        ``train_loss``), which here trains longer than 40 epochs: the
        common space's loss is still falling, and its retrieval and
        pair-label scores still rising, at 40 epochs on the benchmarks of
        the user guide ("When training stops").
    batch_size : int, default=128
        Rows per optimiser step.
    lr : float or "auto", default="auto"
        Adam learning rate. ``"auto"``: with labels, no pairing term
        (``pair_weight=0``) and a modality read through a frozen pretrained
        tower (:class:`~skmm.encoders.ImageTower`,
        :class:`~skmm.encoders.TextTower`: the defaults) 3e-4, as the
        branches fit the tower's standardised features fast enough to lose,
        at 1e-3, the labels that need both modalities; 1e-3 otherwise:
        without labels, or with the pairing term (where 3e-4 retrieves
        worse, and the term and the tower's input dropout keep the branches
        from that). The value used is
        ``lr_`` (measurements: the user guide's "Pretrained towers" and
        "Unlabelled pairs").
    %(validation_fraction)s
    %(infrastructure)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
        The net of the last stage; ``net_.module_`` is the
        :class:`~skmm.nn.common_space.CommonSpaceNet`.
    modalities_ : dict of str to dict
        The resolved modalities trained so far, in the order they were
        added: ``{"column", "kind"}`` (``"image"``, ``"text"`` or
        ``"vector"``: what the column holds).
    encoders_ : dict of str to encoder or "passthrough"
        The fitted encoder of each modality (clones of those given: a tower
        fitted on its column; a recurrent encoder with ``mean_pooling_``).
    tower_scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        Per towered column, the standardisation of the tower's features
        (fitted on the training rows). Empty without a frozen tower.
    reference_ : str or None
        The reference modality of ``"rvs"`` (the first modality), else None.
    objective_ : {"supervised", "contrastive"}
        What :meth:`fit` learned from: the labels ``y``, or (``y=None``) the
        pairing of the rows.
    classes_ : ndarray
        The class labels seen so far (with labels only).
    tokenizers_ : dict of str to skmm.inputs.TextEncoder
        The fitted tokenizer of each modality with a word encoder: it splits
        a text and maps its words to ids; its ``vocabulary_`` and
        ``vectors_`` are the modality's words and their initial vectors.
    vector_sizes_ : dict of str to int
        Length of the vectors of each modality read as vectors (a tower's
        features or precomputed vectors).
    attention_blocks_ : list of tuple
        ``(modality_a, modality_b, targets)`` of every attention block.
    stages_ : list of dict
        One per :meth:`fit` / :meth:`partial_fit` call: ``added`` and
        ``trainable`` modalities, ``n_classes``, ``epochs`` and
        ``epoch_seconds`` (median duration of an epoch).
    history_ : skorch.history.History
        Of the last stage: ``train_loss``, ``train_ce``, ``train_fused`` (the
        cross-entropy of the rows' mean embedding, what :meth:`transform`
        returns), ``train_intra``, ``train_inter``, ``dur`` per epoch, and
        with a pairing term ``train_pairs`` and ``train_temperature``;
        without labels ``train_loss``, ``train_contrastive`` and
        ``train_temperature``.
    lr_ : float
        The learning rate of fit and of every stage (``lr`` with ``"auto"``
        resolved in fit).
    pair_weight_ : float
        The weight of the pairing term beside the labels (``pair_weight``
        with ``"auto"`` resolved; 0 without labels, where the pairing is the
        whole objective).
    temperature_ : float
        The learned temperature of the pairing term (0.07, its initial
        value, where the term is off).
    %(stopping_attributes)s
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    skmm.encoders : the encoders and their settings.

    Notes
    -----
    **What stands in for the partner.** A block of the pair (i, s) computes
    ``e = W_e tanh(g_i W_i + g_s W_s + (g_i * g_s) W_is)``, ``alpha =
    softmax(e)``, and refines ``g <- g + alpha * g``. When a row carries both
    modalities (:meth:`transform` of paired rows), each uses the other's real
    features: the embeddings are fused. When a modality is embedded on its
    own (:meth:`embed`, :meth:`retrieve`, :meth:`score`, rows missing the
    partner) the partner's features are replaced by their running mean over
    the training rows (a buffer of the partner's branch, updated like
    BatchNorm's running mean); the pre-activation is linear in ``g_s``, so
    this is the pre-activation averaged over the partner's distribution.
    Training replaces a row's real partner by the stand-in with probability
    ``partner_dropout``, so both forms are trained. The RVS reference's own
    block always uses its stand-in.

    **Without labels.** ``fit(X)`` trains every modality pair of a row as a
    positive pair and the other rows of the batch as negatives, in both
    directions (the symmetric InfoNCE of CLIP, learned temperature starting
    at 0.07, over cosine similarities); with frozen pretrained towers this
    is LiT's "locked-image tuning". A row contributes the pairs of the
    modalities it has. There is no classifier, no triplet term and no
    attention block (a block reads a row's partner: the pairing that is to
    be learned), and batches are plain shuffled slices: ``fit(X)`` refuses
    the parameters that act only with labels (:data:`SUPERVISED_ONLY`) at
    other values than their defaults. :meth:`score` without ``y`` measures
    retrieval of each row's own partner. The figures: the user guide's
    "Unlabelled pairs".

    **Stages.** :meth:`partial_fit` with new modalities (``"mcvs"`` or
    ``"rvs"``) trains their branches and blocks only; text vocabularies of
    earlier modalities stay fixed (new words map to ``<unk>``). With new
    classes only, it continues training what the last stage trained and
    grows the classifier. Each stage trains with the loss weights and
    margins set at the time; ``n_components`` and ``attention`` stay those
    of :meth:`fit`.

    Examples
    --------
    >>> from skmm.embedders.common_space import CommonSpaceEmbedder
    >>> from skmm.datasets import make_shapes
    >>> X = make_shapes(64, image_size=16, label="color", random_state=0)
    >>> emb = CommonSpaceEmbedder(n_components=8, max_epochs=2,  # the towers: the defaults
    ...                           random_state=0).fit(X, X["label"])
    >>> emb.transform(X).shape
    (64, 8)
    >>> emb.embed(X, "text").shape
    (64, 8)

    One encoder per modality, here the thesis' CNN and mean word vectors:

    >>> from skmm.encoders import ConvEncoder, MeanWordEncoder
    >>> emb = CommonSpaceEmbedder({"image": ("image", ConvEncoder(image_size=16)),
    ...                            "text": ("text", MeanWordEncoder(vector_size=8))},
    ...                           n_components=8, max_epochs=2, random_state=0)
    >>> emb.fit(X, X["label"]).encoders_["image"]
    ConvEncoder(image_size=16)
    """

    _parameter_constraints = constraints(
        "n_components", "hidden_size", "dropout", *TRAINING, *INFRASTRUCTURE,
        modalities=[dict, list, tuple, None],
        strategy=[StrOptions({"cvs", "mcvs", "rvs"})],
        attention=["boolean"],
        partner_dropout=[Interval(Real, 0, 1, closed="both")],
        ce_weight=[Interval(Real, 0, None, closed="left")],
        triplet_weight=[Interval(Real, 0, None, closed="left")],
        pair_weight=[Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        gammas=[tuple],
        margins=[tuple],
        items_per_class=[Interval(Integral, 1, None, closed="left")],
        map_k=[Interval(Integral, 1, None, closed="left")],
        lr=[Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
    )

    def __init__(self, modalities=None, *, strategy="cvs", n_components=128,
                 hidden_size=256, dropout=0.3, attention=True, partner_dropout=0.5,
                 ce_weight=1.0, triplet_weight=1.0, pair_weight="auto",
                 gammas=(0.25, 0.25, 0.5),
                 margins=(1.0, 1.0), items_per_class=4, map_k=50, max_epochs=40,
                 batch_size=128, lr="auto", validation_fraction=None, device="auto",
                 precision="auto", cache="auto", memory_budget=DEFAULT_MEMORY_BUDGET,
                 num_workers=2, accelerator=None, channels_last=True, compile=False,
                 checkpoint_dir=None, n_threads=None, random_state=None, verbose=0):
        self.modalities = modalities
        self.strategy = strategy
        self.n_components = n_components
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.attention = attention
        self.partner_dropout = partner_dropout
        self.ce_weight = ce_weight
        self.triplet_weight = triplet_weight
        self.pair_weight = pair_weight
        self.gammas = gammas
        self.margins = margins
        self.items_per_class = items_per_class
        self.map_k = map_k
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.cache = cache
        self.memory_budget = memory_budget
        self.num_workers = num_workers
        self.accelerator = accelerator
        self.channels_last = channels_last
        self.compile = compile
        self.checkpoint_dir = checkpoint_dir
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def paper(cls, **overrides) -> CommonSpaceEmbedder:
        """The thesis settings (:data:`PAPER_PRESET`, encoders cloned), updated by ``overrides``.

        The preset reads the columns ``"image"`` and ``"text"``; for others,
        pass ``modalities`` with :class:`~skmm.encoders.ConvEncoder` and
        :class:`~skmm.encoders.MeanWordEncoder` encoders.
        """
        return cls(**{**clone(PAPER_PRESET, safe=False), **overrides})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # without y: the pairing of the rows
        tags.input_tags.allow_nan = True  # a row may miss any modality but not all
        return tags

    _min_classes = 1

    @property
    def _supervised(self) -> bool:
        """Whether the fit in progress (or else the last one) learns from labels."""
        objective = getattr(self, "_objective", None) or getattr(self, "objective_", None)
        return objective != "contrastive"

    @contextlib.contextmanager
    def _fitting(self, objective: str):
        """The objective of the fit in progress, forgotten when it ends (a fitted
        estimator says ``objective_``)."""
        self._objective = objective
        try:
            yield
        finally:
            del self._objective

    def _columns(self):
        if hasattr(self, "modalities_"):
            return [s["column"] for s in self.modalities_.values()]
        return [s["column"] for s in parse_modalities(self.modalities).values()]

    # ---- the modalities and their encoders -------------------------------------
    # ---- data ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the common space on the rows of ``X`` and their classes ``y``, or their pairing.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per item with the columns of ``modalities``; a row may
            miss any modality but not all (None or NaN cells).
        y : array-like of shape (n_samples,) or None
            Class labels (any hashable values). None: learn from the pairing
            of the rows alone (contrastive; at least two modalities, and
            rows that carry two of them).

        Returns
        -------
        self : CommonSpaceEmbedder

        Raises
        ------
        ValueError
            ``y`` missing or of the wrong length, a malformed ``modalities``
            or encoder, a setting that would not act (one of
            :data:`SUPERVISED_ONLY` without ``y`` ...).
        skmm.exceptions.MissingColumnError
            A column of ``modalities`` is missing.
        skmm.exceptions.InvalidRowsError
            Unusable cells (naming column, rows and reason) or rows with no
            modality at all. Nothing is trained and a previous fit is kept.
        skmm.exceptions.NonFiniteLossError
            The loss became NaN or infinite (a previous fit is kept).
        """
        with self._fitting("supervised" if y is not None else "contrastive"):
            self._fit(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit (on ``y``, or without it on the pairing of the rows), then embed the rows.

        Parameters
        ----------
        X : pandas.DataFrame
        y : array-like of shape (n_samples,) or None

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
        """
        with self._fitting("supervised" if y is not None else "contrastive"):
            return super().fit_transform(X, y)

    def _prepare(self, X: pd.DataFrame, *, fitting: bool, state: dict | None = None) -> dict:
        """The tensors of every modality of ``X`` (fitting: of a new embedder)."""
        if not fitting:
            return self._prepare_fitted(X, list(self.modalities_))
        specs, encoders = self._resolve_modalities(X, state["encoders_"])
        supervised = self._supervised
        self._check_settings(supervised, len(specs))
        reference = next(iter(specs)) if self.strategy == "rvs" else None
        state["encoders_"] = encoders
        word_seed = state["seeds"]["word"]
        tokenizers = {m: e.text_encoder(word_seed + i)
                      for i, (m, e) in enumerate(encoders.items()) if self._role(e) == "words"}
        vector_sizes = {}
        data = self._prepare_modalities(X, specs, encoders, state, tokenizers=tokenizers,
                                        fit_names=tuple(tokenizers),
                                        vector_sizes=vector_sizes)
        self._check_present(data, specs, specs)
        if not supervised:
            self._check_pairs(data, specs)
        state.update(modalities_=specs, reference_=reference, tokenizers_=tokenizers,
                     vector_sizes_=vector_sizes, lr_=self._auto_lr(encoders),
                     pair_weight_=self._pair_weight(len(specs)),
                     objective_="supervised" if supervised else "contrastive")
        return data

    @staticmethod
    def _check_pairs(data: dict, specs: dict) -> None:
        """Without labels the pairs are the supervision: some row must carry two modalities."""
        if len(specs) < 2:
            raise ValueError(f"fit without y learns from the pairing of a row's modalities and "
                             f"needs at least 2 of them; modalities has {list(specs)} (pass y "
                             "to train a single modality on labels)")
        masks = torch.stack([data[f"{m}__mask"] for m in specs])
        if int((masks.sum(0) >= 2).sum()) < 2:
            raise ValueError("fit without y learns from rows that carry at least 2 modalities; "
                             f"fewer than 2 rows do (columns "
                             f"{[s['column'] for s in specs.values()]})")

    def _learning_rate(self) -> float:
        """``lr``; ``"auto"``: ``lr_``, resolved in fit (3e-4 with labels and a frozen
        tower, 1e-3 otherwise)."""
        return self.lr if self.lr != "auto" else self._resolved("lr")

    @staticmethod
    def _check_present(data: dict, specs: dict, names) -> None:
        for m in names:
            if not data[f"{m}__mask"].any():
                raise ValueError(f"modality {m!r} (column {specs[m]['column']!r}) has no value "
                                 "in any row")

    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare_modalities(self, X: pd.DataFrame, specs: dict, encoders: dict, state=None,
                            **kwargs) -> dict:
        """:func:`skmm.inputs.modalities.prepare_modalities` as tensors: images via
        :meth:`_image_data` (decoded now, or streamed), a tower's standardised
        features via :meth:`_vectors`."""
        def images(values, *, column, size, present):
            return self._image_data(values, column=column, size=size, present=present)

        scalers = self._tower_scalers(state)
        inputs = {m: {"column": s["column"], "kind": INPUTS[self._role(encoders[m])]}
                  for m, s in specs.items()}
        towers = {m: functools.partial(self._vectors, column=s["column"], tower=encoders[m],
                                       scalers=scalers)
                  for m, s in specs.items() if self._role(encoders[m]) == "tower"}
        sizes = {m: self._image_size(encoders[m]) for m, s in inputs.items()
                 if s["kind"] == "image"}
        data = as_tensors(prepare_modalities(
            X, inputs, images=images, towers=towers, sizes=sizes,
            inferred=[m for m in inferred_kinds(self.modalities)
                      if m in specs and specs[m]["kind"] == "image"],
            encoders=kwargs.pop("tokenizers"),
            **kwargs))
        return self._labelled(data, X, fitting=state is not None)

    # ---- fit -------------------------------------------------------------
    def _targets(self, y, state: dict) -> dict:
        classes, y_ids = np.unique(y, return_inverse=True)
        state["classes_"] = classes
        return {"y": torch.from_numpy(y_ids.astype(np.int64))}

    def _build_module(self, data: dict, state: dict) -> CommonSpaceNet:
        specs, reference, encoders = state["modalities_"], state["reference_"], state["encoders_"]
        branches = {m: self._branch(m, encoders[m], state["tokenizers_"],
                                    state["vector_sizes_"], data)
                    for m in specs}
        module = CommonSpaceNet(branches, self.n_components, len(state.get("classes_", ())),
                                attention=self.attention, objective=state["objective_"],
                                **self._loss_settings(len(specs)))
        new = list(specs)
        if self.strategy == "rvs":  # the reference first
            new = [reference, *(m for m in new if m != reference)]
        module.connect(new, strategy=self.strategy, reference=reference)
        module.trainable = tuple(specs)
        return module

    def _after_training(self, net, state: dict) -> None:
        state["stages_"] = [self._stage_record(list(state["modalities_"]), net,
                                               len(state.get("classes_", ())))]

    def _loader_kwargs(self, prefix: str, lazy: bool) -> dict:
        # class-balanced training batches, so that the triplet miner finds positives
        kwargs = super()._loader_kwargs(prefix, lazy)
        if prefix == "iterator_train" and self._supervised:
            kwargs[prefix] = ClassBalancedWorkerLoader if lazy else ClassBalancedLoader
            kwargs[f"{prefix}__items_per_class"] = self.items_per_class
        return kwargs

    @property
    def temperature_(self) -> float:
        """The learned temperature of the pairing term: of the contrastive objective
        without labels, of ``pair_weight``'s term with them (0.07, its initial value,
        where that term is off); :class:`~skmm.ZeroShotClassifier`'s probabilities use it."""
        check_is_fitted(self, "net_")
        return self.net_.module_.temperature

    @property
    def attention_blocks_(self):
        """``(modality_a, modality_b, targets)`` of every attention block."""
        check_is_fitted(self, "net_")
        module = self.net_.module_
        return [(*key.split("|"), module.block_targets[key]) for key in module.blocks]

    # ---- inference -------------------------------------------------------
    def _prepare_fitted(self, X, names, require_all=False) -> PreparedData:
        """The tensors of new rows; their tokens unseen in fit keep their pretrained vectors."""
        unseen = {}
        data = self._prepare_modalities(X, self.modalities_, self.encoders_,
                                        tokenizers=self.tokenizers_,
                                        vector_sizes=dict(self.vector_sizes_), only=names,
                                        require_all=require_all, unseen=unseen)
        return PreparedData(data, unseen)

    def _word_tables(self, module) -> dict:
        return {f"{m}__tokens": module.branches[m].encoder.embedding for m in self.tokenizers_}

    def transform(self, X):
        """Embed each row as the mean of the embeddings of its modalities.

        Parameters
        ----------
        X : pandas.DataFrame
            Holds the columns of every trained modality; a row may miss any
            of them but not all.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
            The mean of the L2-normalised embeddings of the modalities
            present in each row (a DataFrame with
            ``set_output(transform="pandas")``).
        """
        return super().transform(X)

    def _encode(self, data: dict) -> np.ndarray:
        return self._mean_embedding(data)
