"""Search at scale: a gallery embedded once, saved, and queried many times.

* :class:`GalleryIndex` holds the embeddings of one modality of a table (unit
  length, float32) and the table's row labels. A fitted
  :class:`~skmm.CommonSpaceEmbedder` builds one with
  :meth:`~skmm.CommonSpaceEmbedder.build_index` (or
  :meth:`GalleryIndex.from_embedder`); ``retrieve`` accepts it in place of a
  gallery frame and then embeds only the queries. Exact search by default
  (:func:`skmm.metrics.top_k`, in bounded memory); approximate search by a
  faiss HNSW graph (the ``ann`` extra: ``pip install skmm[ann]``) when asked
  for, or past :data:`AUTO_HNSW_ROWS` rows with ``method="auto"``.
* :func:`retrieve` is what the embedders' ``retrieve`` runs: embed the
  queries, search a gallery frame (embedded too) or an index.

No torch here: the module works on any embedding, and any object with an
``embed(X, modality)`` method can build an index.
"""

from skmm.search.index import AUTO_HNSW_ROWS, GalleryIndex, retrieve

__all__ = ["AUTO_HNSW_ROWS", "GalleryIndex", "retrieve"]
