"""Argument checks shared by the metrics."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_array


def _check_embedding(Z, *, min_samples=1, name="Z"):
    """Validate an embedding matrix: 2-D, numeric, finite, float32/float64."""
    return check_array(
        Z,
        dtype=[np.float64, np.float32],
        ensure_2d=True,
        ensure_min_samples=min_samples,
        input_name=name,
    )


def _check_int(value, name, *, low=None, high=None):
    """Return ``value`` as int, or raise a ValueError that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        # ValueError (not TypeError) so callers catch every bad-argument case alike
        raise ValueError(f"{name} must be an integer, got {value!r}")  # noqa: TRY004
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value
