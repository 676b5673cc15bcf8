"""K3xx: the targets (K308 class imbalance, K311 targets the output can't reach, K312 class ids that aren't)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..fit.fingerprint import integer_counts
from .context import per_output
from .datastats import percent, stats_of
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext

LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
    "bce": "binary_crossentropy",
}


MAX_CLASSES_GUESSED = 100  # without a loss, integer targets with more distinct values are taken for a regression


def loss_of(ctx: CheckContext) -> str | None:
    """The loss's snake_case name, aliases spelled out (``mse`` -> ``mean_squared_error``)."""
    name = ctx.loss_name
    return LOSS_ALIASES.get(name, name) if name else None


def class_labels(ctx: CheckContext) -> tuple[np.ndarray, int | None] | None:
    """The training labels as class indices, and the number of classes when one-hot says so.

    None for a regression loss; Skip for multi-label or soft targets.
    """
    y = ctx.train_y()
    if len(ctx.train.targets) > 1:
        raise Skip("several targets: class counts are not compared")
    if getattr(y, "dtype", None) is None or not (np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.bool_)):
        raise Skip(f"targets of dtype {getattr(y, 'dtype', type(y).__name__)} are not class labels")
    if hasattr(y, "tocsr"):
        raise Skip("sparse targets are not inspected by this check")
    loss = loss_of(ctx) or ""
    if loss and "crossentropy" not in loss and "hinge" not in loss:
        return None  # a regression: no classes
    if getattr(y, "ndim", 0) == 0 or len(y) == 0:
        raise Skip("the targets are empty")
    y2 = np.asarray(y).reshape(len(y), -1)
    whole = y2.dtype.kind in "iub"  # no NaN, no fractions: two passes and a copy fewer on millions of labels
    if not whole and not np.isfinite(y2).all():
        raise Skip("the targets hold NaN or Inf (see K306)")
    if y2.shape[1] > 1:
        if not np.isin(y2, (0, 1)).all() or not (y2.sum(axis=1) == 1).all():
            raise Skip("targets with several columns that are not one-hot (soft or multi-label targets)")
        return y2.argmax(axis=1), y2.shape[1]
    labels = y2[:, 0]
    if not whole and not np.array_equal(labels, np.round(labels)):
        if not loss:
            return None  # fractional targets and no loss: a regression
        raise Skip("the targets are not whole numbers (soft labels)")
    if not loss and len(np.unique(labels)) > MAX_CLASSES_GUESSED:
        return None  # many distinct values and no loss: a regression
    return labels.astype(np.int64, copy=False), None


# -- K308 ----------------------------------------------------------------------

IMBALANCE_RATIO = 10.0  # largest class / smallest class above this is severe


