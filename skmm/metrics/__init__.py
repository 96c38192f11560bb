"""Metrics for embeddings: clustering, retrieval and latent diagnostics.

The functions here take plain arrays (the output of an embedder's
``transform``) and never import torch, so they can be used on any embedding.

* clustering (:mod:`skmm.metrics.clustering`): :func:`cluster_sweep` reports
  the criteria used to choose the number of k-means clusters;
  :func:`clustering_scores` compares k-means clusters with known labels
  (NMI, ARI);
* retrieval (:mod:`skmm.metrics.retrieval`): :func:`mean_average_precision`
  (mAP@K), :func:`retrieval_table`, :func:`cross_modal_map`, :func:`top_k`;
* paired retrieval (:mod:`skmm.metrics.pairs`), where the pairing of the rows
  is the truth: :func:`paired_ranks`, :func:`recall_at_k`,
  :func:`median_rank`, :func:`mean_reciprocal_rank`,
  :func:`paired_retrieval_table`, :func:`cross_modal_mrr`;
* latent diagnostics (:mod:`skmm.metrics.latent`): :func:`kl_per_dimension`
  and :func:`active_units` of a VAE's posterior, and :func:`modality_probe`
  (with :func:`modality_references`): how much of each modality an embedding
  keeps.
"""

from skmm.metrics.clustering import SWEEP_COLUMNS, cluster_sweep, clustering_scores
from skmm.metrics.latent import (
    PROBE_COLUMNS,
    active_units,
    kl_per_dimension,
    modality_probe,
    modality_references,
)
from skmm.metrics.pairs import (
    cross_modal_mrr,
    mean_reciprocal_rank,
    median_rank,
    paired_ranks,
    paired_retrieval_table,
    recall_at_k,
)
from skmm.metrics.retrieval import (
    cross_modal_map,
    mean_average_precision,
    retrieval_table,
    top_k,
)

__all__ = [
    "PROBE_COLUMNS",
    "SWEEP_COLUMNS",
    "active_units",
    "cluster_sweep",
    "clustering_scores",
    "cross_modal_map",
    "cross_modal_mrr",
    "kl_per_dimension",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "median_rank",
    "modality_probe",
    "modality_references",
    "paired_ranks",
    "paired_retrieval_table",
    "recall_at_k",
    "retrieval_table",
    "top_k",
]
