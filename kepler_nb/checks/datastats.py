"""Statistics of the data given to ``fit``, computed once and shared by the K3xx checks.

One pass over each array, in chunks of rows small enough to stay in cache,
gives per-feature minimum, maximum, mean and standard deviation, NaN and Inf
counts, and a hash of every row (for duplicates, conflicting labels and
leakage). A bounded random sample of rows and features serves the checks that
compare samples or features with each other. Every chunk is a float64 copy
(the extremes of finite chunks are taken in the array's own dtype, and the
moments of float32 data in float32): the user's arrays are only read.

The row hash is the dot product of the row's values (as float64) with fixed
random weights. Equal rows always hash alike, whatever their dtype; rows that
hash alike are compared value by value before anything is reported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .registry import Skip

if TYPE_CHECKING:
    from ..fit.data import DataView

# Rows are read in chunks of about this many values (2 MB as float64).
CHUNK_VALUES = 256 * 1024
# The sample that samples and features are compared on.
SAMPLE_ROWS = 4096
SAMPLE_FEATURES = 1024
# At most this many supposedly equal pairs of rows are compared value by value.
VERIFY_ROWS = 2000
SEED = 20190101  # a private generator: global random state is never touched


def is_sparse(array: Any) -> bool:
    return hasattr(array, "tocsr") and hasattr(array, "nnz")


def unusable(array: Any) -> str | None:
    """Why ``array`` can't be inspected as numbers, or None."""
    if array is None:
        return "it is missing"
    dtype = getattr(array, "dtype", None)
    if dtype is None:
        return f"it is a {type(array).__name__}, not an array"
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)) or np.issubdtype(
        dtype, np.complexfloating
    ):
        return f"its dtype is {dtype}, not numeric"
    if getattr(array, "ndim", 0) == 0:
        return "it is a single value, not an array of samples"
    if array.shape[0] == 0:
        return "it is empty"
    if 0 in array.shape[1:]:
        return f"its samples hold no values (shape {tuple(array.shape)})"
    return None


@dataclass
class ArrayStats:
    """Per-feature statistics of one array (features are the values of one sample, flattened)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    sparse: bool
    low: np.ndarray  # smallest finite value per feature (NaN where none)
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    nan: np.ndarray  # NaN count per feature
    inf: np.ndarray  # +-Inf count per feature
    hashes: np.ndarray  # one float64 per row; NaN or Inf where the row holds NaN or Inf

    @property
    def n(self) -> int:
        return self.shape[0]

    @property
    def features(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64))

    @property
    def varying(self) -> np.ndarray:
        """Features that take more than one value."""
        return self.high > self.low

    def position(self, feature: int) -> str:
        """A feature's index as the user sees it: ``7`` or ``(0, 3, 1)`` for images."""
        if len(self.shape) <= 2:
            return str(int(feature))
        return str(tuple(int(i) for i in np.unravel_index(int(feature), self.shape[1:])))


def hash_weights(features: int, slot: int) -> np.ndarray:
    """The fixed weights of the row hash for an array of ``features`` values in position ``slot``."""
    return np.random.default_rng([SEED, features, slot]).uniform(1.0, 2.0, features)


