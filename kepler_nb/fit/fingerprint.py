"""Content fingerprints and statistics of training data.

A fingerprint reads every byte of every array (with its shape and dtype), so
two data sets differing in one value differ; unlike a digest of the first few
thousand values, it can't confuse two image sets that share a prefix. Each
MiB of an array's bytes is summed up by its CRC-32 and the CRC-32s, shapes
and dtypes by SHA-256: a change anywhere changes the fingerprint unless it
leaves its block's CRC-32 as it was, which never happens to a change within
32 consecutive bits (one value of float32 or smaller) and happens to one
other change in 4 billion. zlib's CRC-32 reads about 6 GB/s here, four
times SHA-256's speed: 0.13 s for 2,000,000 x 100 float32.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .data import DataView

# Float targets with at most this many distinct integer values are class labels.
MAX_CLASSES = 1000
HASH_CHUNK_BYTES = 8 << 20  # non-contiguous arrays are hashed this much at a time
BLOCK_BYTES = 1 << 20  # each block of this many bytes of an array is summed up by its CRC-32
_hashing: ThreadPoolExecutor | None = None


def fingerprint(view: DataView) -> str | None:
    """A short hex digest of the view's content (of its sample, when sampled)."""
    if view.problem:
        return None
    digest = _BlockDigest()
    for group in (view.inputs, view.targets):
        for name in sorted(group):
            _hash_array(digest, name, group[name])
    if not view.complete:
        digest.text(f"sample:{view.note}")
    return digest.hexdigest()[:16]


class _BlockDigest:
    """SHA-256 of the text given and of the CRC-32 of each ``BLOCK_BYTES`` of the bytes given.

    The blocks are counted over the bytes however they come, so an array
    copied a few rows at a time gets the fingerprint of the whole.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._crc = 0
        self._filled = 0

    def text(self, text: str) -> None:
        self._end_block()
        self._sha.update(text.encode())

    def bytes(self, data: memoryview) -> None:
        at = 0
        while at < len(data):
            take = min(BLOCK_BYTES - self._filled, len(data) - at)
            self._crc = zlib.crc32(data[at : at + take], self._crc)  # lets go of the GIL meanwhile
            self._filled += take
            at += take
            if self._filled == BLOCK_BYTES:
                self._end_block()

    def hexdigest(self) -> str:
        self._end_block()
        return self._sha.hexdigest()

    def _end_block(self) -> None:
        if self._filled:
            self._sha.update(self._crc.to_bytes(4, "little"))
            self._crc = self._filled = 0


def _hash_array(digest: _BlockDigest, name: str, array: Any) -> None:
    if hasattr(array, "tocsr"):  # scipy.sparse: its canonical CSR parts
        csr = array.tocsr()
        csr.sum_duplicates()
        digest.text(f"{name}:sparse:{csr.shape}")
        for part in (csr.data, csr.indices, csr.indptr):
            _hash_array(digest, name, part)
        return
    array = np.asarray(array)
    digest.text(f"{name}:{array.dtype.str}:{array.shape}")
    if array.dtype == object:
        digest.text(repr(array.tolist()))
    elif array.flags.c_contiguous:
        digest.bytes(memoryview(array).cast("B"))  # no copy
    else:
        # The same bytes as the whole C-ordered array, a few megabytes of it copied at a time.
        step = max(1, HASH_CHUNK_BYTES // max(1, array[:1].nbytes)) if array.ndim else 1
        for start in range(0, len(array) if array.ndim else 1, step):
            digest.bytes(
                memoryview(np.ascontiguousarray(array[start : start + step] if array.ndim else array)).cast("B")
            )


def fingerprint_soon(view: DataView | None) -> Future[str | None]:
    """``fingerprint(view)`` on a background thread.

    Hashing lets go of the GIL, so with a second core it runs beside the
    pre-training checks instead of after them.
    """
    global _hashing
    if _hashing is None:
        _hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kepler-fingerprint")
    return _hashing.submit(lambda: fingerprint(view) if view is not None else None)


def data_statistics(view: DataView, fingerprinted: Future[str | None] | None = None) -> dict[str, Any]:
    """Shapes, dtypes, sample and feature counts, class counts: what a reader of the record wants.

    ``fingerprinted`` is the view's :func:`fingerprint_soon`, when one was started.
    """
    stats: dict[str, Any] = {
        "kind": view.kind,
        "complete": view.complete,
        "n_samples": view.n_samples,
        "note": view.note,
        "inputs": {k: _describe_array(v) for k, v in view.inputs.items()},
        "targets": {k: _describe_array(v) for k, v in view.targets.items()},
        "fingerprint": fingerprinted.result() if fingerprinted is not None else fingerprint(view),
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
    if np.issubdtype(y.dtype, np.integer):
        values, counts = integer_counts(y)
    elif y.dtype == bool:
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


def integer_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_counts=True)`` for integer labels; counting, not sorting, when their range is small."""
    low, high = int(y.min()), int(y.max())
    if high - low > max(1 << 16, 2 * len(y)):
        return np.unique(y, return_counts=True)
    counts = np.bincount((y - low).astype(np.intp, copy=False) if low else y.astype(np.intp, copy=False))
    present = np.flatnonzero(counts)
    return present + low, counts[present]
