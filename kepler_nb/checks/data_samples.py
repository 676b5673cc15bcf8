"""K3xx: samples compared with each other (K301, K302, K309, K310), through row hashes and a sample."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .data_targets import class_labels
from .datastats import DataStats, KeyGroups, feature_names, percent, rows_equal, sample_matrix, stats_of, verified_share
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext


def _split(ctx: CheckContext) -> int | None:
    """Where ``validation_split`` cuts the training arrays, or None."""
    split = ctx.fit("validation_split") or 0.0
    if ctx.fit("validation_data") is not None or not split or ctx.train.n_samples is None:
        return None
    return int(ctx.train.n_samples * (1.0 - split))


# -- K301 ----------------------------------------------------------------------

COLLINEAR_R = 0.99  # |correlation| at or above which two features are nearly collinear
COLLINEAR_ROWS = 1000  # rows of the sample the correlations are computed on
COLLINEAR_MIN_SPREAD = 0.05  # features off their minimum (or maximum) in fewer sampled rows are left out
NEAR_COPY_DISTANCE = 0.05  # a near-copy is closer than this share of the median distance between samples
NEAR_COPY_SHARE = 0.10  # report when about this share of the samples has a near-copy
NEAR_COPY_MIN_FEATURES = 16  # in fewer dimensions, close neighbours are normal
NEAR_COPY_MIN_FOUND = 4  # rows with a near-copy that must be seen in the sample before reporting
NEAR_COPY_WINDOW = 32  # each row is compared with at most this many neighbours of its grid cell
NEAR_COPY_MAX_PAIRS = 100_000  # candidate pairs measured exactly


@check(
    "K301",
    "redundant-data",
    stage="data",
    severity="info",
    thresholds={
        "collinear_abs_r": COLLINEAR_R,
        "near_copy_distance": NEAR_COPY_DISTANCE,
        "near_copy_share": NEAR_COPY_SHARE,
        "near_copy_min_features": NEAR_COPY_MIN_FEATURES,
    },
)
def redundant_data(ctx: CheckContext):
    """Redundant data: near-copies of samples, or nearly collinear features.

    ## What it does
    On a random sample of at most 4,096 rows and 1,024 features, looks for
    pairs of features whose correlation is at least 0.99 in magnitude (in
    tables only: neighbouring pixels and time steps are correlated by
    nature), and
    for samples that are near-copies of each other (closer than 5% of the
    median distance between two samples, after scaling each feature; exact
    copies are K302's). The share of samples with a near-copy is estimated
    for the whole data from the sample.

    ## Why is this bad?
    A feature that is a copy of another (a unit conversion, a one-hot
    column and its complement) adds parameters and ill-conditioning but no
    information. Many near-copies of the same samples (augmented copies
    stored next to the originals) make an epoch longer without teaching
    more, and leak between training and validation when the split is
    random.

    ## Example
    ```python
    x = np.c_[size_cm, size_cm * 10]  # the same feature twice
    ```

    ## Use instead
    ```python
    x = np.c_[size_cm]  # drop redundant columns; augment on the fly, not on disk
    ```
    """
    stats = stats_of(ctx)
    view = ctx.train
    reports = []
    for name, s in stats.inputs.items():
        if s.n < 3 or s.varying.sum() < 2:
            continue
        matrix, rows, features = sample_matrix(view.inputs[name], s)
        where = stats.prefix(name)
        # Neighbouring pixels and time steps are correlated by nature: only tables are judged.
        pairs = _collinear_pairs(matrix[:: max(1, len(matrix) // COLLINEAR_ROWS)]) if len(s.shape) == 2 else []
        subsampled = len(features) < int(s.varying.sum())
        among = f" among {len(features):,} sampled features" if subsampled else ""
        if pairs:
            (i, j, r), count = pairs[0], len(pairs)
            names = feature_names(ctx, name)
            a, b = (
                (names[features[i]], names[features[j]])
                if names
                else (s.position(features[i]), s.position(features[j]))
            )
            reports.append(
                Report(
                    f"{where}{count} pair{'s' if count > 1 else ''} of features {'are' if count > 1 else 'is'} "
                    f"nearly collinear (|r| >= {COLLINEAR_R}{among}), e.g. features {a} and {b} (r = {r:.4f})"
                    f"{stats.scope()}",
                    fix="Drop one feature of each collinear pair (or decorrelate them, e.g. with PCA).",
                    details={"input": name, "collinear_pairs": count, "example": [str(a), str(b)], "r": r},
                )
            )
        # Sparse rows that look alike on a subset of features may differ everywhere else.
        if matrix.shape[1] >= NEAR_COPY_MIN_FEATURES and not (s.sparse and subsampled):
            found = _near_copies(matrix, s.std[features])
            if found is not None:
                share = min(1.0, found["rows"] / len(rows) * (s.n - 1) / max(len(rows) - 1, 1))
                if found["rows"] >= min(NEAR_COPY_MIN_FOUND, s.n) and share >= NEAR_COPY_SHARE:
                    a, b = rows[found["example"][0]], rows[found["example"][1]]
                    sampled = "" if len(rows) == s.n else f", estimated from {len(rows):,} sampled rows"
                    reports.append(
                        Report(
                            f"{where}about {share:.0%} of the samples have a near-copy (closer than "
                            f"{NEAR_COPY_DISTANCE:.0%} of the median distance between samples{sampled}), e.g. "
                            f"samples {a:,} and {b:,} (distance {found['ratio']:.3f} of the median){stats.scope()}",
                            fix="Remove near-copies, or generate variations on the fly (augmentation layers) instead "
                            "of storing them.",
                            details={"input": name, "near_copy_share": share, "example": [int(a), int(b)]},
                        )
                    )
    yield from reports


def _collinear_pairs(matrix: np.ndarray) -> list[tuple[int, int, float]]:
    """Feature pairs with |r| >= COLLINEAR_R, strongest first (indices into the matrix's columns)."""
    m = matrix.shape[0]
    if m < 10:
        return []
    # A feature that is nearly always at its minimum (or maximum) correlates perfectly by chance.
    spread = np.minimum((matrix != matrix.min(axis=0)).mean(axis=0), (matrix != matrix.max(axis=0)).mean(axis=0))
    cols = np.flatnonzero(spread >= COLLINEAR_MIN_SPREAD)
    if len(cols) < 2:
        return []
    z = matrix[:, cols] - matrix[:, cols].mean(axis=0, dtype=np.float64).astype(np.float32)
    z /= np.maximum(np.linalg.norm(z, axis=0), 1e-30)
    corr = z.T @ z
    upper = np.triu(np.abs(corr) >= COLLINEAR_R, k=1)
    i, j = np.nonzero(upper)
    if not len(i):
        return []
    order = np.argsort(-np.abs(corr[i, j]), kind="stable")
    return [(int(cols[i[k]]), int(cols[j[k]]), float(corr[i[k], j[k]])) for k in order]


def _near_copies(matrix: np.ndarray, std: np.ndarray) -> dict[str, Any] | None:
    """Rows of ``matrix`` with another row closer than NEAR_COPY_DISTANCE x the median distance.

    Features are scaled by their standard deviation ``std``, floored at the median one, so that
    neither a feature in large units nor a nearly constant one dominates the distance.
    """
    m = matrix.shape[0]
    if m < 3:
        return None
    floor = np.median(std[std > 0]) if (std > 0).any() else 1.0
    inverse = (1.0 / np.maximum(std, floor)).astype(np.float32)
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, m, 2000), rng.integers(0, m, 2000)
    keep = a != b
    typical = float(np.median(np.linalg.norm((matrix[a[keep]] - matrix[b[keep]]) * inverse, axis=1)))
    if not typical > 0:
        return None
    limit = NEAR_COPY_DISTANCE * typical
    # A random projection to 16 dimensions keeps distances within a factor of 2 with
    # overwhelming probability. Rows sharing a grid cell in 4 of its dimensions (4 grids,
    # randomly shifted) are candidates: this stays linear where comparing all pairs would not.
    weights = rng.normal(size=(matrix.shape[1], 16)) * (inverse[:, None] / 4.0)
    projection = matrix @ weights.astype(np.float32)
    width = 2.0 * limit
    found = []
    for grid in range(4):
        cells = np.floor(projection[:, 4 * grid : 4 * grid + 4] / width + rng.random(4)).astype(np.int64)
        key = cells @ np.array([1_000_000_007, 1_000_003, 1_009, 1], dtype=np.int64)  # collisions only add candidates
        order = np.lexsort((projection[:, (4 * grid + 5) % 16], key))
        key = key[order]
        for offset in range(1, NEAR_COPY_WINDOW + 1):
            same = np.flatnonzero(key[offset:] == key[:-offset])
            if not len(same):
                break
            found.append(np.c_[order[same], order[same + offset]])
    if not found:
        return {"rows": 0}
    pairs = np.concatenate(found)
    close = ((projection[pairs[:, 0]] - projection[pairs[:, 1]]) ** 2).sum(axis=1) < (2.0 * limit) ** 2
    pairs = np.sort(pairs[close], axis=1)
    codes = np.unique(pairs[:, 0].astype(np.int64) * m + pairs[:, 1])[:NEAR_COPY_MAX_PAIRS]
    pairs = np.c_[codes // m, codes % m]
    if not len(pairs):
        return {"rows": 0}
    dist = np.linalg.norm((matrix[pairs[:, 0]] - matrix[pairs[:, 1]]) * inverse, axis=1)
    near = (dist < limit) & (dist > 0)  # exact copies are K302's
    if not near.any():
        return {"rows": 0}
    rows = np.unique(pairs[near])
    best = np.argmin(np.where(near, dist, np.inf))
    return {"rows": len(rows), "example": pairs[best], "ratio": float(dist[best] / typical)}


# -- K302 ----------------------------------------------------------------------

DUPLICATE_SHARE = 0.01  # a warning needs at least this share of the training samples to be extra copies ...
DUPLICATE_MIN_COUNT = 10  # ... and at least this many; fewer copies are reported as info
INHERENT_MAX_FEATURES = 32  # with few features, check whether duplicates are unavoidable


@check(
    "K302",
    "duplicate-samples",
    stage="data",
    severity="warning",
    thresholds={"min_share": DUPLICATE_SHARE, "min_count": DUPLICATE_MIN_COUNT},
)
def duplicate_samples(ctx: CheckContext):
    """Duplicate training samples.

    ## What it does
    Hashes every training row (all inputs together) and counts rows that
    are exact copies of an earlier one; with `validation_split`, only the
    rows that are trained on. Warns when at least 1% of the samples, and at
    least 10 of them, are extra copies; fewer copies (one duplicated row of
    150) are reported as info. Nothing is reported when the features take
    so few values that copies are unavoidable.

    ## Why is this bad?
    Copies weigh some samples more than others without anyone deciding so,
    inflate the epoch, and, when the data is later split, put the same
    sample on both sides.

    ## Example
    ```python
    x = np.concatenate([x, x[:5000]])  # an accidental second copy
    ```

    ## Use instead
    ```python
    _, keep = np.unique(x.reshape(len(x), -1), axis=0, return_index=True)
    x, y = x[np.sort(keep)], y[np.sort(keep)]
    ```
    """
    stats = stats_of(ctx)
    keys, _ = stats.input_keys
    cut = _split(ctx)
    n = len(keys) if cut is None else min(cut, len(keys))
    order = stats.input_groups.before(cut)
    starts, first_row = KeyGroups.first_of_group(order, keys)
    copies, originals = order[~starts], first_row[~starts]
    if not len(copies):
        return
    by_row = np.argsort(copies)
    copies, originals = copies[by_row], originals[by_row]
    max_repeats = int(np.diff(np.r_[np.flatnonzero(starts), len(starts)]).max())
    arrays = stats.input_arrays()
    found = int(round(len(copies) * verified_share(arrays, copies, arrays, originals)))
    if found < 1 or _copies_unavoidable(ctx, stats, n):
        return
    matters = found >= DUPLICATE_SHARE * n and found >= DUPLICATE_MIN_COUNT
    example = copies[0]
    what = "training samples" if cut is None else "samples trained on (before the validation_split tail)"
    yield Report(
        f"{found:,} of {n:,} {what} ({percent(found, n)}) are exact copies of another sample, e.g. sample "
        f"{example:,} repeats sample {originals[0]:,}; the most repeated appears {max_repeats:,} times"
        f"{stats.scope()}",
        fix="Remove the copies (np.unique(x.reshape(len(x), -1), axis=0, return_index=True)) unless they are "
        "deliberate oversampling.",
        severity=None if matters else "info",
        details={"duplicates": found, "samples": n, "max_repeats": max_repeats},
    )


def _copies_unavoidable(ctx: CheckContext, stats: DataStats, n: int) -> bool:
    """True when the features take so few values that n rows must repeat (e.g. a few binary columns)."""
    if len(stats.inputs) != 1:
        return False
    name, s = next(iter(stats.inputs.items()))
    if s.features > INHERENT_MAX_FEATURES:
        return False
    matrix, _, _ = sample_matrix(ctx.train.inputs[name], s)
    possible = 1.0
    for column in matrix.T:
        possible *= len(np.unique(column))
        if possible > 2 * n:
            return False
    return True


# -- K309 ----------------------------------------------------------------------


@check("K309", "conflicting-labels", stage="data", severity="warning")
def conflicting_labels(ctx: CheckContext):
    """Conflicting labels: identical inputs with different labels.

    ## What it does
    Groups training samples by a hash of their inputs and reports groups of
    identical inputs labelled with different classes.

    ## Why is this bad?
    No model can get both right: the loss has a floor above zero, and the
    labels are probably wrong somewhere (a bad merge, annotators who
    disagree, a shuffled label column).

    ## Example
    ```python
    x = np.concatenate([x_a, x_b]); y = np.concatenate([y_a, y_b])  # the same images, labelled twice
    ```

    ## Use instead
    ```python
    # decide one label per input (majority vote, or relabel), then drop the copies
    ```
    """
    classes = class_labels(ctx)
    if classes is None:
        return
    labels = classes[0]
    stats = stats_of(ctx)
    xkeys, xok = stats.input_keys
    ykeys, yok = stats.target_keys
    cut = _split(ctx)
    end = cut if cut is not None else len(xkeys)
    rows = _in_conflicting_groups(stats.input_groups.before(end), xkeys, ykeys, xok & yok)
    order = rows[np.lexsort((ykeys[rows], xkeys[rows]))]
    sx, sy = xkeys[order], ykeys[order]
    if len(order) < 2:
        return
    starts = np.flatnonzero(np.r_[True, sx[1:] != sx[:-1]])
    ends = np.r_[starts[1:], len(sx)] - 1
    conflict = sy[starts] != sy[ends]
    if not conflict.any():
        return
    first, last = order[starts[conflict]], order[ends[conflict]]
    arrays = stats.input_arrays()
    real = rows_equal(arrays, first[:2000], arrays, last[:2000])
    if not real.any():
        return
    share = real.mean()
    groups = int(round(conflict.sum() * share))
    samples = int(round((ends - starts + 1)[conflict].sum() * share))
    pairs = np.sort(np.c_[first[:2000][real], last[:2000][real]], axis=1)
    a, b = pairs[np.argmin(pairs[:, 0])]
    yield Report(
        f"{groups:,} group{'s' if groups > 1 else ''} of identical training inputs ({samples:,} samples) "
        f"carry different labels, e.g. samples {a:,} and {b:,} are identical but labelled {labels[a]} and "
        f"{labels[b]}{stats.scope()}",
        fix="Decide one label per input (relabel, or majority vote) and drop the copies.",
        details={"groups": groups, "samples": samples, "example": [int(a), int(b)]},
    )


def _in_conflicting_groups(order: np.ndarray, xkeys: np.ndarray, ykeys: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The rows (ascending) of every group of equal inputs whose targets differ; rows with NaN/Inf left out."""
    order = order[ok[order]]
    if len(order) < 2:
        return order
    starts, _ = KeyGroups.first_of_group(order, xkeys)
    at = np.flatnonzero(starts)
    if len(at) == len(order):  # no two inputs alike
        return order[:0]
    sy = ykeys[order]
    differ = np.minimum.reduceat(sy, at) != np.maximum.reduceat(sy, at)
    return np.sort(order[np.repeat(differ, np.diff(np.r_[at, len(order)]))])


# -- K310 ----------------------------------------------------------------------


LEAKAGE_SHARE = 0.01  # a warning needs at least this share of the validation samples in the training set ...
LEAKAGE_MIN_COUNT = 5  # ... and at least this many; fewer are reported as info


@check(
    "K310",
    "validation-leakage",
    stage="data",
    severity="warning",
    thresholds={"min_share": LEAKAGE_SHARE, "min_count": LEAKAGE_MIN_COUNT},
)
def validation_leakage(ctx: CheckContext):
    """Validation samples also present in the training set (leakage).

    ## What it does
    Hashes every training and validation row and counts validation samples
    whose inputs also appear in the training data. With `validation_split`
    this happens when the data holds copies that end up on both sides of
    the cut.

    ## Why is this bad?
    The model is scored on samples it has trained on: validation loss and
    accuracy look better than they are, and overfitting goes unseen.

    ## Example
    ```python
    x_val = x_train[:1000]  # or augmented copies split at random
    ```

    ## Use instead
    ```python
    # split first, then augment or deduplicate within each side
    ```
    """
    train = stats_of(ctx)
    cut = _split(ctx)
    tkeys, tok = train.input_keys
    if cut is not None:
        vkeys, vok = tkeys[cut:], tok[cut:]
        tkeys, tok = tkeys[:cut], tok[:cut]
        val_arrays, offset, val = train.input_arrays(), cut, train
        how = f"validation_split={ctx.fit('validation_split')}: "
    else:
        if ctx.validation is None:
            return
        val = stats_of(ctx, "validation")
        if list(val.inputs) != list(train.inputs) or any(
            v.features != t.features for v, t in zip(val.inputs.values(), train.inputs.values())
        ):
            raise Skip("the validation inputs don't have the training inputs' names and shapes")
        vkeys, vok = val.input_keys
        val_arrays, offset, how = val.input_arrays(), 0, ""
    if not len(vkeys) or not len(tkeys):
        return
    if cut is not None:
        vrows, trows = _tail_in_head(train.input_groups.order, train.input_keys[0], cut)
    else:
        vrows, trows = _found_in(tkeys, tok, vkeys, vok)
    if not len(vrows):
        return
    check_rows = slice(0, 2000)
    real = rows_equal(val_arrays, vrows[check_rows] + offset, train.input_arrays(), trows[check_rows])
    if not real.any():
        return
    found = int(round(len(vrows) * real.mean()))
    i = int(np.flatnonzero(real)[0])
    m = len(vkeys)
    yield Report(
        f"{how}{found:,} of {m:,} validation samples ({percent(found, m)}) also appear in the training data "
        f"(e.g. validation sample {vrows[i]:,} is training sample {trows[i]:,}): validation scores will be "
        f"too optimistic{val.scope()}",
        fix="Remove from the validation set every sample that is in the training set (deduplicate before splitting).",
        severity=None if found >= LEAKAGE_SHARE * m and found >= LEAKAGE_MIN_COUNT else "info",
        details={"leaked": found, "validation_samples": m},
    )


def _found_in(tkeys: np.ndarray, tok: np.ndarray, vkeys: np.ndarray, vok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validation rows whose key is a training key, and the first training row with it."""
    order = np.argsort(tkeys[tok], kind="stable")
    known = tkeys[tok][order]
    if not len(known):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pos = np.clip(np.searchsorted(known, vkeys), 0, len(known) - 1)
    vrows = np.flatnonzero(vok & (known[pos] == vkeys))
    return vrows, np.flatnonzero(tok)[order[pos[vrows]]]


def _tail_in_head(order: np.ndarray, keys: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """With ``validation_split``: rows past ``cut`` (counted from it) whose key some row before it has,
    and the first such row; from the rows' shared sort, without sorting again."""
    starts, first = KeyGroups.first_of_group(order, keys)
    tail = order >= cut
    hit = tail & (first < cut)  # rows with NaN/Inf have keys of their own: never a hit
    vrows, trows = order[hit] - cut, first[hit]
    by_row = np.argsort(vrows)
    return vrows[by_row], trows[by_row]