@check("K308", "class-imbalance", stage="data", severity="warning", thresholds={"max_ratio": IMBALANCE_RATIO})
def class_imbalance(ctx: CheckContext):
    """Severe class imbalance.

    ## What it does
    Counts the training samples of each class (integer labels or one-hot
    rows) and reports when the largest class has more than 10 times the
    samples of the smallest, or a one-hot class has none. Fits that pass
    `class_weight` or `sample_weight` are taken to have dealt with it.
    Every training label being the same class is an error, weights or not.

    ## Why is this bad?
    The model can reach high accuracy by ignoring the rare classes; their
    gradient is drowned out, and accuracy stops meaning what it seems.

    ## Example
    ```python
    model.fit(x, y)  # 98% class 0
    ```

    ## Use instead
    ```python
    weights = len(y) / (n_classes * np.bincount(y))
    model.fit(x, y, class_weight=dict(enumerate(weights)))  # or resample
    ```
    """
    classes = class_labels(ctx)
    if classes is None:
        return
    labels, width = classes
    classes, counts = integer_counts(labels)
    n = len(labels)
    if len(classes) == 1 and n > 1:
        of = f" of the {width} one-hot columns" if width else ""
        yield Report(
            f"all {n:,} training labels are class {classes[0]}{of}: the model can only learn to predict it"
            f"{stats_of(ctx).scope()}",
            fix="Check how the labels were built (a filter, a cast, a slice of sorted data); "
            "train on samples of every class.",
            severity="error",
            details={"classes": {int(classes[0]): n}},
        )
        return
    if ctx.fit("class_weight") is not None or ctx.fit("sample_weight") is not None:
        return
    missing = sorted(set(range(width)) - set(classes.tolist())) if width else []
    scope = stats_of(ctx).scope()
    big, small = int(np.argmax(counts)), int(np.argmin(counts))
    ratio = counts[big] / counts[small]
    detail = {"classes": {int(c): int(k) for c, k in zip(classes, counts)}}
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        yield Report(
            f"class{'es' if len(missing) > 1 else ''} {shown} of the {width} one-hot columns "
            f"{'have' if len(missing) > 1 else 'has'} no training samples; class {classes[big]} has "
            f"{counts[big]:,} ({percent(counts[big], n)}){scope}",
            fix="Collect samples of the missing classes, or drop their columns and output units.",
            details=detail | {"missing": missing},
        )
    elif len(classes) > 1 and ratio > IMBALANCE_RATIO:
        yield Report(
            f"class {classes[small]} has {counts[small]:,} samples ({percent(counts[small], n)}), class "
            f"{classes[big]} has {counts[big]:,} ({percent(counts[big], n)}): the largest class is "
            f"{ratio:,.0f}x the smallest{scope}",
            fix="Pass class_weight= to fit (e.g. len(y) / (n_classes * counts)), or over/undersample, and "
            "watch per-class recall rather than accuracy.",
            details=detail | {"ratio": float(ratio)},
        )


# -- K311 ----------------------------------------------------------------------

# What each output activation can produce.
ACTIVATION_RANGES = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "soft_sign": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "relu": (0.0, np.inf),
    "softplus": (0.0, np.inf),
    "exponential": (0.0, np.inf),
    "relu6": (0.0, 6.0),
    "elu": (-1.0, np.inf),
    "selu": (-1.7581, np.inf),
    "silu": (-0.2785, np.inf),
    "swish": (-0.2785, np.inf),
    "gelu": (-0.17, np.inf),
}
PROBABILITY_LOSSES = ("binary_crossentropy", "categorical_crossentropy", "binary_focal_crossentropy",
                      "categorical_focal_crossentropy", "kl_divergence")  # fmt: skip
TARGET_TOLERANCE = 1e-6  # targets this far outside the range still count as inside


@check("K311", "unreachable-targets", stage="data", severity="error", thresholds={"tolerance": TARGET_TOLERANCE})
@per_output
def unreachable_targets(ctx: CheckContext):
    """Targets outside the range the output can produce.

    ## What it does
    Compares the targets' range with what the model can output: [0, 1] for
    sigmoid and softmax outputs and for every cross-entropy loss,
    [-1, 1] for tanh, [0, inf) for relu, softplus and exponential outputs.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    A sigmoid can't reach 255, a relu can't reach -3: the loss never gets
    near zero, the output saturates and its gradient vanishes, and the
    model learns only the part of the targets it can reach.

    ## Example
    ```python
    Dense(1, activation="sigmoid"); model.fit(x, pixel_values_0_255)
    ```

    ## Use instead
    ```python
    Dense(1, activation="sigmoid"); model.fit(x, pixel_values_0_255 / 255.0)  # or a linear output
    ```
    """
    loss = loss_of(ctx)
    if loss and (loss.startswith("sparse_") or "hinge" in loss):
        return  # class indices, or hinge labels in {-1, 1}: not values the output has to reach
    activation = None if loss in PROBABILITY_LOSSES else ctx.output_activation
    if loss in PROBABILITY_LOSSES:
        low, high, source = 0.0, 1.0, f"the loss '{loss}' expects probabilities in"
    elif activation in ACTIVATION_RANGES:
        low, high = ACTIVATION_RANGES[activation]
        source = f"a '{activation}' output can only produce"
    else:
        return
    stats = stats_of(ctx)
    if getattr(ctx, "several", False):
        values = np.asarray(ctx.train_y(), dtype=np.float64)  # this output's own targets
        tmin, tmax = (np.nanmin(values), np.nanmax(values)) if values.size else (np.nan, np.nan)
    else:
        targets = stats.targets
        if len(targets) > 1:
            raise Skip("several targets: each output's range is not matched to its target")
        s = next(iter(targets.values()))
        tmin, tmax = np.nanmin(s.low), np.nanmax(s.high)
    if not (np.isfinite(tmin) and np.isfinite(tmax)):
        raise Skip("the targets have no finite values")
    tol = TARGET_TOLERANCE * max(1.0, abs(low), abs(high) if np.isfinite(high) else 1.0)
    if tmin >= low - tol and tmax <= high + tol:
        return
    y = np.asarray(ctx.train_y(), dtype=np.float64)
    outside = int(((y < low - tol) | (y > high + tol)).sum())
    span = f"{low:g}..{high:g}" if np.isfinite(high) else f"{low:g} and above"
    yield Report(
        f"targets range {tmin:.4g}..{tmax:.4g}, but {source} {span}: {outside:,} of {y.size:,} target values "
        f"({percent(outside, y.size)}) are out of reach{stats.scope()}",
        fix="Scale the targets into the output's range (e.g. y / 255.0), or use an output activation that "
        "covers them (linear for unbounded regression).",
        details={"target_min": float(tmin), "target_max": float(tmax), "range": [low, high], "outside": outside},
    )


