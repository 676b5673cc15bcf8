"""K1xx: the training setup (fit and compile arguments)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit import keras_internals, tf_internals
from .layers import BATCHNORM_TYPES, flat_layers, is_a
from .losses import REGRESSION_LOSSES, canonical_loss
from .registry import Report, Skip, check
from .targets import chi2_homogeneity, class_ids, ks_2samp, label_runs, numeric_targets

if TYPE_CHECKING:
    from .context import CheckContext

# -- learning rates ------------------------------------------------------------------

# (lowest, highest) learning rate that still trains sensibly, per optimizer; Keras' defaults sit inside.
LEARNING_RATE_RANGES: dict[str, tuple[float, float]] = {
    "SGD": (1e-4, 1.0),
    "Adam": (1e-6, 1e-2),
    "AdamW": (1e-6, 1e-2),
    "Adamax": (1e-6, 1e-2),
    "Nadam": (1e-6, 1e-2),
    "RMSprop": (1e-6, 1e-2),
    "Adagrad": (1e-5, 1.0),
    "Adadelta": (1e-4, 10.0),
    "Ftrl": (1e-5, 1.0),
    "Lion": (1e-7, 3e-3),
    "Lamb": (1e-6, 1e-1),
    "Adafactor": (1e-6, 1e-1),
    "Muon": (1e-5, 1e-1),
}
TYPICAL_LEARNING_RATE = {"SGD": 0.01, "Adagrad": 0.01, "Adadelta": 1.0, "Ftrl": 0.01, "Lion": 1e-4}
# Keras stores the rate as float32 (1e-4 becomes 9.9999997e-05): a bound is passed only beyond this relative margin.
LEARNING_RATE_TOLERANCE = 1e-3


@check(
    "K101",
    "learning-rate-out-of-range",
    stage="setup",
    severity="warning",
    thresholds={**LEARNING_RATE_RANGES, "relative_tolerance": LEARNING_RATE_TOLERANCE},
)
def learning_rate_out_of_range(ctx: CheckContext):
    """Learning rate outside a sane range for the optimizer.

    ## What it does
    Compares the optimizer's learning rate with the range it usually trains
    in (see the thresholds; Keras' defaults sit well inside). For a schedule
    it judges the peak: the initial rate, the warm-up target, or the largest
    piecewise value. Optimizers it doesn't know are skipped. A rate on a
    bound (as Keras stores it in float32) is inside the range.

    ## Why is this bad?
    Too high and the loss oscillates, diverges or turns NaN in the first
    epoch; too low and the run burns its whole budget crawling. Adaptive
    optimizers (Adam, RMSprop) want rates 10-100x smaller than plain SGD:
    a rate copied from one to the other is a classic slip.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss=...)
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=...)
    ```
    """
    optimizer = getattr(ctx.model, "optimizer", None)
    if optimizer is None:
        raise Skip("the model is not compiled")
    while getattr(optimizer, "inner_optimizer", None) is not None:  # LossScaleOptimizer
        optimizer = optimizer.inner_optimizer
    name = type(optimizer).__name__
    if name not in LEARNING_RATE_RANGES:
        raise Skip(f"no known learning-rate range for {name}")
    lr, source = _peak_learning_rate(optimizer)
    low, high = LEARNING_RATE_RANGES[name]
    typical = TYPICAL_LEARNING_RATE.get(name, 1e-3)
    details = {"optimizer": name, "learning_rate": lr, "range": [low, high]}
    if not math.isfinite(lr) or lr <= 0:
        effect = "the weights will never move" if lr == 0 else "the updates climb the loss instead of descending it"
        effect = effect if math.isfinite(lr) else "every update is NaN"
        yield Report(
            f"{source} {lr:g} for {name}: {effect}",
            fix=f"Use a positive learning rate, e.g. {name}(learning_rate={typical:g}).",
            severity="error",
            details=details,
        )
    elif lr > high * (1 + LEARNING_RATE_TOLERANCE):
        yield Report(
            f"{source} {lr:.3g} for {name} is above its sane range {low:g}..{high:g} ({_times(lr / high)} the top): "
            "expect the loss to oscillate, diverge or turn NaN",
            fix=f"Start from {name}(learning_rate={typical:g}) and tune by factors of 3.",
            details=details,
        )
    elif lr < low * (1 - LEARNING_RATE_TOLERANCE):
        yield Report(
            f"{source} {lr:.3g} for {name} is below its sane range {low:g}..{high:g} ({_times(low / lr)} under "
            "the bottom): the loss will barely move",
            fix=f"Start from {name}(learning_rate={typical:g}) and tune by factors of 3.",
            details=details,
        )


def _times(ratio: float) -> str:
    """``12x``, ``1.5x``, ``slightly``: never ``1x`` for a rate that is out of range."""
    if ratio < 1.1:
        return "slightly"
    return f"{ratio:.2g}x" if ratio < 10 else f"{ratio:.3g}x"


def _peak_learning_rate(optimizer: Any) -> tuple[float, str]:
    """The learning rate to judge, and how to call it in a message; Skip when it can't be read."""
    raw = keras_internals.raw_learning_rate(optimizer)
    if _is_schedule(raw):
        config = raw.get_config()
        candidates = [config.get(k) for k in ("initial_learning_rate", "warmup_target")]
        candidates += list(config.get("values") or [])
        numbers = [float(c) for c in candidates if isinstance(c, (int, float))]
        if not numbers:
            raise Skip(f"the {type(raw).__name__} schedule has no initial value to judge")
        return max(numbers), f"{type(raw).__name__} peak learning rate"
    if callable(raw) and not hasattr(raw, "numpy"):
        raise Skip("the learning rate is a callable; its values are not known before training")
    try:
        return float(np.asarray(optimizer.learning_rate)), "learning rate"
    except (TypeError, ValueError):
        raise Skip("the learning rate can't be read as a number") from None


def _is_schedule(value: Any) -> bool:
    return any(cls.__name__ == "LearningRateSchedule" for cls in type(value).__mro__)


# -- label order and distributions ---------------------------------------------------

# Labels are "ordered" when they form at most this fraction of the same-label runs a shuffled order would.
ORDERED_RUN_RATIO = 0.1
# ... and a shuffled order would give at least this many runs (tiny data can't tell).
ORDERED_MIN_EXPECTED_RUNS = 10
# How many runs a message spells out.
ORDERED_RUNS_SHOWN = 4
# Regression targets are "sorted" when their rank correlation with the row order reaches this.
SORTED_MIN_RANK_CORRELATION = 0.95


def ordered_labels(ids: np.ndarray, names: list[str]) -> str | None:
    """A description of how the labels are grouped by row, or None when they look shuffled."""
    n = len(ids)
    counts = np.bincount(ids)
    p = counts[counts > 0] / n
    if len(p) < 2:
        return None
    expected = 1 + (n - 1) * (1 - float(np.sum(p**2)))
    starts, labels = label_runs(ids)
    if expected < ORDERED_MIN_EXPECTED_RUNS or len(starts) > ORDERED_RUN_RATIO * expected:
        return None
    ends = np.r_[starts[1:], n] - 1
    shown = min(len(starts), ORDERED_RUNS_SHOWN)
    blocks = [f"class {names[c]} rows {s}-{e}" for s, e, c in zip(starts[:shown], ends[:shown], labels[:shown])]
    blocks[0] = blocks[0].replace(" rows", " occupies rows", 1)
    text = ", ".join(blocks) + (", ..." if len(starts) > shown else "")
    return f"{text} ({len(starts)} same-class runs where a shuffled order would give about {expected:.0f})"


def sorted_targets(y: np.ndarray) -> str | None:
    """A description of regression targets sorted by row, or None."""
    n = len(y)
    if n < ORDERED_MIN_EXPECTED_RUNS or np.ptp(y) == 0:
        return None
    ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable").astype(np.float64)
    rho = float(np.corrcoef(ranks, np.arange(n, dtype=np.float64))[0, 1])
    if abs(rho) < SORTED_MIN_RANK_CORRELATION:
        return None
    k = max(1, n // 10)
    return (
        f"the targets are sorted (rank correlation with the row order {rho:.2f}): the first {k} rows hold "
        f"{y[:k].min():.4g}..{y[:k].max():.4g}, the last {k} rows {y[-k:].min():.4g}..{y[-k:].max():.4g}"
    )


def training_part(ctx: CheckContext) -> Any:
    """The training targets after Keras takes the ``validation_split`` tail away."""
    y = ctx.train_y()
    split = ctx.fit("validation_split") or 0.0
    if split and ctx.fit("validation_data") is None and ctx.train.complete:
        return ctx.train.split_tail(split)[0].y
    return y


@check(
    "K102",
    "data-not-shuffled",
    stage="setup",
    severity="warning",
    thresholds={
        "ordered_run_ratio": ORDERED_RUN_RATIO,
        "ordered_min_expected_runs": ORDERED_MIN_EXPECTED_RUNS,
        "sorted_min_rank_correlation": SORTED_MIN_RANK_CORRELATION,
    },
)
def data_not_shuffled(ctx: CheckContext):
    """Training data not shuffled.

    ## What it does
    With arrays: flags `shuffle=False` when the labels are grouped by class
    (fewer than `ordered_run_ratio` of the same-class runs a shuffled order
    would give) or the regression targets are sorted. With a `tf.data`
    pipeline (which Keras never shuffles): looks through the pipeline's
    structure, without reading it, for a `shuffle()` step; none is a warning
    when the first batches are grouped by class, a note otherwise.

    ## Why is this bad?
    Batches drawn from ordered data hold one class at a time: each step pulls
    the model towards the current class and away from the others, the loss
    zig-zags, and training is slower and worse. An unshuffled pipeline also
    shows the model the same batches in the same order every epoch.

    ## Example
    ```python
    model.fit(x_sorted, y_sorted, shuffle=False)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    ```

    ## Use instead
    ```python
    model.fit(x_sorted, y_sorted)  # shuffle=True is Keras' default
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(32)
    ```
    """
    view = ctx.train
    if view.kind == "dataset":
        yield from _dataset_not_shuffled(ctx)
        return
    if view.kind != "arrays":
        raise Skip(f"whether a {view.kind} shuffles is not visible from outside")
    if ctx.fit("shuffle"):
        return
    y = training_part(ctx)
    ids = class_ids(y, canonical_loss(ctx))
    if ids is not None:
        order = ordered_labels(*ids)
    else:
        values = numeric_targets(y)
        order = sorted_targets(values) if values is not None else None
    if order:
        yield Report(
            f"shuffle=False and the training data is ordered: {order}",
            fix="Drop shuffle=False (Keras shuffles every epoch by default), or shuffle x and y together once.",
            details={"shuffle": ctx.fit("shuffle")},
        )


def _dataset_not_shuffled(ctx: CheckContext):
    dataset = ctx.fit("x")
    shuffles = pipeline_shuffles(dataset)
    if shuffles is None:
        raise Skip("the structure of this dataset can't be read")
    if shuffles:
        return
    batches = _cardinality(dataset)
    if batches == 1:
        return  # one batch: its order doesn't matter
    order = None
    y = ctx.train.y if not ctx.train.problem else None
    ids = class_ids(y, canonical_loss(ctx)) if y is not None else None
    if ids is not None:
        order = ordered_labels(*ids)
    if order:
        yield Report(
            f"the tf.data pipeline has no shuffle() step, and its {_which_samples(ctx.train, len(ids[0]))} "
            f"are ordered: {order}",
            fix="Add .shuffle(buffer_size) before .batch(), with a buffer at least as large as the data when the "
            "source is sorted.",
            details={"pipeline_shuffles": False},
        )
    else:
        yield Report(
            "the tf.data pipeline has no shuffle() step: every epoch sees the same batches in the same order",
            fix="Add .shuffle(buffer_size) before .batch() (Keras never shuffles a Dataset itself).",
            severity="info",
            details={"pipeline_shuffles": False},
        )


def _which_samples(view: Any, n: int) -> str:
    return f"{n} samples" if view.complete else f"first {n} samples"


def pipeline_shuffles(dataset: Any, limit: int = 10_000) -> bool | None:
    """Whether a ``tf.data`` pipeline has a shuffle step, read from its structure (nothing is iterated)."""
    stack, seen = [dataset], set()
    try:
        while stack and len(seen) < limit:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if "Shuffle" in type(node).__name__:
                return True
            inner = tf_internals.adapted_dataset(node)  # DatasetV1Adapter
            if inner is not None:
                stack.append(inner)
            stack.extend(tf_internals.dataset_inputs(node))
    except Exception:  # noqa: BLE001 - a dataset type without _inputs()
        return None
    return False


def _cardinality(dataset: Any) -> int | None:
    try:
        import tensorflow as tf

        n = int(tf.data.experimental.cardinality(dataset).numpy())
        return n if n >= 0 else None
    except Exception:  # noqa: BLE001
        return None


# -- batch size ----------------------------------------------------------------------

KERAS_DEFAULT_BATCH_SIZE = 32
# batch_size=1 without BatchNormalization is only worth a note on at least this many samples.
BATCH_OF_ONE_MIN_SAMPLES = 1000


@check(
    "K103",
    "batch-size-unreasonable",
    stage="setup",
    severity="warning",
    thresholds={"batch_of_one_min_samples": BATCH_OF_ONE_MIN_SAMPLES},
)
def batch_size_unreasonable(ctx: CheckContext):
    """Batch size unreasonable for the data or the model.

    ## What it does
    With in-memory data, flags a `batch_size` larger than the training set
    (after `validation_split`), a batch of one sample in a model with
    BatchNormalization (always, or as the last batch of every epoch), and
    `batch_size=1` on `batch_of_one_min_samples` samples or more.

    ## Why is this bad?
    A batch larger than the data means the number was meant for another data
    set: every epoch is one step. BatchNormalization over a single sample
    has zero variance: a Dense layer's normalized output is exactly `beta`,
    whatever the input, and the moving statistics learn nonsense. One sample
    per step on a large data set is thousands of noisy, slow updates per
    epoch.

    ## Example
    ```python
    model.fit(x, y, batch_size=1)  # the model has BatchNormalization
    ```

    ## Use instead
    ```python
    model.fit(x, y, batch_size=32)
    ```
    """
    view = ctx.train
    if view.kind != "arrays":
        raise Skip(f"the batch size of a {view.kind} is set by the data, not by fit()")
    if view.problem:
        raise Skip(view.problem)
    given = ctx.fit("batch_size")
    if given is not None and not isinstance(given, (int, np.integer)):
        raise Skip(f"batch_size={given!r} is not an integer")
    batch = int(given) if given is not None else KERAS_DEFAULT_BATCH_SIZE
    n = view.n_samples or 0
    split = ctx.fit("validation_split") or 0.0
    if split and ctx.fit("validation_data") is None:
        n = int(n * (1.0 - split))
    if n == 0:
        raise Skip("the training data is empty")
    norms = _batchnorm_layers(ctx.model)
    if given is not None and batch > n:
        yield Report(
            f"batch_size={batch} but the training set has {n} samples: every epoch is a single step of {n}",
            fix=f"Use a batch_size well below {n} (e.g. 32), or drop it to get Keras' default of 32.",
            details={"batch_size": batch, "samples": n},
        )
    elif batch == 1 and norms:
        yield Report(
            f"batch_size=1 with BatchNormalization ({', '.join(norms[:3])}): the statistics of one sample "
            "have zero variance, so the normalized outputs carry no signal",
            fix="Use batch_size of 16 or more, or replace BatchNormalization with LayerNormalization.",
            details={"batch_size": batch, "batchnorm": norms},
        )
    elif norms and n > batch and n % batch == 1:
        yield Report(
            f"{n} samples in batches of {batch} leave a last batch of 1 sample every epoch, and "
            f"BatchNormalization ({', '.join(norms[:3])}) can't normalize a single sample",
            fix=f"Use batch_size={batch + 1} or {batch - 1}, or drop one sample.",
            severity="info",
            details={"batch_size": batch, "samples": n, "batchnorm": norms},
        )
    elif batch == 1 and n >= BATCH_OF_ONE_MIN_SAMPLES:
        yield Report(
            f"batch_size=1 on {n} samples: {n} noisy updates per epoch, each too small to use the hardware",
            fix="Use batch_size=32 (Keras' default) and raise the learning rate if steps feel too small.",
            severity="info",
            details={"batch_size": batch, "samples": n},
        )


def _batchnorm_layers(model: Any) -> list[str]:
    return [layer.name for layer in flat_layers(model) if is_a(layer, BATCHNORM_TYPES)]


@check("K104", "no-validation-data", stage="setup", severity="info")
def no_validation_data(ctx: CheckContext):
    """No validation data, so overfitting cannot be seen.

    ## What it does
    Notices a fit with neither `validation_data` nor `validation_split`.

    ## Why is this bad?
    Without a held-out set, the training loss is the only curve: it keeps
    falling while the model memorises, and nothing shows when to stop.

    ## Example
    ```python
    model.fit(x, y, epochs=20)
    ```

    ## Use instead
    ```python
    model.fit(x, y, epochs=20, validation_split=0.2)  # after shuffling x, y
    ```
    """
    if ctx.fit("validation_data") is None and not ctx.fit("validation_split"):
        yield Report(
            "no validation data (neither validation_data nor validation_split): overfitting will not show",
            fix="Pass validation_data=(x_val, y_val), or validation_split=0.2 on shuffled data.",
        )


# -- train vs validation -------------------------------------------------------------

# A difference between two label distributions is reported when it is both significant
# (chi-square / Kolmogorov-Smirnov p-value below this) and large (total variation or KS
# distance above these): random splits, even small ones, stay silent.
SHIFT_MAX_P_VALUE = 1e-4
SHIFT_MIN_TOTAL_VARIATION = 0.1
SHIFT_MIN_KS_DISTANCE = 0.3
# A class counts as missing from a part only when at least this many samples were expected there.
MISSING_MIN_EXPECTED = 10.0

SHIFT_THRESHOLDS = {
    "max_p_value": SHIFT_MAX_P_VALUE,
    "min_total_variation": SHIFT_MIN_TOTAL_VARIATION,
    "min_ks_distance": SHIFT_MIN_KS_DISTANCE,
    "missing_min_expected": MISSING_MIN_EXPECTED,
}


@check("K105", "validation-split-on-ordered-data", stage="setup", severity="warning", thresholds=SHIFT_THRESHOLDS)
def validation_split_on_ordered_data(ctx: CheckContext):
    """`validation_split` takes the tail of ordered data, which misses classes or is skewed.

    ## What it does
    Keras' `validation_split` takes the *last* rows, before any shuffling.
    This check compares the label distribution of those rows with the rest:
    classes missing from either part, or a distribution shift that is both
    significant and large (see the thresholds). Regression targets are
    compared with a Kolmogorov-Smirnov test. A missing class in training is
    an error: the model never sees it.

    ## Why is this bad?
    On data sorted by label, `validation_split=0.2` validates on the last
    class or two, and trains on none of them: validation accuracy says
    nothing, and the model can't predict the held-out classes at all.
    `shuffle=True` does not help; it shuffles after the split.

    ## Example
    ```python
    model.fit(x_sorted, y_sorted, validation_split=0.2)
    ```

    ## Use instead
    ```python
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y)
    model.fit(x_train, y_train, validation_data=(x_val, y_val))
    ```
    """
    split = ctx.fit("validation_split") or 0.0
    if not split or ctx.fit("validation_data") is not None:
        return
    view = ctx.train
    if view.problem:
        raise Skip(view.problem)
    if not view.complete:
        raise Skip(f"validation_split does not apply to a {view.kind}")
    ctx.train_y()  # Skip when there are no targets
    head, tail = view.split_tail(split)
    where = f"validation_split={split:g} takes the last {tail.n_samples} of {view.n_samples} rows"
    report = _distribution_shift(ctx, head.y, tail.y, where, "training")
    if report is not None:
        report.details["validation_split"] = split
        yield report


@check("K106", "label-distribution-shift", stage="setup", severity="warning", thresholds=SHIFT_THRESHOLDS)
def label_distribution_shift(ctx: CheckContext):
    """Training and validation label distributions differ (not stratified).

    ## What it does
    Compares the label distribution of `validation_data` with the training
    labels: classes missing from either side, or a shift that is both
    significant (chi-square test) and large (total variation distance); see
    the thresholds. Regression targets are compared with a
    Kolmogorov-Smirnov test. A `validation_split` is K105's.

    ## Why is this bad?
    Validation metrics estimate performance on data like the validation set.
    If its classes are mixed differently from training (or from the data the
    model will meet), accuracy and loss move for reasons unrelated to the
    model, and early stopping or model selection picks the wrong epoch.

    ## Example
    ```python
    model.fit(x[y < 5], y[y < 5], validation_data=(x[y >= 5], y[y >= 5]))
    ```

    ## Use instead
    ```python
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y)
    ```
    """
    if ctx.fit("validation_data") is None:
        return
    validation = ctx.validation
    if validation is None or validation.problem:
        raise Skip(validation.problem if validation is not None else "the validation data could not be read")
    if validation.y is None:
        raise Skip("the validation data has no targets")
    if not (ctx.train.complete and validation.complete):
        raise Skip("only a sample of the data is visible; the first batches of a pipeline are not a fair sample")
    where = f"validation_data has {validation.n_samples} samples"
    report = _distribution_shift(ctx, ctx.train_y(), validation.y, where, "training")
    if report is not None:
        yield report


def _distribution_shift(ctx: CheckContext, y_train: Any, y_val: Any, where: str, reference: str) -> Report | None:
    loss = canonical_loss(ctx)
    joined = _joined_ids(y_train, y_val, loss)
    if joined is not None:
        return _class_shift(*joined, where, reference)
    a, b = numeric_targets(y_train), numeric_targets(y_val)
    if a is None or b is None:
        raise Skip("the targets are neither class labels nor 1-D numbers")
    return _value_shift(a, b, where, reference)


def _joined_ids(y_train: Any, y_val: Any, loss: str | None) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Class counts of both parts over the same classes, and the class names."""
    if y_train is None or y_val is None:
        return None
    a, b = np.asarray(y_train), np.asarray(y_val)
    if a.ndim != b.ndim or a.shape[1:] != b.shape[1:]:
        return None
    counted = _integer_class_counts(a, b, loss)
    if counted is not None:
        return counted
    both = class_ids(np.concatenate([a, b]), loss)
    if both is None:
        return None
    ids, names = both
    k = len(names)
    return np.bincount(ids[: len(a)], minlength=k), np.bincount(ids[len(a) :], minlength=k), names


def _integer_class_counts(
    a: np.ndarray, b: np.ndarray, loss: str | None
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """What :func:`_joined_ids` gives, for integer labels in a small range: counted, without joining them."""
    a, b = (y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y for y in (a, b))
    if a.ndim != 1 or a.dtype.kind not in "iu" or b.dtype.kind not in "iu" or not len(a) or not len(b):
        return None
    if loss in REGRESSION_LOSSES:
        return None
    low, high = min(int(a.min()), int(b.min())), max(int(a.max()), int(b.max()))
    if high - low > max(1 << 16, 2 * (len(a) + len(b))):
        return None
    k = high - low + 1
    counts = [np.bincount((y - low if low else y).astype(np.intp, copy=False), minlength=k) for y in (a, b)]
    present = np.flatnonzero(counts[0] + counts[1])
    return counts[0][present], counts[1][present], [str(v + low) for v in present]


def _class_shift(train: np.ndarray, val: np.ndarray, names: list[str], where: str, reference: str) -> Report | None:
    n_train, n_val = int(train.sum()), int(val.sum())
    if not n_train or not n_val:
        return None
    total = train + val
    keep = total > 0
    train, val, total = train[keep], val[keep], total[keep]
    names = [n for n, k in zip(names, keep) if k]
    p, q = train / n_train, val / n_val
    tv = 0.5 * float(np.abs(p - q).sum())
    expected_val = total * n_val / (n_train + n_val)
    expected_train = total * n_train / (n_train + n_val)
    missing_val = [names[i] for i in np.flatnonzero((val == 0) & (expected_val >= MISSING_MIN_EXPECTED))]
    missing_train = [names[i] for i in np.flatnonzero((train == 0) & (expected_train >= MISSING_MIN_EXPECTED))]
    pvalue = chi2_homogeneity(train, val)
    if not (missing_val or missing_train or (pvalue < SHIFT_MAX_P_VALUE and tv >= SHIFT_MIN_TOTAL_VARIATION)):
        return None
    top = int(np.argmax(q - p))
    present = [names[i] for i in np.flatnonzero(val)]
    holds = f"all {len(names)} classes" if len(present) == len(names) else f"only classes {_few(present)}"
    parts = [
        f"{where}: validation holds {holds}, {q[top]:.0%} class {names[top]} vs {p[top]:.0%} in {reference} "
        f"(total variation {tv:.2f}, chi-square {_p(pvalue)})"
    ]
    if missing_val:
        parts.append(f"class{'es' if len(missing_val) > 1 else ''} {_few(missing_val)} never appear in validation")
    if missing_train:
        parts.append(
            f"class{'es' if len(missing_train) > 1 else ''} {_few(missing_train)} never appear in training: "
            "the model can't learn them"
        )
    return Report(
        "; ".join(parts),
        fix="Split with sklearn's train_test_split(..., stratify=y, shuffle=True) and pass validation_data, "
        "or shuffle x and y together before validation_split.",
        severity="error" if missing_train else None,
        details={
            "total_variation": round(tv, 4),
            "p_value": pvalue,
            "missing_in_validation": missing_val,
            "missing_in_training": missing_train,
        },
    )


def _value_shift(a: np.ndarray, b: np.ndarray, where: str, reference: str) -> Report | None:
    d, pvalue = ks_2samp(a, b)
    if d < SHIFT_MIN_KS_DISTANCE or pvalue >= SHIFT_MAX_P_VALUE:
        return None
    return Report(
        f"{where}: validation targets span {b.min():.4g}..{b.max():.4g} (median {np.median(b):.4g}) against "
        f"{a.min():.4g}..{a.max():.4g} (median {np.median(a):.4g}) in {reference} "
        f"(Kolmogorov-Smirnov distance {d:.2f}, {_p(pvalue)})",
        fix="Shuffle x and y together before splitting (sklearn's train_test_split shuffles by default).",
        details={"ks_distance": round(d, 4), "p_value": pvalue},
    )


def _p(value: float) -> str:
    return "p<1e-12" if value < 1e-12 else f"p={value:.1g}"


def _few(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
