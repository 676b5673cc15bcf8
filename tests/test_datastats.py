"""The shared statistics of the data checks give what a plain sort or np.unique would, in linear time after one sort."""

from __future__ import annotations

import numpy as np
import pytest

from kepler_nb.checks.datastats import KeyGroups
from kepler_nb.checks.targets import class_ids
from kepler_nb.fit.fingerprint import class_counts, fingerprint_soon


@pytest.mark.parametrize("distinct", [1, 7, 5000, 2**62])
def test_key_groups_are_the_stable_sort(distinct):
    keys = np.random.default_rng(distinct % 97).integers(0, distinct, 20_000).astype(np.uint64)
    groups = KeyGroups.of(keys)
    assert np.array_equal(groups.order, np.argsort(keys, kind="stable"))
    starts, first = KeyGroups.first_of_group(groups.before(15_000), keys)
    _, first_seen, inverse = np.unique(keys[:15_000], return_index=True, return_inverse=True)
    assert np.array_equal(
        np.sort(groups.before(15_000)[~starts]), np.flatnonzero(first_seen[inverse] != np.arange(15_000))
    )
    assert np.array_equal(first[np.argsort(groups.before(15_000))], first_seen[inverse])


@pytest.mark.parametrize(
    "y",
    [
        np.random.default_rng(0).integers(0, 10, 5000),
        np.random.default_rng(1).integers(-5, 5, 5000).astype(np.int8),
        np.array([3, 3, 7], dtype=np.uint64),
        np.array([2**62, -(2**62), 0]),  # a range too wide to count: sorted as before
    ],
)
def test_integer_labels_are_counted_as_np_unique_would(y):
    ids, names = class_ids(y, "sparse_categorical_crossentropy")
    values, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    assert names == [str(v) for v in values] and np.array_equal(ids, inverse.reshape(-1))
    assert class_counts(y) == {str(v): int(c) for v, c in zip(values, counts)}


def test_a_strided_array_is_fingerprinted_a_chunk_at_a_time_as_if_whole(monkeypatch):
    import hashlib

    from kepler_nb.fit import fingerprint as fp
    from kepler_nb.fit.data import view_arrays

    x = np.arange(3000, dtype=np.float32).reshape(100, 30)[:, ::2]  # not contiguous
    y = np.arange(100)
    monkeypatch.setattr(fp, "HASH_CHUNK_BYTES", 100)  # many chunks
    view = view_arrays(x, y)
    whole = hashlib.sha256()
    for name, array in (("x", x), ("y", y)):
        whole.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        whole.update(np.ascontiguousarray(array).tobytes())
    assert fp.fingerprint(view) == whole.hexdigest()[:16]
    assert fingerprint_soon(view).result() == fp.fingerprint(view)
    changed = x.copy()
    changed[99, 14] += 1
    assert fp.fingerprint(view_arrays(changed, y)) != fp.fingerprint(view)


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((1003, 7), np.float32),
        ((5, 3), np.float64),
        ((9, 2, 3), np.int16),
        ((3, 1), np.uint8),
        ((2000, 100), np.float32),
    ],
)
def test_array_stats_extremes_and_moments_are_numpys(shape, dtype):
    """Every row counts, also the few left over after the rows reduced side by side, and rows with NaN or Inf."""
    from kepler_nb.checks.datastats import array_stats

    x = (np.random.default_rng(3).random(shape) * 100).astype(dtype)
    x.reshape(len(x), -1)[-1, 0] = 101  # the maximum in the last row
    if np.issubdtype(dtype, np.floating):
        x.reshape(len(x), -1)[1, 1], x.reshape(len(x), -1)[-2, -1] = np.nan, -np.inf
    s = array_stats("x", x)
    f = x.reshape(len(x), -1).astype(np.float64)
    finite = np.where(np.isfinite(f), f, np.nan)
    assert np.array_equal(s.low, np.nanmin(finite, axis=0)) and np.array_equal(s.high, np.nanmax(finite, axis=0))
    assert np.allclose(s.mean, np.nanmean(finite, axis=0)) and np.allclose(s.std, np.nanstd(finite, axis=0))
    assert s.nan.sum() == np.isnan(f).sum() and s.inf.sum() == np.isinf(f).sum()
