"""CommonSpaceEmbedder: a common vector space for any number of modalities, learned
from class labels or, without them, from the pairing of the rows."""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._base import BaseEmbedder, as_tensors
from skmm._checkpointing import CheckpointMixin
from skmm._encoding import EncoderMixin
from skmm._params import (
    AUTO_CONSTRAINTS,
    CONSTRAINTS,
    DEFAULT_MEMORY_BUDGET,
    INFRASTRUCTURE,
    TRAINING,
    constraints,
    fill_doc,
)
from skmm._scaling import ScalingMixin
from skmm.embedders._retrieval import RetrievalMixin
from skmm.embedders._stages import StagesMixin
from skmm.inputs import TextEncoder, as_size
from skmm.inputs.modalities import parse_modalities, prepare_modalities, resolve_modalities
from skmm.inputs.tokenizers import shared_tokens
from skmm.nn.common_space import CommonSpaceNet, ModalityBranch, make_encoder
from skmm.training import (
    ClassBalancedLoader,
    ClassBalancedWorkerLoader,
    PreparedData,
)

__all__ = ["CommonSpaceEmbedder", "PAPER_PRESET"]

#: The settings of the common-vector-space thesis: 512 dimensions, margins 1.0,
#: gammas 0.25 / 0.25 / 0.5, batch 128, Adam 1e-3 (the width of the first fully
#: connected layer is ours: the common space's).
PAPER_PRESET = {
    "n_components": 512,
    "hidden_size": 512,
    "margin_intra": 1.0,
    "margin_inter": 1.0,
    "gamma1": 0.25,
    "gamma2": 0.25,
    "gamma3": 0.5,
    "batch_size": 128,
    "lr": 1e-3,
    "image_encoder": "cnn",
    "text_encoder": "mean",
}


# ---------------------------------------------------------------------------
# The embedder
# ---------------------------------------------------------------------------


