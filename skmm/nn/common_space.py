"""The supervised common vector space (CVS, M-CVS, RVS) as torch modules.

Every modality has a branch: its encoder (a small CNN for images, pooled or
recurrent frozen word vectors for texts, nothing for pre-computed vectors)
followed by two fully connected layers into the common space. Aligned
attention blocks (:class:`AlignedAttention`) refine the branch outputs, which
are then L2-normalised. :class:`CommonSpaceNet` holds the branches, the blocks
and a classifier on the common space, and computes the loss

``ce_weight * (cross-entropy + fused cross-entropy) + triplet_weight * (gamma1 * intra_first
+ gamma2 * intra_others + gamma3 * inter) + pair_weight * pairs``

with semi-hard triplets mined in the batch (:func:`skmm.nn.losses.semihard_triplet_loss`,
the semi-hard miner + triplet loss of pytorch-metric-learning, vectorised), and
``pairs`` the symmetric InfoNCE of the rows' modality pairs (each modality
embedded on its own, as for retrieval), so that the space also keeps which
caption goes with which picture.
Without labels (``objective="contrastive"``) the loss is the symmetric InfoNCE
of CLIP over the pairs of the batch, with a learned temperature
(:meth:`CommonSpaceNet.contrastive_loss`).

Batches are dicts of tensors keyed ``"<modality>__<input>"`` (``image``,
``tokens``, ``lengths``, ``vector``, or ``features``: the cached output of a
frozen image encoder, which then stands for ``image``) plus ``"<modality>__mask"`` (bool: the
row carries this modality) and, for training, ``"y"`` (class ids).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from skmm.nn.embeddings import mean_word_vectors, word_vector_table
from skmm.nn.encoders import ConvEncoder, ImageFeatureEncoder, RecurrentTextEncoder
from skmm.nn.losses import semihard_triplet_loss

__all__ = [
    "AlignedAttention",
    "CommonSpaceNet",
    "ModalityBranch",
    "PooledTextEncoder",
    "VectorEncoder",
    "block_key",
    "make_encoder",
]


#: The suffix of a modality's embedding on its own in :meth:`CommonSpaceNet.forward`'s
#: output (for the pairing term beside the labels).
ALONE = "__alone"


def block_key(a: str, b: str) -> str:
    """Name of the attention block between modalities ``a`` and ``b`` (in that order)."""
    return f"{a}|{b}"


class PooledTextEncoder(nn.Module):
    """Mean of the (frozen) word vectors of each text, padding excluded.

    Parameters
    ----------
    embedding : torch.nn.Embedding
        Word vectors, row 0 the zero padding vector.
    """

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.embedding = embedding
        self.out_features = embedding.embedding_dim

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return mean_word_vectors(self.embedding(tokens), lengths)


class VectorEncoder(nn.Module):
    """Identity encoder of a column of pre-computed numeric vectors.

    Parameters
    ----------
    n_features : int
        Length of the vectors.
    """

    def __init__(self, n_features: int):
        super().__init__()
        self.out_features = n_features

    def forward(self, vector: torch.Tensor) -> torch.Tensor:
        return vector.float()


class ModalityBranch(nn.Module):
    """One modality's encoder, then two fully connected layers into the common space.

    The branch also keeps the running mean of its outputs (a buffer, updated
    in training like BatchNorm's running mean): it stands in for this
    modality in the attention blocks of other modalities (see
    :class:`CommonSpaceNet`).

    Parameters
    ----------
    kind : {"image", "text", "vector"}
        Which inputs ``forward`` reads.
    encoder : torch.nn.Module
        Has ``out_features``.
    hidden_size, n_components : int
        Width of the first and second fully connected layers.
    momentum : float, default=0.1
        Of the running mean.
    dropout : float, default=0.0
        Dropout between the two fully connected layers, in training.
    input_dropout : float, default=0.0
        Dropout of the encoder's output (the first layer's input), in training.
    """

    def __init__(self, kind: str, encoder: nn.Module, hidden_size: int, n_components: int,
                 momentum: float = 0.1, dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        self.kind = kind
        self.encoder = encoder
        self.fc = nn.Sequential(nn.Linear(encoder.out_features, hidden_size), nn.ReLU(),
                                nn.Linear(hidden_size, n_components))
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(n_components))

    def forward(self, image=None, tokens=None, lengths=None, vector=None,
                features=None) -> torch.Tensor:
        if features is not None:  # the cached output of a frozen encoder
            features = features.float()
        elif self.kind == "image":
            features = self.encoder(image)
        elif self.kind == "text":
            features = self.encoder(tokens, lengths)
        else:
            features = self.encoder(vector)
        first, relu, last = self.fc
        features = F.dropout(features, self.input_dropout, self.training)
        hidden = F.dropout(relu(first(features)), self.dropout, self.training)
        return last(hidden)

    @torch.no_grad()
    def update_running_mean(self, g: torch.Tensor) -> None:
        """Move the running mean towards the mean of ``g`` (n, n_components)."""
        if len(g):
            self.running_mean.lerp_(g.detach().float().mean(0), self.momentum)


class AlignedAttention(nn.Module):
    """Aligned attention between two modalities.

    ``e = W_e tanh(g_i W_i + g_s W_s + (g_i * g_s) W_is)``, ``alpha =
    softmax(e)`` over the features, then both features are refined with the
    same weights and a residual, ``g <- g + alpha * g``, and L2-normalised.

    Parameters
    ----------
    n_components : int
        Dimension of the common space.
    """

    def __init__(self, n_components: int):
        super().__init__()
        self.w_i = nn.Linear(n_components, n_components, bias=False)
        self.w_s = nn.Linear(n_components, n_components, bias=False)
        self.w_is = nn.Linear(n_components, n_components, bias=False)
        self.w_e = nn.Linear(n_components, n_components)

    def weights(self, g_i: torch.Tensor, g_s: torch.Tensor) -> torch.Tensor:
        """The attention weights ``alpha`` (rows sum to 1); ``g_s`` may be one row."""
        e = self.w_e(torch.tanh(self.w_i(g_i) + self.w_s(g_s) + self.w_is(g_i * g_s)))
        return torch.softmax(e, dim=-1)

    def forward(self, g_i: torch.Tensor, g_s: torch.Tensor):
        """Refine a pair of (n, d) feature batches; return both, L2-normalised."""
        alpha = self.weights(g_i, g_s)
        return F.normalize(g_i + alpha * g_i, dim=-1), F.normalize(g_s + alpha * g_s, dim=-1)


class CommonSpaceNet(nn.Module):
    """Modality branches, aligned attention blocks and a classifier on the common space.

    Parameters
    ----------
    branches : dict of str to ModalityBranch
        In the order of the modalities (the first one's intra-modal triplet
        term is weighted ``gamma1``).
    n_components : int
        Dimension of the common space.
    n_classes : int
        Outputs of the classifier (0 with ``objective="contrastive"``: none).
    ce_weight, triplet_weight, gamma1, gamma2, gamma3 : float
        Loss weights (see the module docstring).
    margin_intra, margin_inter : float
        Triplet margins (on L2-normalised embeddings).
    attention : bool
        Whether blocks are used (:meth:`add_block` is a no-op without).

    partner_dropout : float
        In training, the probability that a row's real partner features are
        replaced by the stand-in (so that both the paired and the standalone
        embeddings are trained).
    objective : {"supervised", "contrastive"}, default="supervised"
        ``"supervised"``: the class losses above (batches carry ``"y"``).
        ``"contrastive"``: the pairing of the rows is the supervision
        (:meth:`contrastive_loss`); no classifier and no attention block (a
        block lets a row's modality read its partner: the very pairing to be
        learned), whatever ``attention`` says.
    temperature : float, default=0.07
        The initial temperature of the contrastive loss (learned, as
        ``logit_scale = log(1 / temperature)``, capped at a scale of 100 as
        in CLIP).
    pair_weight : float, default=0.0
        With labels, the weight of the pairing term: the contrastive loss
        (:meth:`contrastive_terms`) of the rows' modality pairs, each
        modality embedded on its own (the attention blocks reading the
        partner's stand-in), as a retrieval query or gallery is.

    Notes
    -----
    Each block has a pair ``(a, b)`` and the modalities it *targets* (whose
    embedding it refines). A modality passes through its blocks in the order
    they were added: ``g <- g + alpha_b(g, partner) * g``, then L2
    normalisation. The partner is the partner modality's features in the same
    row when the row (and the batch) carries it; otherwise (a modality
    embedded on its own, as for retrieval) a stand-in: the running mean of the
    partner branch's outputs. The pre-activation of a block is linear in the
    partner's features, so the stand-in gives the pre-activation averaged over
    the partner's distribution. A block of a modality with itself (the RVS
    reference) always uses the stand-in.

    ``trainable`` is the set of modalities whose loss terms are computed
    (the branches of the other modalities are frozen by the embedder);
    ``inter_pairs`` the modality pairs of the inter-modal term.
    """

    def __init__(self, branches: dict, n_components: int, n_classes: int, *, ce_weight=1.0,
                 triplet_weight=1.0, gamma1=0.25, gamma2=0.25, gamma3=0.5, margin_intra=1.0,
                 margin_inter=1.0, attention=True, partner_dropout=0.5,
                 objective="supervised", temperature=0.07, pair_weight=0.0):
        super().__init__()
        if objective not in ("supervised", "contrastive"):
            raise ValueError(f"objective must be 'supervised' or 'contrastive', got {objective!r}")
        self.objective = objective
        self.branches = nn.ModuleDict(branches)
        self.blocks = nn.ModuleDict()
        self.block_targets: dict[str, tuple[str, ...]] = {}
        # the temperature of the contrastive loss: of the unlabelled objective, or of the
        # pairing term beside the labels' (and of a zero-shot classifier's probabilities)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))
        if objective == "contrastive":
            self.classifier = None
        else:
            self.classifier = nn.Linear(n_components, n_classes)
        self.pair_weight = pair_weight
        self.n_components = n_components
        self.ce_weight, self.triplet_weight = ce_weight, triplet_weight
        self.gamma1, self.gamma2, self.gamma3 = gamma1, gamma2, gamma3
        self.margin_intra, self.margin_inter = margin_intra, margin_inter
        self.attention = attention and objective != "contrastive"
        self.partner_dropout = partner_dropout
        self.trainable: tuple[str, ...] = tuple(branches)
        self.inter_pairs: list[tuple[str, str]] = []

    # ---- structure -------------------------------------------------------
    @property
    def host_keys(self):
        return tuple(f"{m}__lengths" for m in self.branches)

    @property
    def modalities(self) -> list[str]:
        return list(self.branches)

    def add_branch(self, name: str, branch: ModalityBranch) -> None:
        """Add a modality branch."""
        self.branches[name] = branch

    def add_block(self, a: str, b: str, targets) -> None:
        """Add the attention block of the pair ``(a, b)`` refining ``targets``."""
        if not self.attention:
            return
        key = block_key(a, b)
        self.blocks[key] = AlignedAttention(self.n_components).to(self._device())
        self.block_targets[key] = tuple(targets)

    def connect(self, new, earlier=(), *, strategy: str, reference: str | None = None) -> None:
        """Attention blocks and inter-modal pairs of the modalities ``new`` (a stage).

        ``earlier`` are the modalities of previous stages (frozen). With
        ``strategy="rvs"`` each new modality gets one block towards
        ``reference`` (the reference its own block); otherwise one block per
        pair with every earlier and every preceding new modality, refining
        the new one (both when both are new). ``new`` become the trainable
        modalities.
        """
        pairs = []
        if strategy == "rvs":
            if reference in new:
                self.add_block(reference, reference, (reference,))
            for m in new:
                if m != reference:
                    self.add_block(reference, m, (m,))
                    pairs.append((reference, m))
        else:
            seen = list(earlier)
            for m in new:
                for j in seen:
                    self.add_block(j, m, (m,) if j in earlier else (j, m))
                    pairs.append((j, m))
                seen.append(m)
        self.inter_pairs = pairs
        self.trainable = tuple(new)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def freeze(self, *, classifier: bool, word_vectors=False) -> None:
        """Train only the branches of ``trainable`` and the blocks that refine them.

        ``classifier``: also train the classifier and the temperature;
        ``word_vectors``: also the word-vector tables of the trainable
        branches (True: of every one; a collection of modality names: of
        those). A user's image module trains only where it is
        fine-tuned (:class:`ImageFeatureEncoder`).
        """
        for p in self.parameters():
            p.requires_grad_(False)
        for m in self.trainable:
            branch = self.branches[m]
            words = word_vectors if isinstance(word_vectors, bool) else m in word_vectors
            for name, p in branch.named_parameters():
                if not name.startswith("encoder.backbone.") and (
                        words or "embedding" not in name):
                    p.requires_grad_(True)
            if isinstance(branch.encoder, ImageFeatureEncoder):
                branch.encoder.set_trainable(True)
        for key, block in self.blocks.items():
            if set(self.block_targets[key]) & set(self.trainable):
                block.requires_grad_(True)
        if self.classifier is not None:
            self.classifier.requires_grad_(classifier)
        self.logit_scale.requires_grad_(classifier)

    def grow_classifier(self, n_classes: int) -> None:
        """Add outputs for new classes, keeping the weights of the known ones."""
        old = self.classifier
        if old is None or n_classes == old.out_features:
            return
        new = nn.Linear(old.in_features, n_classes).to(old.weight.device)
        with torch.no_grad():
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
        self.classifier = new

    # ---- forward ---------------------------------------------------------
    def _inputs(self, m: str, batch: dict, index: torch.Tensor) -> dict:
        kind = self.branches[m].kind
        if f"{m}__features" in batch:
            return {"features": batch[f"{m}__features"][index]}
        if kind == "image":
            return {"image": batch[f"{m}__image"][index]}
        if kind == "text":
            lengths = batch[f"{m}__lengths"]
            tokens = batch[f"{m}__tokens"][index]
            lengths = lengths[index.to(lengths.device)]
            width = int(lengths.max()) if len(lengths) else 1
            return {"tokens": tokens[:, :width], "lengths": lengths}
        return {"vector": batch[f"{m}__vector"][index]}

    def _partner(self, partner: str, index: torch.Tensor, features: dict, n_rows: int,
                 like: torch.Tensor) -> torch.Tensor:
        """The partner's features for the rows ``index``: real where the row has it."""
        stand_in = self.branches[partner].running_mean.to(like.dtype)
        if partner not in features:
            return stand_in[None, :].expand(len(index), -1)
        p_index, g_p = features[partner]
        full = stand_in[None, :].expand(n_rows, -1).clone()
        full[p_index] = g_p.to(like.dtype)
        has = torch.zeros(n_rows, dtype=torch.bool, device=like.device)
        has[p_index] = True
        if self.training and self.partner_dropout > 0:
            has &= torch.rand(n_rows, device=like.device) >= self.partner_dropout
        full = torch.where(has[:, None], full, stand_in[None, :])
        return full[index]

    def _attend(self, m: str, index: torch.Tensor, g: torch.Tensor, features: dict,
                n_rows: int) -> torch.Tensor:
        for key, block in self.blocks.items():
            if m not in self.block_targets[key]:
                continue
            a, b = key.split("|")
            partner = b if m == a else a
            if partner == m:
                other = self._partner(m, index, {}, n_rows, g)
            else:
                other = self._partner(partner, index, features, n_rows, g)
            alpha = block.weights(g, other) if m == a else block.weights(other, g)
            g = g + alpha * g
        return F.normalize(g, dim=-1)

    def forward(self, **batch):
        """Embed the modalities present in the batch.

        Returns
        -------
        dict of str to (index, z)
            For each modality with a ``"<m>__mask"`` in the batch: the
            positions of the rows that carry it and their (k, n_components)
            L2-normalised embeddings. With labels in the batch (``"y"``: a
            training or validation step), a pairing term and attention
            blocks, also ``"<m>__alone"``: the modality embedded on its own
            (partner stand-ins), which the pairing term reads.
        """
        features, n_rows = {}, 0
        for m, branch in self.branches.items():
            mask = batch.get(f"{m}__mask")
            if mask is None:
                continue
            n_rows = len(mask)
            index = mask.nonzero().squeeze(1)
            if not len(index):
                continue
            g = branch(**self._inputs(m, batch, index))
            if self.training and m in self.trainable:
                branch.update_running_mean(g)
            features[m] = (index, g)
        out = {m: (index, self._attend(m, index, g, features, n_rows))
               for m, (index, g) in features.items()}
        if "y" in batch and self.pair_weight > 0 and len(self.blocks):
            # the pairing term scores each modality as retrieval embeds it: alone
            out.update({f"{m}{ALONE}": (index, self._attend(m, index, g, {}, n_rows))
                        for m, (index, g) in features.items()})
        return out

    # ---- loss ------------------------------------------------------------
    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """Class scores of L2-normalised embeddings.

        The embeddings are scaled by sqrt(n_components) first, so that their
        coordinates are of order 1 (those of a unit vector are of order
        1/sqrt(d), which would keep the logits, and the cross-entropy's
        gradients, tiny).
        """
        return self.classifier(z * self.n_components ** 0.5)

    def loss_terms(self, out, batch):
        """``ce``, ``intra``, ``inter`` and the weighted ``loss``.

        Only the ``trainable`` modalities contribute cross-entropy and
        intra-modal terms; a modality missing from a row contributes nothing
        for that row. The inter-modal term averages, over ``inter_pairs`` and
        both directions, a triplet loss with anchors from one modality and
        positives and negatives from the other (any rows of the same class,
        paired or not).
        """
        if self.objective == "contrastive":
            return self.contrastive_terms(out)
        alone = {m: out.get(f"{m}{ALONE}", out[m]) for m in self.branches if m in out}
        out = {m: out[m] for m in self.branches if m in out}
        y = batch["y"]
        device = y.device
        zero = torch.zeros((), device=device, requires_grad=torch.is_grad_enabled())
        ce, intra_first, intra_other = [], [], []
        first = next(iter(self.branches))
        for m in self.trainable:
            if m not in out:
                continue
            index, z = out[m]
            z = z.float()
            ym = y[index]
            ce.append(F.cross_entropy(self.logits(z), ym))
            term = semihard_triplet_loss(z, ym, margin=self.margin_intra)
            (intra_first if m == first else intra_other).append(term)
        inter = []
        for a, b in self.inter_pairs:
            if a in out and b in out:
                (ia, za), (ib, zb) = out[a], out[b]
                za, zb = za.float(), zb.float()
                inter.append(semihard_triplet_loss(za, y[ia], zb, y[ib], self.margin_inter))
                inter.append(semihard_triplet_loss(zb, y[ib], za, y[ia], self.margin_inter))

        def mean(values):
            return torch.stack(values).mean() if values else zero

        ce_t, first_t, other_t, inter_t = map(mean, (ce, intra_first, intra_other, inter))
        intra_t = (first_t * self.gamma1 + other_t * self.gamma2)
        triplet = intra_t + self.gamma3 * inter_t
        fused_t = self._fused_cross_entropy(out, y) if len(out) > 1 else zero
        loss = self.ce_weight * (ce_t + fused_t) + self.triplet_weight * triplet + zero
        terms = {"ce": ce_t.detach(), "fused": fused_t.detach(), "intra": intra_t.detach(),
                 "inter": inter_t.detach()}
        if self.pair_weight > 0:
            pairs = self.contrastive_terms(alone)
            loss = loss + self.pair_weight * pairs["loss"]
            terms.update(pairs=pairs["contrastive"], temperature=pairs["temperature"])
        else:  # the temperature takes part (DDP requires every parameter in the graph)
            loss = loss + 0 * self.logit_scale
        return {"loss": loss, **terms}

    @property
    def temperature(self) -> float:
        """The contrastive loss's current temperature (``1 / scale``)."""
        return float(1 / self.logit_scale.detach().clamp(max=math.log(100)).exp())

    def contrastive_loss(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE of paired rows: row i of ``za`` and of ``zb`` are a pair.

        Each row's partner is its positive and every other row of the batch
        a negative, in both directions (a -> b and b -> a), on cosine
        similarities scaled by the learned ``exp(logit_scale)`` (at most
        100), as in CLIP.
        """
        scale = self.logit_scale.clamp(max=math.log(100)).exp()
        logits = scale * za.float() @ zb.float().T
        target = torch.arange(len(za), device=za.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2

    def contrastive_terms(self, out) -> dict:
        """``loss``: the mean symmetric InfoNCE over the modality pairs of ``inter_pairs``.

        Each pair is scored on the rows of the batch that carry both
        modalities (a pair with fewer than two such rows adds nothing).
        Also ``contrastive`` (the same, detached) and ``temperature``.

        In distributed training (``torch.distributed`` initialised, more
        than one process) every process scores the pairs of all the
        processes' batches, its own rows keeping their graph
        (:func:`_gather_rows`), as CLIP does: each row then has the
        negatives of the whole step, as with one process and the whole
        batch, and DDP's average of the processes' gradients is that
        batch's gradient.
        """
        world = _training_world(self)
        terms = []
        for a, b in self.inter_pairs:
            if a in out and b in out:
                (ia, za), (ib, zb) = out[a], out[b]
                common, pa, pb = _common_rows(ia, ib)
                za, zb = za[pa], zb[pb]
            elif world > 1:  # every process takes part in the gathering
                za = zb = self.logit_scale.new_zeros((0, self.n_components))
            else:
                continue
            if world > 1:  # both sides in one gathering: their rows are the same
                za, zb = _gather_rows(torch.cat([za.float(), zb.float()], 1)).chunk(2, dim=1)
            if len(za) >= 2:
                terms.append(self.contrastive_loss(za, zb))
        scale = self.logit_scale
        zero = scale.sum() * 0  # keeps the graph when the batch holds no pair
        loss = torch.stack(terms).mean() if terms else zero
        return {"loss": loss, "contrastive": loss.detach(),
                "temperature": torch.tensor(self.temperature)}

    def _fused_cross_entropy(self, out, y) -> torch.Tensor:
        """Cross-entropy of the rows' fused embeddings: the L2-normalised mean of the
        embeddings of the modalities each row has (what the estimator's ``transform``
        returns, up to the norm).

        The per-modality terms ask each modality alone for the class; when
        the class needs two modalities (shape and mood), nothing else trains
        the mean to carry it (measured on the pair label of
        ``benchmarks/fusion.py``: see the user guide's "Pretrained towers").
        """
        n = len(y)
        total, count = None, torch.zeros(n, device=y.device)
        for index, z in out.values():
            z = z.float()
            if total is None:
                total = torch.zeros(n, z.shape[1], device=y.device)
            total = total.index_add(0, index, z)
            count = count.index_add(0, index, torch.ones(len(index), device=y.device))
        rows = count > 0
        fused = F.normalize(total[rows] / count[rows, None], dim=-1)
        return F.cross_entropy(self.logits(fused), y[rows])


def _training_world(module: nn.Module) -> int:
    """The number of processes of a distributed training step (1 outside one)."""
    import torch.distributed as dist

    if not module.training or not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size()


def _gather_rows(z: torch.Tensor) -> torch.Tensor:
    """Every process's rows of ``z`` in rank order (float32); this process's keep their graph.

    Two collectives per call (the counts, then the rows), so the caller
    gathers a modality pair's two sides side by side.

    Each process computes the loss of all the rows, but its gradient reaches
    only its own rows, so their gradient is scaled by the number of
    processes: DDP's average over the processes is then the gradient of the
    loss of all the rows (the temperature, which every process reaches
    whole, is not scaled). The processes' row counts may differ: they are
    gathered first, and the rows padded to the largest count.
    """
    import torch.distributed as dist

    world, rank = dist.get_world_size(), dist.get_rank()
    z = z.float()
    count = torch.tensor([len(z)], device=z.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    counts = [int(c) for c in counts]
    padded = z.new_zeros((max(counts), z.shape[1]))
    padded[:len(z)] = z.detach()
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    parts = [part[:c] for part, c in zip(parts, counts)]
    parts[rank] = world * z - (world - 1) * z.detach()  # the value of z, world times its grad
    return torch.cat(parts)


def _common_rows(ia: torch.Tensor, ib: torch.Tensor):
    """The batch rows in both sorted index vectors, and their positions in each."""
    common = ia[torch.isin(ia, ib)]
    return common, torch.searchsorted(ia, common), torch.searchsorted(ib, common)


def make_encoder(kind: str, *, image_shape=None, conv_channels=16, vectors=None,
                 text_encoder="mean", hidden_size=64, num_layers=1, bidirectional=True,
                 mean_pooling=False, n_features=None, fine_tune_word_vectors=False,
                 image_encoder=None) -> nn.Module:
    """Build the encoder of one modality.

    Parameters
    ----------
    kind : {"image", "text", "vector"}
    image_shape : (int, int, int)
        Channels, height, width (images).
    conv_channels : int
        Filters of the three conv blocks (images).
    vectors : array-like of shape (vocabulary, dim)
        Word vectors (texts).
    text_encoder : {"mean", "gru", "lstm", "rnn"}
        Pooled word vectors or a recurrent net (texts).
    hidden_size, num_layers : int
        Units and stacked layers of the recurrent net.
    bidirectional, mean_pooling : bool
        A bidirectional recurrent net; the mean of the word vectors joins its
        state (:class:`~skmm.nn.encoders.RecurrentTextEncoder`).
    n_features : int
        Length of the vectors (vectors).
    fine_tune_word_vectors : bool
        Train the word-vector table (texts); frozen otherwise.
    image_encoder : torch.nn.Module or None
        The encoder of an image modality (with ``out_features``, e.g. an
        :class:`~skmm.nn.encoders.ImageFeatureEncoder`); None builds the conv
        blocks.

    Returns
    -------
    torch.nn.Module
        With an ``out_features`` attribute.
    """
    if kind == "image":
        if image_encoder is not None:
            return image_encoder
        c, h, w = image_shape
        return ConvEncoder(c, (h, w), conv_channels)
    if kind == "text":
        embedding = word_vector_table(vectors, trainable=fine_tune_word_vectors)
        if text_encoder == "mean":
            return PooledTextEncoder(embedding)
        return RecurrentTextEncoder(embedding, text_encoder, hidden_size, num_layers,
                                    bidirectional, mean_pooling)
    if kind == "vector":
        return VectorEncoder(n_features)
    raise ValueError(f"unknown modality kind {kind!r}")
