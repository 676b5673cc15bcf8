"""K2xx, the output and the loss: activations, logits, units and label encodings that disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .context import per_output
from .losses import (
    BINARY_LOSSES,
    CATEGORICAL_LOSSES,
    KNOWN_LOSSES,
    LINEAR_ACTIVATIONS,
    PROBABILITY_LOSSES,
    REGRESSION_LOSSES,
    SPARSE_LOSSES,
    SQUASHING_ACTIVATIONS,
    canonical_loss,
    train_labels,
    uses_logits,
    values_text,
)
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext


def single_output(ctx: CheckContext) -> None:
    """Skip unless the model has one output (touching ``output_layer`` raises Skip)."""
    _ = ctx.output_layer


# -- checks --------------------------------------------------------------------------


@check("K201", "activation-loss-mismatch", stage="model", severity="error")
@per_output
def activation_loss_mismatch(ctx: CheckContext):
    """Output activation does not fit the loss.

    ## What it does
    Flags a sigmoid output with categorical cross-entropy, a softmax on a
    single unit, a relu/tanh (or other non-probability) output into a
    probability loss without `from_logits=True`, and relu logits into binary
    cross-entropy. A linear output into a probability loss is K209's. A
    sigmoid output with binary cross-entropy on one-hot targets of more
    than two columns (exactly one class per sample) is a warning: that is
    a single-label problem, for softmax and categorical cross-entropy.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    Categorical cross-entropy expects a probability distribution over the
    classes. Sigmoid outputs don't sum to one, so the loss rewards pushing
    every output up; a softmax over one unit is always 1.0 and never learns.
    A relu or tanh output is not a probability: the loss clips it to
    [1e-7, 1 - 1e-7] and its gradient vanishes outside that range. Relu
    logits are never negative, so `sigmoid(logit)` is never below 0.5.

    ## Example
    ```python
    Dense(10, activation="sigmoid"); model.compile(loss="categorical_crossentropy")
    ```

    ## Use instead
    ```python
    Dense(10, activation="softmax"); model.compile(loss="categorical_crossentropy")
    ```
    """
    loss, activation, units = canonical_loss(ctx), ctx.output_activation, ctx.output_units
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    logits = uses_logits(ctx)
    if loss in CATEGORICAL_LOSSES and activation == "sigmoid" and (units or 0) > 1:
        yield Report(
            f"output activation 'sigmoid' with loss '{loss}': the {units} outputs will not sum to 1",
            fix="Use activation='softmax' on the output layer (or binary_crossentropy for multi-label targets).",
            details={"activation": activation, "loss": loss, "units": units},
        )
    elif activation == "softmax" and units == 1:
        yield Report(
            "softmax on a single output unit always outputs 1.0: the model cannot learn",
            fix="Use Dense(1, activation='sigmoid') with binary_crossentropy, or one unit per class with softmax.",
            details={"activation": activation, "units": units},
        )
    elif (
        loss in PROBABILITY_LOSSES
        and not logits
        and activation not in LINEAR_ACTIVATIONS
        and activation not in SQUASHING_ACTIVATIONS
    ):
        squash = "sigmoid" if loss in BINARY_LOSSES else "softmax"
        yield Report(
            f"output activation '{activation}' with loss '{loss}' (from_logits=False): '{activation}' "
            f"outputs are not probabilities, and the loss clips them to [1e-7, 1-1e-7]",
            fix=f"Use activation='{squash}' on the output layer, or a linear output with from_logits=True.",
            details={"activation": activation, "loss": loss, "from_logits": logits},
        )
    elif loss in BINARY_LOSSES and logits and activation == "relu":
        yield Report(
            f"relu output with loss '{loss}' (from_logits=True): logits are never negative, "
            "so the predicted probability never drops below 0.5",
            fix="Remove the relu from the output layer (a linear output) and keep from_logits=True.",
            details={"activation": activation, "loss": loss, "from_logits": logits},
        )
    elif loss in BINARY_LOSSES and (activation == "sigmoid" or logits) and (units or 0) > 2:
        try:
            labels = train_labels(ctx)
        except Skip:
            return
        if labels.kind == "onehot" and labels.columns > 2:
            yield Report(
                f"{'sigmoid' if activation == 'sigmoid' else 'logit'} outputs with loss '{loss}' on one-hot "
                f"targets of {labels.columns} columns: each sample has exactly one class, but the loss treats "
                f"the {labels.columns} outputs as independent yes/no questions (and 'accuracy' becomes binary "
                f"accuracy: {1 - 1 / labels.columns:.0%} for predicting all zeros)",
                fix="Use activation='softmax' on the output with loss='categorical_crossentropy'.",
                severity="warning",
                details={"activation": activation, "loss": loss, "columns": labels.columns},
            )


@check("K202", "from-logits-on-probabilities", stage="model", severity="error")
@per_output
def from_logits_mismatch(ctx: CheckContext):
    """`from_logits` disagrees with the output activation.

    ## What it does
    Flags a loss built with `from_logits=True` on an output that already
    applies softmax or sigmoid. (The other direction, a linear output with
    `from_logits=False`, is reported by K209.)
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    With `from_logits=True` the loss applies softmax (or sigmoid) itself, so
    the model's probabilities are squashed a second time: a confident 0.99
    becomes about 0.7, the loss never gets near zero, and the gradients are
    weak. Training "works" but learns slowly and calibrates badly.

    ## Example
    ```python
    Dense(10, activation="softmax")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```

    ## Use instead
    ```python
    Dense(10)  # logits
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```
    """
    loss, activation = canonical_loss(ctx), ctx.output_activation
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    if loss in PROBABILITY_LOSSES and uses_logits(ctx) and activation in SQUASHING_ACTIVATIONS:
        yield Report(
            f"loss '{loss}' has from_logits=True, but the output layer {ctx.output_layer.name!r} already applies "
            f"'{activation}': the loss applies it a second time",
            fix=f"Drop activation='{activation}' from the output layer (keep from_logits=True), "
            "or keep it and pass from_logits=False.",
            details={"activation": activation, "loss": loss, "from_logits": True},
        )


# Units no label uses are only worth a warning when the data is large enough to show every class.
UNUSED_UNITS_MIN_SAMPLES_PER_UNIT = 5


@check(
    "K203",
    "output-units-mismatch",
    stage="model",
    severity="error",
    thresholds={"unused_units_min_samples_per_unit": UNUSED_UNITS_MIN_SAMPLES_PER_UNIT},
)
@per_output
def output_units_mismatch(ctx: CheckContext):
    """Output units disagree with the labels.

    ## What it does
    Compares the output layer's units with the targets: the largest class id
    for sparse labels, the number of columns for one-hot, multi-label and
    regression targets. Targets whose encoding doesn't fit the loss are
    K204's. Units that no label uses are a warning, given at least
    `unused_units_min_samples_per_unit` samples per unit.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    A class id at or above the number of units has no output to land on: the
    loss is NaN on GPU and an error on CPU. Fewer target columns than units
    (a 1-D target into `Dense(10)` with MSE) are silently broadcast, so the
    model trains on a different problem than the one meant. Units nobody
    trains waste capacity and often mean labels counted from 1.

    ## Example
    ```python
    Dense(10, activation="softmax")  # labels 1..10
    ```

    ## Use instead
    ```python
    Dense(10, activation="softmax")  # labels 0..9: y - 1
    ```
    """
    loss = canonical_loss(ctx)
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    units = ctx.output_units
    if units is None:
        raise Skip("the output layer's size is not known")
    labels = train_labels(ctx)
    complete = ctx.train.complete
    if loss in SPARSE_LOSSES and labels.kind == "integer":
        lo, hi, n = labels.lo, labels.hi, len(labels.values)
        if hi >= units or lo < 0:
            yield Report(
                f"labels range {lo}..{hi} ({n} classes) but the output has {units} units (classes 0..{units - 1})",
                fix=f"Use Dense({max(hi + 1, n)}) on the output, or re-encode labels as 0..{n - 1} "
                "(e.g. y - y.min() or sklearn's LabelEncoder).",
                details={"units": units, "min_label": int(lo), "max_label": int(hi), "classes": n},
            )
        elif complete and hi + 1 < units and len(ctx.train_y()) >= UNUSED_UNITS_MIN_SAMPLES_PER_UNIT * units:
            yield Report(
                f"the output has {units} units but the labels only go up to {hi} ({n} classes): "
                f"{units - hi - 1} outputs are never the right answer",
                fix=f"Use Dense({hi + 1}) on the output, unless classes {hi + 1}..{units - 1} exist elsewhere.",
                severity="warning",
                details={"units": units, "max_label": int(hi), "classes": n},
            )
        return
    if loss in SPARSE_LOSSES or labels.kind in ("other", "integer") and loss in CATEGORICAL_LOSSES:
        return  # an encoding that doesn't fit the loss: K204
    if loss in BINARY_LOSSES and labels.kind == "integer" and not set(labels.values.tolist()) <= {0, 1}:
        return  # K204
    if loss not in KNOWN_LOSSES:
        raise Skip(f"what loss '{loss}' expects of the targets is not known")
    if labels.kind == "other":
        raise Skip("the targets are not a 1-D or 2-D numeric array")
    if labels.columns != units:
        what = "1 target column" if labels.columns == 1 else f"{labels.columns} target columns ({labels.name})"
        broadcast = " and will be broadcast against it silently" if labels.columns == 1 else ""
        yield Report(
            f"the output has {units} units but the data has {what}{broadcast}",
            fix=f"Use Dense({labels.columns}) on the output, or check that y is encoded as intended.",
            details={"units": units, "columns": labels.columns, "encoding": labels.kind},
        )


@check("K204", "label-encoding-mismatch", stage="model", severity="error")
@per_output
def label_encoding_mismatch(ctx: CheckContext):
    """Label encoding disagrees with the loss.

    ## What it does
    Flags one-hot targets with a sparse loss, integer class ids with a
    categorical loss, and class ids beyond 0/1 with binary cross-entropy.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    `sparse_categorical_crossentropy` wants one integer per sample;
    `categorical_crossentropy` wants one column per class. Mixed up, Keras
    either fails deep inside `fit` or broadcasts the shapes and trains on
    nonsense. Binary cross-entropy on labels 0..9 treats every label above 1
    as an impossible target.

    ## Example
    ```python
    model.compile(loss="categorical_crossentropy"); model.fit(x, y)  # y = [3, 0, 7, ...]
    ```

    ## Use instead
    ```python
    model.compile(loss="sparse_categorical_crossentropy"); model.fit(x, y)
    # or keras.utils.to_categorical(y) with categorical_crossentropy
    ```
    """
    loss = canonical_loss(ctx)
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    labels = train_labels(ctx)
    shape = tuple(np.shape(ctx.train_y()))
    if loss in SPARSE_LOSSES and labels.kind in ("onehot", "distribution"):
        yield Report(
            f"targets are {labels.name} with {labels.columns} columns (shape {shape}), but loss '{loss}' "
            "expects one integer class id per sample",
            fix="Use loss='categorical_crossentropy', or pass y.argmax(axis=1) as the targets.",
            details={"encoding": labels.kind, "columns": labels.columns, "loss": loss},
        )
    elif loss in CATEGORICAL_LOSSES and loss not in SPARSE_LOSSES and labels.kind == "integer":
        if ctx.output_units == 1:
            return  # one unit: K201 reports the output, not the labels
        yield Report(
            f"targets are integer class ids ({values_text(labels)}; shape {shape}), but loss '{loss}' expects "
            "one-hot rows",
            fix="Use loss='sparse_categorical_crossentropy', or one-hot encode y with keras.utils.to_categorical.",
            details={"encoding": "integer", "classes": len(labels.values), "loss": loss},
        )
    elif loss in BINARY_LOSSES and labels.kind == "integer" and not set(labels.values.tolist()) <= {0, 1}:
        yield Report(
            f"loss '{loss}' expects targets in 0/1, but the labels take {len(labels.values)} values "
            f"({values_text(labels)})",
            fix="For several classes use softmax with sparse_categorical_crossentropy; for two, map them to 0/1.",
            details={"encoding": "integer", "classes": len(labels.values), "loss": loss},
        )


@check("K209", "loss-output-range-mismatch", stage="model", severity="warning")
@per_output
def loss_output_range_mismatch(ctx: CheckContext):
    """Loss does not fit the output's range (MSE on softmax, cross-entropy on a linear output).

    ## What it does
    Flags a probability loss (cross-entropy) on a linear output without
    `from_logits=True` (an error), and a regression loss (MSE, MAE, Huber,
    ...) on a softmax output, or on a sigmoid output whose targets are
    class labels. A sigmoid output regressing continuous targets in [0, 1]
    (an image autoencoder) is fine.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    Cross-entropy without `from_logits` reads the outputs as probabilities:
    a linear layer's values are clipped to [1e-7, 1 - 1e-7], their gradient
    is zero outside that range, and the loss can't learn. MSE on a softmax
    or sigmoid for class labels multiplies its gradient by the squashing
    function's slope, which vanishes exactly when the model is confidently
    wrong: training stalls where cross-entropy would push hardest.

    ## Example
    ```python
    Dense(10); model.compile(loss="sparse_categorical_crossentropy")
    Dense(10, activation="softmax"); model.compile(loss="mse")
    ```

    ## Use instead
    ```python
    Dense(10); model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    Dense(10, activation="softmax"); model.compile(loss="categorical_crossentropy")
    ```
    """
    loss, activation = canonical_loss(ctx), ctx.output_activation
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    layer = ctx.output_layer
    if loss in PROBABILITY_LOSSES and activation == "linear" and not uses_logits(ctx):
        squash = "sigmoid" if loss in BINARY_LOSSES else "softmax"
        yield Report(
            f"loss '{loss}' reads the outputs as probabilities (from_logits=False), but the output layer "
            f"{layer.name!r} is linear: its values are taken as probabilities (clipped to [1e-7, 1-1e-7]), "
            "so negative outputs get no gradient",
            fix=f"Pass from_logits=True to the loss (e.g. keras.losses.{_class_name(loss)}(from_logits=True)), "
            f"or use activation='{squash}' on the output.",
            severity="error",
            details={"loss": loss, "activation": activation, "from_logits": False},
        )
        return
    if loss not in REGRESSION_LOSSES or activation not in SQUASHING_ACTIVATIONS:
        return
    try:
        labels = train_labels(ctx)
    except Skip:
        labels = None
    if activation == "softmax":
        if labels is not None and labels.kind == "distribution":
            return  # regressing soft distributions is a choice
        targets = f" on {labels.name} targets" if labels is not None and labels.kind != "other" else ""
    else:
        binary = labels is not None and (
            labels.kind in ("onehot", "multilabel")
            or labels.kind == "integer"
            and set(labels.values.tolist()) <= {0, 1}
            and len(labels.values) == 2
        )
        if not binary:
            return  # continuous targets in [0, 1]: K311 judges the range
        targets = " on 0/1 class labels" if labels.kind == "integer" else f" on {labels.name} targets"
    better = (
        "loss='categorical_crossentropy' (sparse_categorical_crossentropy for integer ids)"
        if activation == "softmax"
        else "loss='binary_crossentropy'"
    )
    yield Report(
        f"regression loss '{loss}' on a '{activation}' output{targets}: its gradient vanishes where "
        "the output saturates, so confident mistakes are barely corrected",
        fix=f"Use {better} for class labels.",
        details={"loss": loss, "activation": activation},
    )


@check("K211", "regression-loss-on-class-labels", stage="model", severity="warning")
@per_output
def regression_loss_on_class_labels(ctx: CheckContext):
    """A regression loss on a linear output whose targets are class labels.

    ## What it does
    Flags a regression loss (MSE, MAE, Huber, ...) on a linear output when
    the targets are one-hot rows or 0/1 labels. Squashed outputs (sigmoid,
    softmax) with a regression loss are K209's.
    Each output of a model with several outputs is judged with its own
    loss and targets.

    ## Why is this bad?
    The model is asked to regress class labels: its outputs are not
    probabilities (they go below 0 and above 1), the loss punishes a
    confident right answer of 1.3 as much as a wrong 0.7, and outliers pull
    the decision boundary. Cross-entropy on a softmax or sigmoid output is
    what the labels call for: it trains faster and gives calibrated scores.

    ## Example
    ```python
    Dense(10); model.compile(loss="mse"); model.fit(x, keras.utils.to_categorical(y))
    ```

    ## Use instead
    ```python
    Dense(10, activation="softmax"); model.compile(loss="categorical_crossentropy")
    ```
    """
    loss, activation = canonical_loss(ctx), ctx.output_activation
    single_output(ctx)
    if loss is None:
        raise Skip("the model has no single named loss")
    if loss not in REGRESSION_LOSSES or activation not in LINEAR_ACTIVATIONS:
        return
    labels = train_labels(ctx)
    if labels.kind == "onehot" and labels.columns > 1:
        what, better = (
            f"one-hot targets of {labels.columns} columns",
            "Dense(units, activation='softmax') with loss='categorical_crossentropy'",
        )
    elif labels.kind == "integer" and len(labels.values) == 2 and set(labels.values.tolist()) == {0, 1}:
        what, better = "0/1 class labels", "Dense(1, activation='sigmoid') with loss='binary_crossentropy'"
    else:
        return
    yield Report(
        f"regression loss '{loss}' on the linear output {ctx.output_layer.name!r} with {what}: the model "
        "regresses class labels instead of predicting class probabilities",
        fix=f"Use {better}.",
        details={"loss": loss, "activation": activation, "encoding": labels.kind},
    )


def _class_name(loss: str) -> str:
    return "".join(part.capitalize() for part in loss.split("_"))