@fill_doc
class CommonSpaceEmbedder(RetrievalMixin, StagesMixin, EncoderMixin, CheckpointMixin,
                          ScalingMixin, BaseEmbedder):
    """Common vector space of any number of modalities (CVS, M-CVS, RVS).

    Items of the same class lie close in the common space whatever their
    modality, so that an image retrieves the texts of its class and the
    other way round. Without labels (``fit(X)``), the pairing of the rows is
    the supervision: a row's modalities are drawn together and the other
    rows of the batch pushed away (the symmetric InfoNCE of CLIP, learned
    temperature), so that a picture retrieves its own caption; see Notes.

    Each modality has a branch: its encoder (a three-block
    CNN for images, pooled or recurrent word vectors for texts, none for
    vectors) and two fully connected layers into the common space; aligned
    attention blocks refine the branch output, which is L2-normalised. The
    loss is ``ce_weight`` x the cross-entropy of a linear classifier on the
    common space + ``triplet_weight`` x a triplet loss: ``gamma1`` x the intra-modal
    term of the first modality, ``gamma2`` x the mean intra-modal term of the
    others, ``gamma3`` x the mean inter-modal term over modality pairs (both
    directions), over the semi-hard triplets of the batch (inter-modal:
    anchors from one modality, positives and negatives from the other). The
    triplet term is that of pytorch-metric-learning's
    ``TripletMarginMiner("semihard")`` + ``TripletMarginLoss`` (with
    ``ref_emb`` across modalities), computed by
    :func:`skmm.nn.losses.semihard_triplet_loss` with masks instead of
    enumerated triplets: the same values and gradients (tested), several
    times faster on class-balanced batches.

    Parameters
    ----------
    modalities : dict, list of str or None, default=None
        ``{name: spec}``; see :func:`resolve_modalities`. E.g.
        ``{"image": "image", "en": "text", "zh": ("text_zh", "text",
        {"tokenizer": "jieba"})}``. A row may carry any subset of the
        modalities (missing cells are None or NaN): fully paired rows and
        rows with a single modality both train. ``None`` means
        ``{"image": "image", "text": "text"}``.
    strategy : {"cvs", "mcvs", "rvs"}, default="cvs"
        ``"cvs"``: all modalities trained together, one attention block per
        pair (n(n-1)/2 blocks). ``"mcvs"``: after :meth:`fit`, extend
        ``modalities`` with :meth:`set_params` and call :meth:`partial_fit`:
        only the new modality's branch and its blocks (towards every earlier
        modality) train, everything earlier is frozen and its embeddings stay
        bit-identical. ``"rvs"``: one ``reference`` modality with its own
        block; every other modality adds one block towards it (n blocks for
        n modalities) and only inter-modal terms towards it; the reference is
        frozen after the first stage.
    reference : str or None, default=None
        The reference modality of ``"rvs"`` (default: the first modality).
    n_components : int, default=128
        Dimensions of the common space (the thesis used 512,
        :data:`PAPER_PRESET`).
    hidden_size : int, default=256
        Width of the first fully connected layer of every branch.
    dropout : float in [0, 1), default=0.3
        Dropout between the two fully connected layers of every branch, in
        training; without labels, also of a frozen tower's features at the
        branch's input. With a few thousand rows the branches fit the
        training classes (or pairs) within a few epochs; dropout keeps them
        from doing it by memorising, and also slows training. The trade-off,
        measured: the user guide's "Common space" and "Unlabelled pairs".
    attention : bool, default=True
        Use the aligned attention blocks (False for the ablation).
    partner_dropout : float in [0, 1], default=0.5
        In training, the probability that a row's real partner features are
        replaced by the stand-in in an attention block (see Notes), so that
        the paired (fused) and the standalone embeddings are both trained.
    %(image_size:32)s
    conv_channels : int, default=16
        Filters of the image CNN.
    text_encoder : {"use", "mean", "gru", "lstm"}, default="use"
        Text encoder of every text modality: mean of the word vectors
        (:meth:`paper`), or a bidirectional recurrent net (one layer of
        ``rnn_hidden_size`` units); ``"use"`` (the default): the pretrained
        multilingual Universal Sentence Encoder (:mod:`skmm.towers`; frozen,
        512 dimensions per text, computed once per process, any of its 16
        languages, no tokenizer), and the modality enters as those vectors.
    rnn_hidden_size : int, default=64
    word_vectors : "word2vec", "wordllama", path or gensim KeyedVectors, default="word2vec"
        ``"word2vec"`` trains gensim Word2Vec on each text modality's
        training texts; ``"wordllama"`` (wordllama's pretrained subword
        vectors, offline, with its own tokenizer), a path or KeyedVectors is
        used for every text modality.
    %(word_vector_dims)s
    %(vector_size)s
    fine_tune_word_vectors : bool, default=True
        Train the word-vector tables (initialised by Word2Vec or the loaded
        vectors) with the rest; the special tokens stay zero vectors. On
        small corpora Word2Vec gives words used in the same contexts (colour
        names in templated captions) near-identical vectors, and a frozen
        table leaves the text branch unable to tell them apart. False keeps
        the table frozen.
    %(min_count)s
    ce_weight, triplet_weight : float, default=1.0, 1.0
        Weights of the cross-entropy and triplet terms.
    gamma1, gamma2, gamma3 : float, default=0.25, 0.25, 0.5
        Weights of the first modality's intra-modal term, the other
        modalities' intra-modal terms, and the inter-modal terms.
    margin_intra, margin_inter : float, default=1.0, 1.0
        Triplet margins (embeddings are L2-normalised: distances lie in [0, 2]).
    items_per_class : int, default=4
        With labels, training batches are built of groups of this many rows of one class
        (:class:`~skmm.training.ClassBalancedLoader`; with streamed images
        :class:`~skmm.training.ClassBalancedWorkerLoader`), so that the miner
        finds positives.
    map_k : int, default=50
        K of the mAP@K that :meth:`score` returns.
    max_epochs : int or "auto", default=40
        Epochs of :meth:`fit` and of every :meth:`partial_fit` stage: a
        fixed budget. ``"auto"`` trains until the loss stops improving, by
        the rule of the other embedders' ``max_epochs="auto"`` (a cap of
        about 1,000 optimiser steps; ``valid_loss`` with
        ``validation_fraction``, else ``train_loss``), which here trains
        longer than 40 epochs: the common space's loss is still falling,
        and its retrieval and pair-label scores still rising, at 40 epochs
        on the benchmarks of the user guide ("When training stops").
    batch_size : int, default=128
        Rows per optimiser step.
    lr : float or "auto", default="auto"
        Adam learning rate. ``"auto"``: with labels and a frozen pretrained
        tower (``image_encoder="efficientnet_lite0"`` or
        ``text_encoder="use"``) 3e-4, as the branches fit the tower's
        standardised features fast enough to lose, at 1e-3, the labels that
        need both modalities; 1e-3 otherwise, and without labels (where 3e-4
        retrieves worse). The value used is ``lr_`` (measurements: the user
        guide's "Pretrained towers" and "Unlabelled pairs").
    %(validation_fraction)s
    %(infrastructure)s

    Attributes
    ----------
    net_ : skmm.training.MultimodalNet
        The net of the last stage; ``net_.module_`` is the
        :class:`~skmm.nn.common_space.CommonSpaceNet`.
    modalities_ : dict of str to dict
        The resolved modalities trained so far, in the order they were added.
        A modality read through a frozen tower has kind ``"vector"`` and
        its ``"tower"`` (``"efficientnet_lite0"`` or ``"use"``).
    tower_scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        Per towered column, the standardisation of the tower's features
        (fitted on the training rows). Empty without a frozen tower.
    reference_ : str or None
        The reference modality (``"rvs"``).
    objective_ : {"supervised", "contrastive"}
        What :meth:`fit` learned from: the labels ``y``, or (``y=None``) the
        pairing of the rows.
    classes_ : ndarray
        The class labels seen so far (with labels only).
    tokenizers_ : dict of str to skmm.inputs.TextEncoder
        The fitted tokenizer of each text modality: it splits a text and
        maps its words to ids; its ``vocabulary_`` and ``vectors_`` are the
        modality's words and their initial vectors.
    vector_sizes_ : dict of str to int
        Length of each vector modality.
    attention_blocks_ : list of tuple
        ``(modality_a, modality_b, targets)`` of every attention block.
    stages_ : list of dict
        One per :meth:`fit` / :meth:`partial_fit` call: ``added`` and
        ``trainable`` modalities, ``n_classes``, ``epochs`` and
        ``epoch_seconds`` (median duration of an epoch).
    history_ : skorch.history.History
        Of the last stage: ``train_loss``, ``train_ce``, ``train_fused`` (the
        cross-entropy of the rows' mean embedding, what :meth:`transform`
        returns), ``train_intra``, ``train_inter``, ``dur`` per epoch;
        without labels ``train_loss``, ``train_contrastive`` and
        ``train_temperature``.
    lr_ : float
        The learning rate used (``lr`` with ``"auto"`` resolved).
    %(stopping_attributes)s
    %(runtime_attributes)s
    n_features_in_ : int
    feature_names_in_ : ndarray of str

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
    be learned), and batches are plain shuffled slices. ``ce_weight``,
    ``triplet_weight``, the ``gamma``s, margins and ``items_per_class`` then play no part.
    :meth:`score` without ``y`` measures retrieval of each row's own
    partner. The figures: the user guide's "Unlabelled pairs".

    **Stages.** :meth:`partial_fit` with new modalities (``"mcvs"`` or
    ``"rvs"``) trains their branches and blocks only; text vocabularies of
    earlier modalities stay fixed (new words map to ``<unk>``). With new
    classes only, it continues training what the last stage trained and
    grows the classifier.

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
    """

    _parameter_constraints = constraints(
        "n_components", "hidden_size", "image_size", "conv_channels", "word_vectors",
        "word_vector_dims", "vector_size", "min_count", "dropout", *TRAINING, *INFRASTRUCTURE,
        image_encoder=[StrOptions({"cnn", "efficientnet_lite0"}),
                       CONSTRAINTS["image_encoder"][1]],
        modalities=[dict, list, tuple, None],
        strategy=[StrOptions({"cvs", "mcvs", "rvs"})],
        reference=[str, None],
        attention=["boolean"],
        partner_dropout=[Interval(Real, 0, 1, closed="both")],
        text_encoder=[StrOptions({"mean", "gru", "lstm", "use"})],
        rnn_hidden_size=[Interval(Integral, 1, None, closed="left")],
        fine_tune_word_vectors=["boolean"],
        ce_weight=[Interval(Real, 0, None, closed="left")],
        triplet_weight=[Interval(Real, 0, None, closed="left")],
        gamma1=[Interval(Real, 0, None, closed="left")],
        gamma2=[Interval(Real, 0, None, closed="left")],
        gamma3=[Interval(Real, 0, None, closed="left")],
        margin_intra=[Interval(Real, 0, None, closed="left")],
        margin_inter=[Interval(Real, 0, None, closed="left")],
        items_per_class=[Interval(Integral, 1, None, closed="left")],
        map_k=[Interval(Integral, 1, None, closed="left")],
        lr=[Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        **AUTO_CONSTRAINTS,
        fine_tune_image_encoder=["boolean"], image_encoder_lr=["no_validation"],  # TODO port
    )

    def __init__(self, modalities=None, *, strategy="cvs", reference=None, n_components=128,
                 hidden_size=256, dropout=0.3, attention=True, partner_dropout=0.5,
                 image_size=32,
                 image_encoder="efficientnet_lite0", fine_tune_image_encoder=False,
                 image_encoder_lr=None,
                 conv_channels=16, text_encoder="use", rnn_hidden_size=64, word_vectors="word2vec",
                 word_vector_dims=None, vector_size=50, fine_tune_word_vectors=True, min_count=1,
                 ce_weight=1.0,
                 triplet_weight=1.0, gamma1=0.25, gamma2=0.25,
                 gamma3=0.5, margin_intra=1.0, margin_inter=1.0, items_per_class=4, map_k=50,
                 max_epochs=40, batch_size=128, lr="auto", validation_fraction=None,
                 device="auto", precision="auto", cache="auto",
                 memory_budget=DEFAULT_MEMORY_BUDGET, num_workers=2, accelerator=None,
                 channels_last=True, compile=False, checkpoint_dir=None, n_threads=None,
                 random_state=None, verbose=0):
        self.modalities = modalities
        self.strategy = strategy
        self.reference = reference
        self.n_components = n_components
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.attention = attention
        self.partner_dropout = partner_dropout
        self.image_size = image_size
        self.image_encoder = image_encoder
        self.fine_tune_image_encoder = fine_tune_image_encoder
        self.image_encoder_lr = image_encoder_lr
        self.conv_channels = conv_channels
        self.text_encoder = text_encoder
        self.rnn_hidden_size = rnn_hidden_size
        self.word_vectors = word_vectors
        self.word_vector_dims = word_vector_dims
        self.vector_size = vector_size
        self.fine_tune_word_vectors = fine_tune_word_vectors
        self.min_count = min_count
        self.ce_weight = ce_weight
        self.triplet_weight = triplet_weight
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.gamma3 = gamma3
        self.margin_intra = margin_intra
        self.margin_inter = margin_inter
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
        """An embedder with the thesis settings (:data:`PAPER_PRESET`), updated by ``overrides``."""
        return cls(**{**PAPER_PRESET, **overrides})

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
            ``y`` missing or of the wrong length, a malformed ``modalities``.
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
        specs = self._with_towers(resolve_modalities(self.modalities, X))
        reference = None
        if self.strategy == "rvs":
            reference = self.reference if self.reference is not None else next(iter(specs))
            if reference not in specs:
                raise ValueError(f"reference={reference!r} is not one of the modalities "
                                 f"{list(specs)}")
        word_seed = state["seeds"]["word"]
        encoders = {m: self._new_text_encoder(s, word_seed + i)
                    for i, (m, s) in enumerate(specs.items()) if s["kind"] == "text"}
        size, vector_sizes = as_size(self.image_size), {}
        data = self._prepare_modalities(X, specs, state, encoders=encoders,
                                        fit_names=tuple(encoders),
                                        vector_sizes=vector_sizes, size=size)
        self._check_present(data, specs, specs)
        objective = "supervised" if self._supervised else "contrastive"
        if objective == "contrastive":
            self._check_pairs(data, specs)
        state.update(modalities_=specs, reference_=reference, image_size_=size,
                     tokenizers_=encoders, vector_sizes_=vector_sizes,
                     lr_=self._learning_rate(), objective_=objective)
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
        """``lr``; ``"auto"``: 3e-4 with labels and a frozen tower, 1e-3 otherwise."""
        if self.lr != "auto":
            return self.lr
        towered = self._image_tower() is not None or self._text_tower() is not None
        return 3e-4 if towered and self._supervised else 1e-3

    def _with_towers(self, specs: dict) -> dict:
        """The modalities, those read through a frozen tower marked as ``"vector"`` ones.

        An image modality with ``image_encoder="efficientnet_lite0"`` (not
        fine-tuned) and a text modality with ``text_encoder="use"`` enter the
        model as the tower's vectors; the spec keeps the tower's name.
        """
        towers = {"image": self._image_tower(), "text": self._text_tower()}
        return {m: {**s, "kind": "vector", "tower": towers[s["kind"]]}
                if towers.get(s["kind"]) else s for m, s in specs.items()}

    @staticmethod
    def _check_present(data: dict, specs: dict, names) -> None:
        for m in names:
            if not data[f"{m}__mask"].any():
                raise ValueError(f"modality {m!r} (column {specs[m]['column']!r}) has no value "
                                 "in any row")

    @shared_tokens()  # the check, the vocabulary and the encoding split each text once
    def _prepare_modalities(self, X: pd.DataFrame, specs: dict, state=None,
                            **kwargs) -> dict:
        """:func:`skmm.inputs.modalities.prepare_modalities` as tensors, images via
        :meth:`_image_data` (decoded now, or streamed)."""
        def images(values, *, column, size, present):
            return self._image_data(values, column=column, size=size, present=present)

        inferred = [m for m, s in parse_modalities(self.modalities).items() if "kind" not in s]
        only = kwargs.get("only")
        X = self._tower_frame(X, {s["column"]: s["tower"] for m, s in specs.items()
                                  if s.get("tower") and (only is None or m in only)},
                              self._tower_scalers(state))
        data = as_tensors(prepare_modalities(X, specs, images=images, inferred=inferred,
                                             **kwargs))
        return self._labelled(data, X, fitting=state is not None)

    def _new_text_encoder(self, spec, seed):
        return TextEncoder(tokenizer=spec["tokenizer"], min_count=self.min_count,
                           word_vectors=self.word_vectors,
                           word_vector_dims=self.word_vector_dims,
                           vector_size=self.vector_size, random_state=seed)

    def _branch(self, m, spec, encoders, vector_sizes, size, data):
        image_encoder = None
        if spec["kind"] == "image" and self._image_input() == "module":
            image_encoder = self._image_feature_encoder(
                data[f"{m}__image"], (3, *size), data, f"{m}__features", data[f"{m}__mask"])
            if not image_encoder.fine_tune:  # its cached features stand for the images
                del data[f"{m}__image"]
        encoder = make_encoder(
            spec["kind"], image_shape=(3, *size), conv_channels=self.conv_channels,
            vectors=encoders[m].vectors_ if m in encoders else None,
            text_encoder=self.text_encoder, hidden_size=self.rnn_hidden_size,
            n_features=vector_sizes.get(m), fine_tune_word_vectors=self.fine_tune_word_vectors,
            image_encoder=image_encoder)
        # without labels, a frozen tower's features are also dropped out at the input
        input_dropout = self.dropout if spec.get("tower") and not self._supervised else 0.0
        return ModalityBranch(spec["kind"], encoder, self.hidden_size, self.n_components,
                              dropout=self.dropout, input_dropout=input_dropout)

    # ---- fit -------------------------------------------------------------
    def _targets(self, y, state: dict) -> dict:
        classes, y_ids = np.unique(y, return_inverse=True)
        state["classes_"] = classes
        return {"y": torch.from_numpy(y_ids.astype(np.int64))}

    def _build_module(self, data: dict, state: dict) -> CommonSpaceNet:
        specs, reference = state["modalities_"], state["reference_"]
        branches = {m: self._branch(m, s, state["tokenizers_"], state["vector_sizes_"],
                                    state["image_size_"], data)
                    for m, s in specs.items()}
        module = CommonSpaceNet(
            branches, self.n_components, len(state.get("classes_", ())),
            ce_weight=self.ce_weight, triplet_weight=self.triplet_weight,
            gamma1=self.gamma1, gamma2=self.gamma2, gamma3=self.gamma3,
            margin_intra=self.margin_intra, margin_inter=self.margin_inter,
            attention=self.attention, partner_dropout=self.partner_dropout,
            objective=state["objective_"])
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
    def attention_blocks_(self):
        """``(modality_a, modality_b, targets)`` of every attention block."""
        check_is_fitted(self, "net_")
        module = self.net_.module_
        return [(*key.split("|"), module.block_targets[key]) for key in module.blocks]

    # ---- inference -------------------------------------------------------
    def _prepare_fitted(self, X, names, require_all=False) -> PreparedData:
        """The tensors of new rows; their tokens unseen in fit keep their pretrained vectors."""
        unseen = {}
        data = self._prepare_modalities(X, self.modalities_, encoders=self.tokenizers_,
                                        vector_sizes=dict(self.vector_sizes_),
                                        size=self.image_size_, only=names,
                                        require_all=require_all, unseen=unseen)
        return PreparedData(data, unseen)

    def _word_tables(self, module) -> dict:
        return {f"{m}__tokens": module.branches[m].encoder.embedding
                for m, s in self.modalities_.items() if s["kind"] == "text"}

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
