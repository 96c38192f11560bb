"""The in-process cache of frozen towers' features, keyed by the content of each cell.

A frozen pretrained tower is a pure function of its input, so its features of
a cell never need computing twice in one process: cross-validation, a grid
search or the comparison fit many estimators on overlapping rows, and each
would otherwise run the tower again. :class:`FeatureCache` keeps the float32
feature vector of each cell under a digest of what the tower really reads
(the decoded, resized pixels; the text), together with everything else the
features depend on (the tower, its input size, its precision), and drops the
least recently used entries past a memory bound.

Why a cache of our own in memory, and ``joblib.Memory`` only where a user
passes one (the ``memory`` parameter of :class:`skmm.encoders.ImageTower` and
:class:`skmm.encoders.TextTower`): joblib keys on whole arguments and writes to
disk, so a fold's subset of rows would miss what the whole table stored, and
nothing may be written outside the data home unasked. Keyed per cell, any
subset of rows, in any order, hits.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["FeatureCache", "digest", "feature_cache"]

#: The default bound of :data:`feature_cache`: an image's 2,768 float32 features
#: (``ImageTower(layers="stages")``, the default) take 11 KiB, so 512 MiB keeps about
#: 48,000 images (100,000 with ``layers="head"``).
DEFAULT_MAX_BYTES = 512 * 2**20


def digest(*parts) -> bytes:
    """A 16-byte BLAKE2b digest of ``parts`` (bytes, str, or numpy arrays by their bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype.str, part.shape)).encode())
            part = np.ascontiguousarray(part).data
        elif isinstance(part, str):
            part = part.encode("utf-8", "surrogatepass")
        h.update(part)
        h.update(b"\x00")
    return h.digest()


class FeatureCache:
    """A least-recently-used map of digests to float32 vectors, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        The most bytes of vectors kept; 0 turns the cache off.

    Attributes
    ----------
    hits, misses : int
        Look-ups answered and not answered since the last :meth:`clear`.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self._items: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        """The bound in bytes; lowering it drops the least recently used entries at once
        (0 empties the cache and keeps it empty)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        with self._lock:
            self._max_bytes = int(value)
            self._trim()

    def _trim(self) -> None:
        """Drop the least recently used entries until the bound holds (lock held)."""
        while self._items and self._bytes > self._max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.nbytes

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes of vectors held now."""
        return self._bytes

    def get(self, key: bytes):
        """The vector stored under ``key``, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: bytes, value: np.ndarray) -> None:
        """Store a copy of ``value`` (float32, read-only) under ``key``."""
        value = np.array(value, dtype=np.float32)
        value.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if value.nbytes > self._max_bytes or self._max_bytes <= 0:
                return
            self._items[key] = value
            self._bytes += value.nbytes
            self._trim()

    def clear(self) -> None:
        """Drop every vector and reset the counters."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def info(self) -> dict:
        """``{"entries", "nbytes", "max_bytes", "hits", "misses"}``."""
        return {"entries": len(self), "nbytes": self._bytes, "max_bytes": self.max_bytes,
                "hits": self.hits, "misses": self.misses}


#: The process-wide cache every tower reads and fills (``skmm.towers.feature_cache``).
#: ``feature_cache.max_bytes = 0`` turns it off; ``feature_cache.clear()`` empties it.
feature_cache = FeatureCache()