# -- K312 ----------------------------------------------------------------------

CLASS_ID_LOSSES = ("sparse_categorical_crossentropy", "sparse_categorical_focal_crossentropy")


@check("K312", "class-targets-not-integers", stage="data", severity="error")
def class_targets_not_integers(ctx: CheckContext):
    """Targets of a sparse class loss that are not whole class ids.

    ## What it does
    With `sparse_categorical_crossentropy`, looks for training targets that
    are not whole numbers (labels divided by 255, probabilities, a
    regression target) and tells how many classes they become once cast to
    integers, as the loss casts them. Any fractional target is reported.

    ## Why is this bad?
    The loss silently truncates each target to an integer class id: labels
    0..9 divided by 255 all become class 0, so the model learns to predict
    one class and its accuracy is the share of that class. No error is
    raised, the loss even falls.

    ## Example
    ```python
    x, y = x / 255.0, y / 255.0  # one division too many
    model.compile(loss="sparse_categorical_crossentropy"); model.fit(x, y)
    ```

    ## Use instead
    ```python
    x = x / 255.0
    model.compile(loss="sparse_categorical_crossentropy"); model.fit(x, y.astype("int64"))
    ```
    """
    if loss_of(ctx) not in CLASS_ID_LOSSES:
        return
    if len(ctx.train.targets) > 1:
        raise Skip("several targets: each output's loss is not matched to its target")
    y = ctx.train_y()
    if hasattr(y, "tocsr") or not np.issubdtype(getattr(y, "dtype", np.dtype(object)), np.floating):
        return  # integer (or boolean) ids are whole numbers; other dtypes are K204's
    flat = np.asarray(y).reshape(-1)
    finite = np.isfinite(flat)
    fractional = finite & (flat != np.round(flat))
    k = int(fractional.sum())
    if not k:
        return
    cast = np.unique(np.trunc(flat[finite]).astype(np.int64))
    become = (
        f"cast to integers they all become class {cast[0]}"
        if len(cast) == 1
        else f"cast to integers they become {len(cast)} classes ({', '.join(map(str, cast[:6]))}"
        + (", ...)" if len(cast) > 6 else ")")
    )
    yield Report(
        f"{k:,} of {flat.size:,} targets ({percent(k, flat.size)}) are not whole class ids (values "
        f"{np.nanmin(flat):.4g}..{np.nanmax(flat):.4g}) for loss '{loss_of(ctx)}': {become}",
        fix="Pass the integer class ids (y.astype('int64')); don't scale the labels along with the inputs.",
        details={"fractional": k, "targets": int(flat.size), "classes_after_cast": [int(c) for c in cast[:20]]},
    )
