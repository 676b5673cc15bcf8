"""The shared statistics of the data checks give what a plain sort or np.unique would, in linear time after one sort."""

from __future__ import annotations

import numpy as np
import pytest

from kepler_nb.checks.datastats import KeyGroups
from kepler_nb.checks.targets import class_ids
from kepler_nb.fit.fingerprint import class_counts, fingerprint_soon


@pytest.mark.parametrize("distinct", [1, 7, 5000, 30_000, 2**62])
def test_key_groups_are_the_stable_sort_of_the_rows_that_share_a_key(distinct):
    keys = np.random.default_rng(distinct % 97).integers(0, distinct, 20_000).astype(np.uint64)
    groups = KeyGroups.of(keys)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    stable = np.argsort(keys, kind="stable")
    assert np.array_equal(groups.order, stable[counts[inverse[stable]] > 1])
    starts, first = KeyGroups.first_of_group(groups.before(15_000), keys)
    _, first_seen, inverse = np.unique(keys[:15_000], return_index=True, return_inverse=True)
    assert np.array_equal(
        np.sort(groups.before(15_000)[~starts]), np.flatnonzero(first_seen[inverse] != np.arange(15_000))
    )
    grouped = np.sort(groups.before(15_000))
    assert np.array_equal(first[np.argsort(groups.before(15_000))], first_seen[inverse][grouped])


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
    from kepler_nb.fit import fingerprint as fp
    from kepler_nb.fit.data import view_arrays

    x = np.arange(3000, dtype=np.float32).reshape(100, 30)[:, ::2]  # not contiguous
    y = np.arange(100)
    whole = fp.fingerprint(view_arrays(np.ascontiguousarray(x), y))
    monkeypatch.setattr(fp, "HASH_CHUNK_BYTES", 100)  # many chunks ...
    monkeypatch.setattr(fp, "BLOCK_BYTES", 72)  # ... whose blocks end within them
    view = view_arrays(x, y)
    assert fp.fingerprint(view) == fp.fingerprint(view_arrays(np.ascontiguousarray(x), y)) != whole
    assert fingerprint_soon(view).result() == fp.fingerprint(view)
    changed = x.copy()
    changed[99, 14] += 1
    assert fp.fingerprint(view_arrays(changed, y)) != fp.fingerprint(view)


def test_every_change_of_one_value_or_of_the_order_of_blocks_changes_the_fingerprint(monkeypatch):
    from kepler_nb.fit import fingerprint as fp
    from kepler_nb.fit.data import view_arrays

    monkeypatch.setattr(fp, "BLOCK_BYTES", 1024)  # 128 float64 values a block
    x = np.random.default_rng(5).normal(size=(64, 40))
    y = np.zeros(64)
    seen = {fp.fingerprint(view_arrays(x, y))}
    for at in [0, 1, 127, 128, 129, 1000, 2559]:  # block edges and middles
        for change in (np.nextafter(x.flat[at], np.inf), -x.flat[at], 0.0):
            changed = x.copy()
            changed.flat[at] = change
            seen.add(fp.fingerprint(view_arrays(changed, y)))
    swapped = x.copy().reshape(-1)
    swapped[:128], swapped[128:256] = x.reshape(-1)[128:256], x.reshape(-1)[:128]
    seen.add(fp.fingerprint(view_arrays(swapped.reshape(x.shape), y)))
    seen.add(fp.fingerprint(view_arrays(x.astype(np.float32), y)))
    seen.add(fp.fingerprint(view_arrays(x.reshape(32, 80), y[:32])))
    assert len(seen) == 1 + 7 * 3 + 3


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_moments_far_from_zero_keep_their_precision(dtype):
    """Values of 10,000 +- 2: summed around the first row, the spread is not lost in the offset."""
    from kepler_nb.checks.datastats import array_stats

    rng = np.random.default_rng(9)
    x = (10_000 + rng.normal(0, 2, (20_000, 3))).astype(dtype)
    s = array_stats("x", x)
    f = x.astype(np.float64)
    assert np.allclose(s.mean, f.mean(axis=0), rtol=1e-9) and np.allclose(s.std, f.std(axis=0), rtol=1e-5)


@pytest.mark.parametrize(
    "a, b",
    [
        (np.random.default_rng(0).integers(0, 10, 900), np.random.default_rng(1).integers(0, 10, 100)),
        (np.arange(-3, 3).repeat(5).astype(np.int8), np.array([-3, 7], dtype=np.int8)),  # a class only in b
        (np.array([[2], [2], [5]], dtype=np.uint64), np.array([[5], [9]], dtype=np.uint64)),
    ],
)
def test_integer_class_counts_of_two_parts_are_those_of_the_joined_labels(a, b):
    from kepler_nb.checks.setup import _integer_class_counts

    counted = _integer_class_counts(a, b, "sparse_categorical_crossentropy")
    ids, names = class_ids(np.concatenate([a, b]), "sparse_categorical_crossentropy")
    k = len(names)
    assert counted is not None and counted[2] == names
    assert np.array_equal(counted[0], np.bincount(ids[: len(a)], minlength=k))
    assert np.array_equal(counted[1], np.bincount(ids[len(a) :], minlength=k))
    assert _integer_class_counts(a, b, "mean_squared_error") is None
