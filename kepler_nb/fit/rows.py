"""Row hashes: which rows of one array are rows of another, in one vectorised pass.

A row's hash is the wrapping sum of its 64-bit words (its values as
float64) times fixed odd random weights: equal rows hash alike whatever
their dtype; two different rows collide with probability about 2**-64. Used
to tell that the rows a score was computed on were part of some fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK_VALUES = 1 << 20  # values hashed at a time (8 MB as float64)
MAX_ROWS = 2_000_000  # larger arrays are not hashed row by row


def row_hashes(x: Any) -> np.ndarray | None:
    """One uint64 per row of a numeric 2-D array (or pandas frame); None when it can't be read."""
    if hasattr(x, "select_dtypes"):
        try:
            x = x.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            return None
    if hasattr(x, "tocsr"):
        return None
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if x.ndim < 1 or x.dtype.kind not in "biuf" or len(x) > MAX_ROWS or len(x) == 0:
        return None
    x = x.reshape(len(x), -1)
    width = x.shape[1]
    weights = np.random.default_rng([7, width]).integers(1, 2**63, width, dtype=np.uint64) | np.uint64(1)
    out = np.empty(len(x), dtype=np.uint64)
    step = max(1, CHUNK_VALUES // max(width, 1))
    with np.errstate(over="ignore"):
        for start in range(0, len(x), step):
            words = np.ascontiguousarray(x[start : start + step], dtype=np.float64).view(np.uint64)
            out[start : start + len(words)] = (words * weights).sum(axis=1, dtype=np.uint64)
    return out


def share_in(hashes: np.ndarray | None, known: np.ndarray | None) -> float:
    """The share of ``hashes`` found in ``known``."""
    if hashes is None or known is None or not len(hashes) or not len(known):
        return 0.0
    return float(np.isin(hashes, known, assume_unique=False).mean())
