"""Targets row by row: class ids, runs of equal labels, and two-sample tests.

Plain numpy, no SciPy: the chi-square tail uses the Wilson-Hilferty
approximation and the Kolmogorov-Smirnov p-value its asymptotic series,
both accurate to far better than the thresholds they are compared with.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .losses import PROBABILITY_LOSSES, REGRESSION_LOSSES

# Float targets with more distinct values than this are treated as continuous when the loss doesn't say.
MAX_GUESSED_CLASSES = 50


def class_ids(y: Any, loss: str | None) -> tuple[np.ndarray, list[str]] | None:
    """One class id per row (0..C-1) and the class names, or None for regression targets."""
    if y is None or hasattr(y, "tocsr") or loss in REGRESSION_LOSSES:
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] > 1 and np.issubdtype(y.dtype, np.number):
        if ((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all():
            return np.argmax(y, axis=1), [str(i) for i in range(y.shape[1])]
        return None
    if y.ndim != 1 or not y.size:
        return None
    if y.dtype.kind in "iu":
        values, ids = _integer_ids(y)
    elif y.dtype.kind in "USb":
        values, ids = np.unique(y, return_inverse=True)
    elif y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        values, ids = np.unique(y, return_inverse=True)
        if loss not in PROBABILITY_LOSSES and len(values) > MAX_GUESSED_CLASSES:
            return None
        values = values.astype(np.int64)
    else:
        return None
    return ids.reshape(-1), [str(v) for v in values]


def _integer_ids(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)`` for integer labels, by counting instead of sorting when the range is small.

    Sorting two million labels takes a few tenths of a second; counting them, a few hundredths.
    """
    low, high = int(y.min()), int(y.max())
    if high - low > max(1 << 16, 2 * len(y)):
        return np.unique(y, return_inverse=True)
    shifted = (y - low).astype(np.intp, copy=False) if low else y.astype(np.intp, copy=False)
    present = np.flatnonzero(np.bincount(shifted, minlength=high - low + 1))
    lookup = np.zeros(high - low + 1, dtype=np.intp)
    lookup[present] = np.arange(len(present))
    return (present + low).astype(y.dtype), lookup[shifted]


def numeric_targets(y: Any) -> np.ndarray | None:
    """1-D finite float targets, or None."""
    if y is None or hasattr(y, "tocsr"):
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not y.size or not np.issubdtype(y.dtype, np.number):
        return None
    y = y.astype(np.float64, copy=False)
    return y if np.isfinite(y).all() else None


def label_runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start row of each run of equal labels, and the label of each run."""
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return starts, ids[starts]


def chi2_homogeneity(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of the chi-square test that two count vectors come from one distribution."""
    table = np.vstack([a, b]).astype(np.float64)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / np.where(expected > 0, expected, 1.0)))
    return chi2_sf(stat, table.shape[1] - 1)


def chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-square distribution (Wilson-Hilferty approximation)."""
    if dof <= 0:
        return 1.0
    if x <= 0:
        return 1.0
    z = ((x / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov distance and its asymptotic p-value."""
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    d = float(
        np.max(np.abs(np.searchsorted(a, points, "right") / len(a) - np.searchsorted(b, points, "right") / len(b)))
    )
    ne = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    if lam < 0.2:
        return d, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))
