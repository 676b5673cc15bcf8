"""K4xx: during training, from a callback, once per epoch.

Every check here has stage ``training``. Those named in
:data:`AT_TRAIN_BEGIN` run once when training starts (the model and its
optimizer are built by then); the others run at every epoch end on the
history so far. Each finding is reported once per run. The checks only read
the per-epoch history, apart from K402, which evaluates the loss on one
small batch in inference mode: no weight, optimizer, metric or random state
is touched.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layers import NOISE_TYPES, input_normalizer
from .registry import Report, Skip, check

# Codes run once at train begin rather than at every epoch end.
AT_TRAIN_BEGIN = frozenset({"K402", "K410", "K411", "K412"})

CROSS_ENTROPIES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy")
# Layers that behave differently in training: the training loss is measured with them active.
TRAINING_ONLY_LAYERS = NOISE_TYPES | {"ActivityRegularization", "BatchNormalization"}


@dataclass
class TrainingContext:
    """The run so far, as the training checks see it."""

    call: Any  # the FitCall
    loss_name: str | None = None
    n_classes: int | None = None
    model: Any = None
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0
    steps_per_epoch: int | None = None  # batches averaged into each epoch's loss, when Keras knows
    planned_epochs: int | None = None  # the fit's ``epochs``

    def few_steps(self, minimum: int) -> str | None:
        """Why each epoch's loss is noisy by nature (under ``minimum`` batches per epoch), or None."""
        if self.steps_per_epoch is not None and self.steps_per_epoch < minimum:
            return f"each epoch averages only {self.steps_per_epoch} batch{'es' if self.steps_per_epoch > 1 else ''}"
        return None

    cache: dict[str, Any] = field(default_factory=dict)  # facts computed once per run (the probe's outputs)
    last_epoch: int = -1  # Keras' index of the latest finished epoch (counts from initial_epoch)

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epochs += 1
        self.last_epoch = epoch

    @property
    def finished(self) -> bool:
        """Whether the latest epoch is the last one the fit asked for."""
        return self.planned_epochs is not None and self.last_epoch + 1 >= self.planned_epochs

    def losses(self, key: str = "loss") -> list[float]:
        """The finite values of one loss curve so far, or Skip."""
        values = self.history.get(key)
        if not values:
            raise Skip(f"no {key!r} in the training logs")
        if not all(math.isfinite(v) for v in values):
            raise Skip(f"{key} is not finite (K401 reports that)")
        return list(values)

    @functools.cached_property
    def baseline(self) -> tuple[float, str] | None:
        """The loss of the best constant prediction on the training targets, and what that is.

        ``None`` when the loss or the targets don't allow one. Computed once per run.
        """
        try:
            return constant_baseline(self.loss_name, self.call.train)
        except Exception:  # noqa: BLE001 - odd targets: no baseline
            return None


def constant_baseline(loss_name: str | None, view: Any) -> tuple[float, str] | None:
    """What a model that learned only the targets' prior scores with this loss."""
    if view is None or view.problem or view.y is None or len(view.targets) != 1:
        return None
    y = np.asarray(view.y)
    if y.size == 0 or not np.issubdtype(y.dtype, np.number):
        return None
    y = y.astype(np.float64)
    if loss_name == "sparse_categorical_crossentropy":
        _, counts = np.unique(y.reshape(-1), return_counts=True)
        return _entropy(counts / counts.sum()), "predicting the class frequencies"
    if loss_name == "categorical_crossentropy" and y.ndim == 2:
        p = y.mean(axis=0)
        return _entropy(p[p > 0] / p.sum()), "predicting the class frequencies"
    if loss_name == "binary_crossentropy":
        p = np.clip(y.reshape(len(y), -1).mean(axis=0), 1e-7, 1 - 1e-7)
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p)))), "predicting the label frequencies"
    if loss_name in ("mean_squared_error", "mse"):
        return float(np.mean(np.var(y.reshape(len(y), -1), axis=0))), "predicting the mean target"
    if loss_name in ("mean_absolute_error", "mae"):
        flat = y.reshape(len(y), -1)
        return float(np.mean(np.abs(flat - np.median(flat, axis=0)))), "predicting the median target"
    return None


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@check("K401", "loss-not-finite", stage="training", severity="error")
def loss_not_finite(ctx: TrainingContext):
    """Loss became NaN or Inf.

    ## What it does
    Looks at the epoch's training and validation loss.

    ## Why is this bad?
    Once the loss is NaN, every weight it touches becomes NaN: the rest of the
    run computes nothing. Usual causes: a learning rate too high, NaN in the
    data, `log(0)` in a hand-written loss, integer overflow of unscaled inputs.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    # and check the data for NaN (K306); --stop-on-error stops the run here
    ```
    """
    for key in ("loss", "val_loss"):
        values = ctx.history.get(key)
        if values and not np.isfinite(values[-1]):
            yield Report(
                f"{key} is {values[-1]} at epoch {len(values)}",
                fix="Lower the learning rate, look for NaN/Inf in the data (K306), or clip gradients (clipnorm=1.0).",
                details={"metric": key, "epoch": len(values)},
            )
            return