def array_stats(name: str, array: Any, slot: int = 0) -> ArrayStats:
    """One pass over ``array`` (dense or scipy.sparse); it is only read."""
    if is_sparse(array):
        return _sparse_stats(name, array, slot)
    n = array.shape[0]
    d = int(np.prod(array.shape[1:], dtype=np.int64))
    weights = hash_weights(d, slot)
    low, high = np.full(d, np.inf), np.full(d, -np.inf)
    total, squares = np.zeros(d), np.zeros(d)
    nan, inf = np.zeros(d, np.int64), np.zeros(d, np.int64)
    hashes = np.empty(n)
    # Moments are summed around the first row, so large offsets don't cancel out precision.
    shift = np.nan_to_num(np.array(array[0], dtype=np.float64).reshape(d), nan=0.0, posinf=0.0, neginf=0.0)
    work = _moment_dtype(array.dtype)
    work_shift = shift.astype(work)
    step = max(8, CHUNK_VALUES // max(d, 1))
    native = np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    for start in range(0, n, step):
        raw = np.asarray(array[start : start + step]).reshape(-1, d)
        chunk = np.array(raw, dtype=np.float64, copy=True)
        h = np.einsum("ij,j->i", chunk, weights)  # not BLAS: its result for a row may depend on its neighbours
        hashes[start : start + len(chunk)] = h
        bad_rows = ~np.isfinite(h)
        if not bad_rows.any():
            # Every value is finite: the extremes are exact in the array's own dtype, at half the bandwidth.
            _extremes(raw if native else chunk, low, high)
            if work == np.float64:
                chunk -= shift
                centred = chunk
            else:
                centred = np.subtract(raw, work_shift, dtype=work)
        else:
            rows = chunk[bad_rows]
            is_nan, is_inf = np.isnan(rows), np.isinf(rows)
            nan += is_nan.sum(axis=0)
            inf += is_inf.sum(axis=0)
            mask = np.zeros(chunk.shape, dtype=bool)
            mask[bad_rows] = is_nan | is_inf
            chunk[mask] = np.nan  # ignored by fmin/fmax
            _extremes(chunk, low, high)
            chunk -= shift
            chunk[mask] = 0.0
            centred = chunk
        _add_moments(centred, total, squares)
    count = np.maximum(n - nan - inf, 1)
    centred = total / count
    std = np.sqrt(np.maximum(squares / count - centred**2, 0.0))
    never = low > high  # no finite value at all
    low[never], high[never] = np.nan, np.nan
    return ArrayStats(name, tuple(array.shape), array.dtype, False, low, high, shift + centred, std, nan, inf, hashes)


# Moments of float32 (and smaller) data are summed in float32 by BLAS, this many rows at a time, into
# float64 totals: twice the speed of float64 sums, and within 1e-5 of them (rows are centred first).
MOMENT_ROWS = 4096


def _moment_dtype(dtype: np.dtype) -> np.dtype:
    """float32 where every value of ``dtype`` is exact in it (float16/32, bool, 8- and 16-bit integers)."""
    exact = dtype.kind == "b" or (dtype.kind in "iuf" and dtype.itemsize <= (4 if dtype.kind == "f" else 2))
    return np.dtype(np.float32) if exact else np.dtype(np.float64)


def _add_moments(centred: np.ndarray, total: np.ndarray, squares: np.ndarray) -> None:
    """Add the column sums and sums of squares of ``centred`` (overwritten) to ``total`` and ``squares``."""
    ones = np.ones(min(len(centred), MOMENT_ROWS), dtype=centred.dtype)
    for start in range(0, len(centred), MOMENT_ROWS):
        block = centred[start : start + MOMENT_ROWS]
        total += ones[: len(block)] @ block
        np.multiply(block, block, out=block)
        squares += ones[: len(block)] @ block


# Up to this many keys shared by several rows, the rows holding them are found by comparing every key with each.
FEW_SHARED_KEYS = 16
FOLD = 8  # rows reduced side by side: longer inner loops for narrow arrays


def _extremes(rows: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """Lower ``low`` and raise ``high`` to each column's extremes in ``rows`` (NaN is passed over).

    Reducing a narrow array down its rows is mostly per-row overhead: ``FOLD`` rows are laid side
    by side first, which takes a third of the time for 100 columns. ``fmin.reduce`` also runs at
    three times ``np.min``'s speed here.
    """
    whole = len(rows) // FOLD * FOLD
    parts = [rows[whole:]] if whole < len(rows) else []
    if whole:
        folded = rows[:whole].reshape(whole // FOLD, FOLD * rows.shape[1])
        parts.append(np.fmin.reduce(folded, axis=0).reshape(FOLD, -1))
        parts.append(np.fmax.reduce(folded, axis=0).reshape(FOLD, -1))
    for part in parts:
        np.fmin(low, np.fmin.reduce(part, axis=0), out=low)
        np.fmax(high, np.fmax.reduce(part, axis=0), out=high)


def _sparse_stats(name: str, array: Any, slot: int) -> ArrayStats:
    x = array.tocsr().astype(np.float64, copy=True)  # never the user's matrix: it is changed below
    x.sum_duplicates()
    x.eliminate_zeros()
    n, d = x.shape
    data = x.data
    nan_at, inf_at = np.isnan(data), np.isinf(data)
    cols = x.indices
    nan = np.bincount(cols[nan_at], minlength=d).astype(np.int64)
    inf = np.bincount(cols[inf_at], minlength=d).astype(np.int64)
    if nan_at.any() or inf_at.any():
        x.data = np.where(nan_at | inf_at, 0.0, data)
    low = np.asarray(x.min(axis=0).todense(), dtype=np.float64).ravel()
    high = np.asarray(x.max(axis=0).todense(), dtype=np.float64).ravel()
    mean = np.asarray(x.mean(axis=0), dtype=np.float64).ravel()
    squares = np.asarray(x.multiply(x).mean(axis=0), dtype=np.float64).ravel()
    std = np.sqrt(np.maximum(squares - mean**2, 0.0))
    hashes = x @ hash_weights(d, slot)
    bad = np.zeros(n, dtype=bool)
    bad[np.repeat(np.arange(n), np.diff(x.indptr))[nan_at | inf_at]] = True
    hashes[bad] = np.nan
    return ArrayStats(name, (n, d), array.dtype, True, low, high, mean, std, nan, inf, np.asarray(hashes))


def row_keys(parts: list[ArrayStats]) -> tuple[np.ndarray, np.ndarray]:
    """A uint64 key per row over several arrays, and which rows are hashable (no NaN/Inf).

    Rows that are not hashable get keys of their own, so they never match.
    The keys of one array whose rows are all hashable are its hashes, seen
    as integers: on millions of rows, a new array costs more to allocate here
    than to fill.
    """
    if len(parts) == 1:
        h = parts[0].hashes
        np.add(h, 0.0, out=h)  # -0.0 becomes 0.0: equal rows, equal bits
        ok = np.isfinite(h)
        if ok.all():
            return h.view(np.uint64), ok
        h = h.copy()
    else:
        h = parts[0].hashes + 0.0  # a copy of its own
        for part in parts[1:]:
            h += part.hashes
        ok = np.isfinite(h)
    keys = h.view(np.uint64)  # h is this function's own: no second copy
    keys[~ok] = np.iinfo(np.uint64).max - np.arange((~ok).sum(), dtype=np.uint64)
    return keys, ok


@dataclass
class KeyGroups:
    """The rows whose key another row shares, sorted by key (stably: equal keys in row order).

    Sorting once and sharing the order is what keeps duplicate, conflict and
    leakage checks on millions of rows under a second together: each of them
    sorting the keys again costs a few tenths of a second and a copy of them.
    Rows with a key of their own are left out: they are in no group, and on
    data without copies (the usual case) finding that out takes a plain sort
    of the keys, a fifth of the time of the sort that says where each row goes.
    """

    order: np.ndarray  # indices of the rows in groups of two or more, sorted by key

    @classmethod
    def of(cls, keys: np.ndarray) -> KeyGroups:
        sorted_keys = np.sort(keys)
        tied = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        if not len(tied):
            return cls(np.zeros(0, dtype=np.intp))
        shared = np.unique(sorted_keys[tied])
        del sorted_keys
        if len(shared) <= FEW_SHARED_KEYS:  # comparing with each is cheaper than sorting every row
            rows = np.flatnonzero(np.isin(keys, shared))
            return cls(rows[np.argsort(keys[rows], kind="stable")])
        # A quicksort, then only the runs of equal keys put in row order: half the time of a stable sort.
        order = np.argsort(keys)
        sorted_keys = keys[order]
        tied = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        at = np.unique(np.concatenate([tied, tied + 1]))
        return cls(order[at][np.lexsort((order[at], sorted_keys[at]))])

    def before(self, end: int | None) -> np.ndarray:
        """The order of the rows ``< end`` only (still sorted, still stable)."""
        return self.order if end is None else self.order[self.order < end]

    @staticmethod
    def first_of_group(order: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each position of ``order``: whether it starts a group of equal keys, and the group's first row."""
        if not len(order):
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        sorted_keys = keys[order]
        starts = np.empty(len(order), dtype=bool)
        starts[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
        del sorted_keys
        at = np.flatnonzero(starts)
        if len(at) == len(order):  # every key is unique: each row is its own group
            return starts, order
        return starts, np.repeat(order[at], np.diff(np.r_[at, len(order)]))


def rows_equal(a: list[Any], ia: np.ndarray, b: list[Any], ib: np.ndarray) -> np.ndarray:
    """Whether rows ``ia`` of arrays ``a`` equal rows ``ib`` of arrays ``b``, value by value."""
    equal = np.ones(len(ia), dtype=bool)
    for xa, xb in zip(a, b):
        d = _width(xa)
        if d != _width(xb):
            return np.zeros(len(ia), dtype=bool)
        step = max(1, CHUNK_VALUES // max(d, 1))
        for start in range(0, len(ia), step):
            part = slice(start, start + step)
            equal[part] &= (_dense_rows(xa, ia[part]) == _dense_rows(xb, ib[part])).all(axis=1)
    return equal


def _width(array: Any) -> int:
    return int(np.prod(array.shape[1:], dtype=np.int64))


def _dense_rows(array: Any, index: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    rows = array[index]
    if is_sparse(rows):
        rows = rows.toarray()
    rows = np.asarray(rows, dtype=np.float64).reshape(len(index), -1)
    return rows if columns is None else rows[:, columns]


def verified_share(a: list[Any], ia: np.ndarray, b: list[Any], ib: np.ndarray) -> float:
    """The share of claimed-equal row pairs that really are equal (on at most VERIFY_ROWS pairs)."""
    if len(ia) == 0:
        return 1.0
    pick = np.linspace(0, len(ia) - 1, min(len(ia), VERIFY_ROWS)).astype(np.int64)
    return float(rows_equal(a, ia[pick], b, ib[pick]).mean())


def sample_matrix(array: Any, stats: ArrayStats, rows: int = SAMPLE_ROWS, features: int = SAMPLE_FEATURES):
    """A random sample of rows and varying features as a float32 matrix, with the indices chosen.

    Returns ``(matrix, row_index, feature_index)``; non-finite values are replaced by the feature's mean.
    """
    rng = np.random.default_rng(SEED)
    n = stats.n
    row_index = np.arange(n) if n <= rows else np.sort(rng.choice(n, rows, replace=False))
    columns = np.flatnonzero(stats.varying)
    if len(columns) > features:
        columns = np.sort(rng.choice(columns, features, replace=False))
    every = len(columns) == stats.features
    if is_sparse(array):
        matrix = array.tocsr()[row_index][:, columns].toarray().astype(np.float32)
    else:
        step = max(1, CHUNK_VALUES // max(stats.features, 1))
        matrix = np.empty((len(row_index), len(columns)), dtype=np.float32)
        for start in range(0, len(row_index), step):
            part = array[row_index[start : start + step]].reshape(-1, stats.features)
            matrix[start : start + step] = part if every else part[:, columns]
    bad = ~np.isfinite(matrix)
    if bad.any():
        matrix = np.where(bad, stats.mean[columns].astype(np.float32), matrix)
    return matrix, row_index, columns


class DataStats:
    """The statistics of one set of data (a :class:`DataView`), computed on first use."""

    def __init__(self, view: DataView | None) -> None:
        self.view = view

    def _of(self, arrays: dict[str, Any], offset: int) -> tuple[dict[str, ArrayStats], dict[str, str]]:
        done, skipped = {}, {}
        for slot, (name, array) in enumerate(arrays.items()):
            why = unusable(array)
            if why:
                skipped[name] = why
            else:
                done[name] = array_stats(name, array, offset + slot)
        return done, skipped

    @functools.cached_property
    def _inputs(self) -> tuple[dict[str, ArrayStats], dict[str, str]]:
        return self._of(self._view().inputs, 0)

    @functools.cached_property
    def _targets(self) -> tuple[dict[str, ArrayStats], dict[str, str]]:
        return self._of(self._view().targets, 1000)

    def _view(self) -> DataView:
        if self.view is None:
            raise Skip("there is no such data")
        if self.view.problem:
            raise Skip(self.view.problem)
        return self.view

    def parts(self, kind: str) -> tuple[dict[str, ArrayStats], dict[str, str]]:
        """``(statistics, {name: why not inspected})`` of the ``"inputs"`` or ``"targets"``."""
        return self._inputs if kind == "inputs" else self._targets

    @property
    def inputs(self) -> dict[str, ArrayStats]:
        """Statistics of every numeric input; Skip when there is none."""
        done, skipped = self._inputs
        if not done:
            if not skipped:
                raise Skip("no inputs were given")
            raise Skip("; ".join(f"input '{k}' can't be inspected: {why}" for k, why in skipped.items()))
        return done

    @property
    def skipped_inputs(self) -> dict[str, str]:
        return self._inputs[1]

    @property
    def targets(self) -> dict[str, ArrayStats]:
        done, skipped = self._targets
        if not done:
            if not skipped:
                raise Skip("no targets were given")
            raise Skip("; ".join(f"target '{k}' can't be inspected: {why}" for k, why in skipped.items()))
        return done

    @functools.cached_property
    def input_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Row keys over all inputs (see :func:`row_keys`); Skip if an input was not inspected."""
        if self.skipped_inputs:
            name, why = next(iter(self.skipped_inputs.items()))
            raise Skip(f"input '{name}' can't be compared row by row: {why}")
        return row_keys(list(self.inputs.values()))

    @functools.cached_property
    def target_keys(self) -> tuple[np.ndarray, np.ndarray]:
        return row_keys(list(self.targets.values()))

    @functools.cached_property
    def input_groups(self) -> KeyGroups:
        """The rows grouped by their input key: one sort, shared by every check that looks for equal rows."""
        return KeyGroups.of(self.input_keys[0])

    def input_arrays(self) -> list[Any]:
        return [self._view().inputs[name] for name in self.inputs]

    @property
    def n(self) -> int:
        return next(iter(self.inputs.values())).n

    def prefix(self, name: str) -> str:
        """``""`` for the only input, ``"input 'image': "`` for one of several."""
        return "" if len(self.inputs) == 1 else f"input '{name}': "

    def scope(self) -> str:
        """`` (only a sample was inspected: ...)`` for sampled data, else empty."""
        view = self.view
        if view is None or view.complete:
            return ""
        return f" (only a sample was inspected: {view.note or 'the first batches'})"


def percent(part: float, whole: float) -> str:
    """``"3.8%"``, ``"62%"``."""
    share = 100.0 * part / whole if whole else 0.0
    return f"{share:.2g}%" if share < 10 else f"{share:.0f}%"


def feature_names(ctx: Any, name: str) -> list[str] | None:
    """The column names of a pandas DataFrame given as the only input, quoted, or None."""
    x = ctx.fit("x")
    columns = getattr(x, "columns", None)
    if columns is not None and name == "x" and len(ctx.train.inputs) == 1:
        return [repr(c) if not isinstance(c, str) else f"'{c}'" for c in columns]
    return None


def stats_of(ctx: Any, which: str = "train") -> DataStats:
    """The :class:`DataStats` of ``ctx.train`` or ``ctx.validation``, cached on the context."""
    cache = ctx.__dict__.setdefault("_kepler_data_stats", {})
    if which not in cache:
        cache[which] = DataStats(getattr(ctx, which))
    return cache[which]
