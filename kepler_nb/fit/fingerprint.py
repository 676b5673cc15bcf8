"""Content fingerprints and statistics of training data.

A fingerprint hashes every byte of every array (with its shape and dtype),
so two data sets differing in one value differ; unlike a digest of the first
few thousand values, it can't confuse two image sets that share a prefix.
SHA-256 reads about 2 GB/s here: 0.1 s for 60,000 x 784 float32.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .data import DataView

# Float targets with at most this many distinct integer values are class labels.
MAX_CLASSES = 1000


def fingerprint(view: DataView) -> str | None:
    """A short hex digest of the view's content (of its sample, when sampled)."""
    if view.problem:
        return None
    digest = hashlib.sha256()
    for group in (view.inputs, view.targets):
        for name in sorted(group):
            _hash_array(digest, name, group[name])
    if not view.complete:
        digest.update(f"sample:{view.note}".encode())
    return digest.hexdigest()[:16]


def _hash_array(digest: Any, name: str, array: Any) -> None:
    if hasattr(array, "tocsr"):  # scipy.sparse: its canonical CSR parts
        csr = array.tocsr()
        csr.sum_duplicates()
        digest.update(f"{name}:sparse:{csr.shape}".encode())
        for part in (csr.data, csr.indices, csr.indptr):
            _hash_array(digest, name, part)
        return
    array = np.asarray(array)
    digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
    if array.dtype == object:
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))


def data_statistics(view: DataView) -> dict[str, Any]:
    """Shapes, dtypes, sample and feature counts, class counts: what a reader of the record wants."""
    stats: dict[str, Any] = {
        "kind": view.kind,
        "complete": view.complete,
        "n_samples": view.n_samples,
        "note": view.note,
        "inputs": {k: _describe_array(v) for k, v in view.inputs.items()},
        "targets": {k: _describe_array(v) for k, v in view.targets.items()},
        "fingerprint": fingerprint(view),
    }
    if view.problem:
        stats["problem"] = view.problem
    if view.x is not None:
        stats["n_features"] = stats["inputs"][next(iter(view.inputs))]["n_features"]
    if view.y is not None:
        counts = class_counts(view.y)
        if counts is not None:
            stats["class_counts"] = counts
    return stats


def _describe_array(array: Any) -> dict[str, Any]:
    shape = tuple(int(s) for s in array.shape)
    return {
        "shape": list(shape),
        "dtype": str(array.dtype),
        "n_features": int(np.prod(shape[1:])) if len(shape) > 1 else 1,
    }


def class_counts(y: Any) -> dict[str, int] | None:
    """Samples per class for classification labels (integer or one-hot); None for regression."""
    if hasattr(y, "tocsr"):
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.size and np.issubdtype(y.dtype, np.number):
        if ((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all():
            return {str(i): int(c) for i, c in enumerate(y.sum(axis=0))}
        return None
    if y.ndim != 1 or not y.size:
        return None
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        values, counts = np.unique(y, return_counts=True)
    elif np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            return None
        values, counts = np.unique(y, return_counts=True)
        if len(values) > MAX_CLASSES or len(values) > len(y) // 2:
            return None
        values = values.astype(np.int64)
    elif y.dtype.kind in "US":
        values, counts = np.unique(y, return_counts=True)
    else:
        return None
    return {str(v): int(c) for v, c in zip(values, counts)}