# -- K402 ---------------------------------------------------------------------------
INIT_LOSS_BATCH = 64  # samples the initial loss is measured on ...
INIT_LOSS_MAX_VALUES = 2_000_000  # ... fewer for large inputs (at least 8), to keep one forward pass cheap
INIT_LOSS_MAX_EXCESS = 2.0  # nats above the expected value: each sample ~7x less likely than a guess


@check(
    "K402",
    "initial-loss-unexpected",
    stage="training",
    severity="warning",
    thresholds={
        "batch_samples": INIT_LOSS_BATCH,
        "max_input_values": INIT_LOSS_MAX_VALUES,
        "max_excess_nats": INIT_LOSS_MAX_EXCESS,
    },
)
def initial_loss_unexpected(ctx: TrainingContext):
    """Loss at initialisation far above its expected value.

    ## What it does
    Before the first step, evaluates the loss on one small batch of the
    training data (in inference mode) and compares it with what an untrained
    classifier should score: ln C for C-class softmax cross-entropy (a
    uniform guess), ln 2 for binary cross-entropy. Runs for the
    cross-entropy losses only.

    ## Why is this bad?
    A freshly initialised network predicts close to uniform probabilities.
    A much larger loss means its outputs start out large and confidently
    wrong: inputs that are not scaled, a last layer initialised too large,
    targets that don't match the output (labels 1..C instead of 0..C-1), or
    probabilities fed to a loss expecting logits. The first epochs are then
    spent undoing the initialisation, or training never recovers.

    ## Known problems
    A model whose first layers (before any weights) include a
    BatchNormalization is skipped: that layer normalises with batch
    statistics only in training, so the inference-mode loss at
    initialisation says nothing about the first steps.

    ## Example
    ```python
    model.fit(pixels_0_to_255, labels)  # initial loss 15.2, expected ln 10 = 2.30
    ```

    ## Use instead
    ```python
    model.fit(pixels_0_to_255 / 255.0, labels)  # initial loss 2.35
    ```
    """
    expected, why = _expected_initial_loss(ctx)
    x, y = _first_batch(ctx.call.train)
    observed = _loss_on(ctx.model, ctx.loss_name, x, y)
    if not math.isfinite(observed):
        yield Report(
            f"the loss before training is already {observed} on {_rows(x)} training samples",
            fix="Look for NaN/Inf in the data (K306) and for labels the loss can't take.",
            details={"observed": observed, "expected": expected},
        )
    elif observed - expected > INIT_LOSS_MAX_EXCESS:
        yield Report(
            f"loss before training is {observed:.3g} on {_rows(x)} training samples, expected about "
            f"{expected:.3g} ({why}): the untrained outputs are far from uniform and confidently wrong",
            fix="Scale the inputs (K303), check the labels match the outputs (0..C-1 for sparse labels), "
            "and keep the output layer's default initialisation.",
            details={"observed": observed, "expected": expected},
        )


def _expected_initial_loss(ctx: TrainingContext) -> tuple[float, str]:
    loss = ctx.loss_name
    if loss is None:
        raise Skip("the model has no single named loss")
    if loss not in CROSS_ENTROPIES:
        raise Skip(f"no expected initial value is known for the loss {loss!r}")
    model = ctx.model
    if model is None or len(getattr(model, "outputs", None) or [None]) > 1:
        raise Skip("models with several outputs are not inspected by this check")
    if input_normalizer(model) == "BatchNormalization":
        # Its moving statistics start at 0/1: in inference mode the raw inputs pass unnormalised.
        raise Skip("a BatchNormalization layer normalises the inputs with batch statistics only while training")
    if loss == "binary_crossentropy":
        return math.log(2), "ln 2 for binary cross-entropy"
    try:
        units = int(model.outputs[0].shape[-1])
    except Exception:  # noqa: BLE001 - subclassed models have no symbolic outputs
        raise Skip("the number of classes could not be read from the model's output") from None
    if units < 2:
        raise Skip(f"{loss} on a single output unit (K201 reports that)")
    return math.log(units), f"ln {units} for {units} classes"


def _first_batch(view: Any) -> tuple[Any, np.ndarray]:
    """At most INIT_LOSS_BATCH samples of the training data, spread over it, as the model takes them."""
    if view is None or view.problem:
        raise Skip(view.problem if view is not None else "no training data was seen")
    if not view.inputs or view.y is None or len(view.targets) != 1:
        raise Skip("the training data has no single target to evaluate the loss on")
    x, rows = probe_inputs(view, extra=[view.y])
    return x, np.asarray(view.y)[rows]


def probe_inputs(view: Any, extra: list[Any] = ()) -> tuple[Any, np.ndarray]:
    """A small batch of training inputs spread over the data, as the model takes them, and its rows.

    At most INIT_LOSS_BATCH samples (fewer for large inputs, at least 8);
    Skip when the inputs can't be sliced.
    """
    if view is None or view.problem:
        raise Skip(view.problem if view is not None else "no training data was seen")
    if not view.inputs:
        raise Skip("no training inputs were seen")
    arrays = list(view.inputs.values()) + list(extra)
    if any(hasattr(a, "tocsr") or not hasattr(a, "shape") or a.ndim == 0 for a in arrays):
        raise Skip("sparse or scalar inputs are not evaluated")
    n = min(len(a) for a in arrays)
    if n == 0:
        raise Skip("the training data is empty")
    per_row = sum(int(np.prod(a.shape[1:])) for a in view.inputs.values()) or 1
    size = max(8, min(INIT_LOSS_BATCH, INIT_LOSS_MAX_VALUES // per_row))
    rows = np.arange(0, n, max(1, n // size))[:size]
    inputs = {k: np.asarray(v)[rows] for k, v in view.inputs.items()}
    names = list(inputs)
    if names == ["x"]:
        x: Any = inputs["x"]
    elif names == [f"x{i}" for i in range(len(names))]:
        x = [inputs[k] for k in names]
    else:
        x = inputs
    return x, rows


def _rows(x: Any) -> int:
    first = x if hasattr(x, "shape") else next(iter(x.values() if isinstance(x, dict) else x))
    return int(first.shape[0])


def _loss_on(model: Any, loss_name: str, x: Any, y: np.ndarray) -> float:
    """The model's cross-entropy on one batch, in inference mode: no state changes.

    The loss is computed here in NumPy from the predictions (with the loss's
    ``from_logits``), as Keras computes it: cheaper than calling the Keras
    loss, and it can't touch any tracker.
    """
    config = {}
    get_config = getattr(model.loss, "get_config", None)
    if get_config is not None:
        try:
            config = dict(get_config())
        except Exception:  # noqa: BLE001 - a custom loss without a config: Keras' defaults
            config = {}
    prediction = np.asarray(model(x, training=False), dtype=np.float64)
    return cross_entropy(loss_name, np.asarray(y), prediction, bool(config.get("from_logits", False)))


EPSILON = 1e-7  # Keras' clipping of probabilities


def cross_entropy(loss_name: str, y: np.ndarray, output: np.ndarray, from_logits: bool = False) -> float:
    """Mean cross-entropy of ``output`` against ``y``, as the Keras loss of that name computes it."""
    if loss_name == "binary_crossentropy":
        p = 1.0 / (1.0 + np.exp(-output)) if from_logits else output
        p = np.clip(p, EPSILON, 1.0 - EPSILON)
        y = y.astype(np.float64).reshape(p.shape) if y.size == p.size else y.astype(np.float64)
        return float(np.mean(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))))
    if from_logits:
        shifted = output - output.max(axis=-1, keepdims=True)
        p = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    else:
        p = output / output.sum(axis=-1, keepdims=True)
    p = np.clip(p, EPSILON, 1.0 - EPSILON)
    if loss_name == "sparse_categorical_crossentropy":
        labels = y.reshape(len(p)).astype(np.int64)
        if labels.min() < 0 or labels.max() >= p.shape[-1]:
            raise Skip(f"labels {labels.min()}..{labels.max()} don't fit {p.shape[-1]} outputs (K203 reports that)")
        return float(np.mean(-np.log(p[np.arange(len(p)), labels])))
    return float(np.mean(-(y.astype(np.float64) * np.log(p)).sum(axis=-1)))


# -- K403 ---------------------------------------------------------------------------
NOT_DECREASING_MIN_EPOCHS = 3  # judged on the last this-many epochs, from this many on
NOT_DECREASING_MIN_RATE = 0.001  # progress under 0.1% of the loss per epoch is no progress
NOT_DECREASING_NEAR_BASELINE = 0.9  # a best loss above 90% of the constant-prediction loss learned nothing
NOT_DECREASING_LEARNED_FRACTION = 0.5  # a first epoch under half the constant-prediction loss already learned
STUCK_MIN_EPOCHS = 5  # a run this long ...
STUCK_NEAR_BASELINE = 0.97  # ... whose best loss is still within 3% of the constant-prediction loss ...
STUCK_MAX_RATE = 0.01  # ... and falls under 1% per epoch over the window is stuck, however steadily it falls


@check(
    "K403",
    "loss-not-decreasing",
    stage="training",
    severity="warning",
    thresholds={
        "window_epochs": NOT_DECREASING_MIN_EPOCHS,
        "min_relative_improvement_per_epoch": NOT_DECREASING_MIN_RATE,
        "near_baseline_fraction": NOT_DECREASING_NEAR_BASELINE,
        "learned_fraction_of_baseline": NOT_DECREASING_LEARNED_FRACTION,
        "stuck_min_epochs": STUCK_MIN_EPOCHS,
        "stuck_near_baseline_fraction": STUCK_NEAR_BASELINE,
        "stuck_max_relative_improvement_per_epoch": STUCK_MAX_RATE,
    },
)
def loss_not_decreasing(ctx: TrainingContext):
    """Training loss not decreasing.

    ## What it does
    Looks at the last 3 epochs: when the training loss gained less than
    0.1% per epoch there, flags the run if it never made real progress (its
    best loss is under 0.1% per epoch below the first epoch's), or if its
    best loss is still no better than a constant prediction would score
    (above 90% of the loss of predicting the class frequencies or the mean
    target). From 5 epochs on, a loss still within 3% of that constant
    prediction's and falling under 1% per epoch is flagged too, however
    steadily it falls (0.6867 → 0.6817 against ln 2 = 0.693). A slow but
    steady start, well below the constant prediction, passes; so does a
    plateau reached after learning.

    ## Why is this bad?
    A loss that does not move is a model that does not learn: a learning
    rate far too small, gradients that vanish (saturated sigmoids, dead
    ReLUs after a step too large), frozen layers, or labels with no relation
    to the inputs. More epochs will not help.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), loss="sparse_categorical_crossentropy")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
    # then overfit one small batch to prove the model can learn at all
    ```
    """
    loss = ctx.losses()
    n = NOT_DECREASING_MIN_EPOCHS
    if len(loss) < n:
        raise Skip(f"needs {n} epochs, has {len(loss)}")
    window = loss[-n:]
    gain = (window[0] - min(window[1:])) / abs(window[0]) if window[0] else 0.0
    baseline = ctx.baseline
    first, best = loss[0], min(loss)
    if gain >= NOT_DECREASING_MIN_RATE * (n - 1):
        stuck = (
            baseline is not None
            and baseline[0] > 0
            and len(loss) >= STUCK_MIN_EPOCHS
            and best >= STUCK_NEAR_BASELINE * baseline[0]
            and gain < STUCK_MAX_RATE * (n - 1)
        )
        if stuck:
            yield Report(
                f"loss {first:.4g} → {loss[-1]:.4g} in {len(loss)} epochs is still within "
                f"{1 - best / baseline[0]:.1%} of a model that learned nothing ({baseline[1]} scores "
                f"{baseline[0]:.4g}), falling only {gain / (n - 1):.2%} per epoch",
                fix="Raise the learning rate, check that the labels belong to the inputs, that inputs are "
                "scaled and layers trainable; try to overfit one small batch first.",
                details={"first": first, "best": best, "baseline": baseline[0], "rate": gain / (n - 1)},
            )
        return  # still improving
    if baseline is not None and first < NOT_DECREASING_LEARNED_FRACTION * baseline[0]:
        return  # learned during the first epoch, then levelled off: converged
    overall = (first - best) / abs(first) if first else 0.0
    prior = f"{baseline[1]} scores {baseline[0]:.4g}" if baseline is not None else ""
    if overall < NOT_DECREASING_MIN_RATE * (len(loss) - 1):
        message = (
            f"loss barely moved in {len(loss)} epochs: {first:.4g} → best {best:.4g} "
            f"({overall:+.3%} in {len(loss) - 1} epochs, under {NOT_DECREASING_MIN_RATE:.1%} per epoch)"
        )
        yield Report(
            message + (f"; {prior}" if prior else ""),
            fix="Raise the learning rate, check that layers are trainable and activations don't saturate, "
            "and try to overfit one small batch first.",
            details={"first": first, "best": best, "improvement": overall},
        )
    elif baseline is not None and best >= NOT_DECREASING_NEAR_BASELINE * baseline[0]:
        yield Report(
            f"loss stopped improving at {window[-1]:.4g} (best {best:.4g} in {len(loss)} epochs), no better "
            f"than a model that learned nothing: {prior}",
            fix="Lower the learning rate if the loss jumped first (dead ReLUs), else raise it; check that the "
            "labels belong to the inputs and that layers are trainable.",
            details={"first": first, "best": best, "baseline": baseline[0]},
        )


# -- K404 ---------------------------------------------------------------------------
DIVERGING_RISES = 3  # epochs in a row with a higher loss
DIVERGING_MIN_RISE = 0.10  # ... adding up to at least 10%
DIVERGING_MIN_SHARE_OF_PROGRESS = 0.25  # ... and to a quarter of the progress made so far (first - best)
DIVERGING_MIN_STEPS = 8  # with fewer batches per epoch, the rises-in-a-row rule is noise
DIVERGING_FACTOR = 2.0  # or a loss above twice its best and above the first epoch's


@check(
    "K404",
    "loss-diverging",
    stage="training",
    severity="warning",
    thresholds={
        "rises_in_a_row": DIVERGING_RISES,
        "min_rise": DIVERGING_MIN_RISE,
        "min_share_of_progress": DIVERGING_MIN_SHARE_OF_PROGRESS,
        "min_steps_per_epoch_for_rises": DIVERGING_MIN_STEPS,
        "factor_over_best": DIVERGING_FACTOR,
    },
)
def loss_diverging(ctx: TrainingContext):
    """Training loss diverging.

    ## What it does
    Flags a training loss that rose 3 epochs in a row by 10% or more in
    total and by at least a quarter of the progress the run had made (its
    first epoch's loss minus its best), or that climbed back above its
    first epoch's value and to more than twice its best. Rises are judged
    against the loss's own scale: a loss that wobbles 1e-6 → 5e-6 a million
    times below where it started, or 0.042 → 0.053 at the end of a run that
    came down from 0.7, is noise, not divergence. When an epoch averages
    fewer than 8 batches, its loss is noisy by nature and only the second
    rule applies.

    ## Why is this bad?
    Gradient descent with a sane step size lowers the training loss; a
    loss that climbs steadily means the steps overshoot (a learning rate too
    high, a schedule that raises it, no gradient clipping on exploding
    gradients). It ends in NaN or in a model worse than where it started.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=5.0), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1.0), loss="mse")
    ```
    """
    loss = ctx.losses()
    if len(loss) < 2:
        raise Skip(f"needs 2 epochs, has {len(loss)}")
    tail = loss[-(DIVERGING_RISES + 1) :]
    rising = len(tail) == DIVERGING_RISES + 1 and all(b > a for a, b in zip(tail, tail[1:]))
    rise = tail[-1] - tail[0]
    progress = loss[0] - min(loss)
    if (
        rising
        and ctx.few_steps(DIVERGING_MIN_STEPS) is None
        and tail[0] > 0
        and rise / tail[0] >= DIVERGING_MIN_RISE
        and rise >= DIVERGING_MIN_SHARE_OF_PROGRESS * progress
    ):
        yield Report(
            f"loss rose {DIVERGING_RISES} epochs in a row: {' → '.join(f'{v:.4g}' for v in tail)} "
            f"(+{rise / tail[0]:.0%})",
            fix="Lower the learning rate (try 10x lower), or clip gradients (clipnorm=1.0).",
            details={"values": tail},
        )
        return
    best, last = min(loss), loss[-1]
    if best > 0 and last > DIVERGING_FACTOR * best and last > loss[0]:
        yield Report(
            f"loss is {last:.4g} at epoch {len(loss)}: {last / best:.1f}x its best ({best:.4g} at epoch "
            f"{loss.index(best) + 1}) and above where it started ({loss[0]:.4g})",
            fix="Lower the learning rate (try 10x lower), or clip gradients (clipnorm=1.0); "
            "keras.callbacks.ModelCheckpoint(save_best_only=True) keeps the best weights.",
            details={"best": best, "last": last, "first": loss[0]},
        )


# -- K405 ---------------------------------------------------------------------------
OSCILLATION_WINDOW = 6  # the last epochs looked at
OSCILLATION_MIN_FLIPS = 3  # of the 4 possible changes of direction in the window
OSCILLATION_MIN_AMPLITUDE = 0.10  # typical step at least 10% of the window's mean loss ...
OSCILLATION_MIN_SHARE_OF_START = 0.02  # ... and 2% of the first epoch's loss (a converged wobble is fine)
OSCILLATION_MIN_STEPS = 8  # an epoch of fewer batches has a noisy loss by nature


@check(
    "K405",
    "loss-oscillating",
    stage="training",
    severity="warning",
    thresholds={
        "window_epochs": OSCILLATION_WINDOW,
        "min_direction_changes": OSCILLATION_MIN_FLIPS,
        "min_amplitude": OSCILLATION_MIN_AMPLITUDE,
        "min_share_of_first_loss": OSCILLATION_MIN_SHARE_OF_START,
        "min_steps_per_epoch": OSCILLATION_MIN_STEPS,
    },
)
def loss_oscillating(ctx: TrainingContext):
    """Training loss oscillating.

    ## What it does
    Over the last 6 epochs, counts the changes of direction of the training
    loss (up, down, up...). Flags 3 or more of the 4 possible when the
    typical epoch-to-epoch step (the median) is at least 10% of the mean
    loss and 2% of the first epoch's loss. Runs whose epochs average fewer
    than 8 batches are not judged: their epoch loss is noisy by nature.

    ## Why is this bad?
    A loss that jumps up and down by large amounts, instead of settling,
    means the optimizer bounces across a valley: the learning rate is too
    high for this batch size, or the batches are so small or unshuffled that
    each epoch pulls the weights somewhere else.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    # or keras.callbacks.ReduceLROnPlateau(); or a larger batch size
    ```
    """
    loss = ctx.losses()
    noisy = ctx.few_steps(OSCILLATION_MIN_STEPS)
    if noisy:
        raise Skip(f"{noisy}: its loss is noisy by nature")
    if len(loss) < OSCILLATION_WINDOW:
        raise Skip(f"needs {OSCILLATION_WINDOW} epochs, has {len(loss)}")
    window = np.asarray(loss[-OSCILLATION_WINDOW:])
    steps = np.diff(window)
    flips = int(np.sum(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0))
    amplitude = float(np.median(np.abs(steps)))
    mean = float(window.mean())
    if (
        flips >= OSCILLATION_MIN_FLIPS
        and amplitude >= OSCILLATION_MIN_AMPLITUDE * abs(mean)
        and amplitude >= OSCILLATION_MIN_SHARE_OF_START * abs(loss[0])
    ):
        yield Report(
            f"loss changed direction {flips} times in the last {OSCILLATION_WINDOW} epochs "
            f"({' '.join(f'{v:.4g}' for v in window)}), typical step {amplitude:.3g} "
            f"({amplitude / abs(mean):.0%} of the mean loss)",
            fix="Lower the learning rate (or add keras.callbacks.ReduceLROnPlateau), use larger batches, "
            "and shuffle the training data.",
            details={"window": window.tolist(), "direction_changes": flips, "amplitude": amplitude},
        )


# -- K406 ---------------------------------------------------------------------------
OVERFIT_EPOCHS = 3  # val_loss rose this many epochs in a row
OVERFIT_MIN_RISE = 0.05  # ... to at least 5% above its best
OVERFIT_MIN_TRAIN_FALL = 0.10  # while the training loss fell at least 10% since that best epoch


@check(
    "K406",
    "overfitting",
    stage="training",
    severity="warning",
    thresholds={
        "rises_in_a_row": OVERFIT_EPOCHS,
        "min_val_loss_rise": OVERFIT_MIN_RISE,
        "min_training_loss_fall": OVERFIT_MIN_TRAIN_FALL,
    },
)
def overfitting(ctx: TrainingContext):
    """Overfitting: validation loss rising while the training loss falls.

    ## What it does
    Flags a validation loss that rose 3 epochs in a row and stands 5% or
    more above its best, while the training loss fell by 10% or more since
    that best epoch.

    ## Why is this bad?
    From there on the model memorises the training set: each epoch makes it
    better on data it has seen and worse on data it hasn't. The weights
    worth keeping are those of the epoch before the rise.

    ## Example
    ```python
    model.fit(x, y, epochs=200, validation_split=0.2)
    ```

    ## Use instead
    ```python
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    model.fit(x, y, epochs=200, validation_split=0.2, callbacks=[stop])
    # and/or more data, augmentation, dropout, weight decay, a smaller model
    ```
    """
    if "val_loss" not in ctx.history:
        raise Skip("no validation loss (no validation data)")
    val, loss = ctx.losses("val_loss"), ctx.losses()
    if len(val) < OVERFIT_EPOCHS + 1:
        raise Skip(f"needs {OVERFIT_EPOCHS + 1} epochs, has {len(val)}")
    v = val[-(OVERFIT_EPOCHS + 1) :]
    rising = all(b > a for a, b in zip(v, v[1:]))
    best_epoch = int(np.argmin(val))
    best = val[best_epoch]
    above = (val[-1] - best) / best if best > 0 else 0.0
    fell = loss[-1] <= (1 - OVERFIT_MIN_TRAIN_FALL) * loss[best_epoch]
    if rising and above >= OVERFIT_MIN_RISE and fell:
        yield Report(
            f"val_loss rose {OVERFIT_EPOCHS} epochs in a row ({v[0]:.4g} → {v[-1]:.4g}) and is {above:.0%} above "
            f"its best ({best:.4g} at epoch {best_epoch + 1}), while loss fell {loss[best_epoch]:.4g} → {loss[-1]:.4g}",
            fix="Stop earlier: keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True); "
            "or regularise (more data, augmentation, dropout, weight decay).",
            details={"val_loss": v, "best_epoch": best_epoch + 1, "above_best": above},
        )


# -- K407 ---------------------------------------------------------------------------
VAL_BETTER_EPOCHS = 3  # epochs in a row, the first epoch not counted
VAL_BETTER_RATIO = 0.5  # val_loss below half the training loss ...
VAL_BETTER_RATIO_REGULARISED = 0.25  # ... or a quarter, with dropout/noise/batch norm active in training
VAL_BETTER_MIN_GAP = 0.05  # and the gap at least 5% of the first epoch's loss


@check(
    "K407",
    "validation-better-than-training",
    stage="training",
    severity="warning",
    thresholds={
        "epochs_in_a_row": VAL_BETTER_EPOCHS,
        "max_ratio": VAL_BETTER_RATIO,
        "max_ratio_with_dropout": VAL_BETTER_RATIO_REGULARISED,
        "min_gap_share_of_first_loss": VAL_BETTER_MIN_GAP,
    },
)
def validation_better_than_training(ctx: TrainingContext):
    """Validation loss suspiciously better than the training loss.

    ## What it does
    From the second epoch on, flags a validation loss below half the
    training loss for 3 epochs in a row (below a quarter when the model has
    dropout, noise or batch-normalisation layers, which make the training
    loss higher by design), when the gap is more than a rounding matter.

    ## Why is this bad?
    A model should not do much better on data it never trained on. When it
    does, the validation set is easier than the training set: the split took
    one class or one easy slice (`validation_split` takes the tail of the
    data), the validation samples are copies of training ones, or the
    training inputs were augmented/corrupted but the validation ones weren't.
    Every conclusion drawn from that validation loss is then wrong.

    ## Example
    ```python
    model.fit(x_sorted_by_label, y_sorted, validation_split=0.2)  # validation = the last classes only
    ```

    ## Use instead
    ```python
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=y, shuffle=True)
    model.fit(x_tr, y_tr, validation_data=(x_val, y_val))
    ```
    """
    if "val_loss" not in ctx.history:
        raise Skip("no validation loss (no validation data)")
    val, loss = ctx.losses("val_loss"), ctx.losses()
    if len(val) < VAL_BETTER_EPOCHS + 1:
        raise Skip(f"needs {VAL_BETTER_EPOCHS + 1} epochs, has {len(val)}")
    layers = _training_only_layers(ctx.model)
    ratio = VAL_BETTER_RATIO_REGULARISED if layers else VAL_BETTER_RATIO
    min_gap = VAL_BETTER_MIN_GAP * abs(loss[0])
    pairs = list(zip(loss, val))[1:][-VAL_BETTER_EPOCHS:]
    if len(pairs) == VAL_BETTER_EPOCHS and all(v < ratio * t and t - v >= min_gap for t, v in pairs):
        because = f" (with {', '.join(layers)} active in training)" if layers else ""
        shown = ", ".join(f"{v:.3g} vs {t:.3g}" for t, v in pairs)
        yield Report(
            f"val_loss below {ratio:.0%} of loss{because} for {VAL_BETTER_EPOCHS} epochs in a row "
            f"(val_loss vs loss: {shown}): the validation set looks easier than the training set",
            fix="Split at random and stratified (train_test_split(..., stratify=y)) rather than taking the tail; "
            "look for validation samples that also occur in training (K310).",
            details={"pairs": pairs, "ratio": ratio, "training_only_layers": layers},
        )


def _training_only_layers(model: Any) -> list[str]:
    found: list[str] = []
    stack = list(getattr(model, "layers", []) or [])
    while stack:
        layer = stack.pop(0)
        name = type(layer).__name__
        if (name in TRAINING_ONLY_LAYERS or name.startswith("Random")) and name not in found:
            found.append(name)
        stack.extend(getattr(layer, "layers", []) or [])
    return found
