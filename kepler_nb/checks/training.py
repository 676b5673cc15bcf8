"""K4xx: during training, from a callback, once per epoch: the run's context, K401 and K402.

The loss curve's shape (K403-K405) is judged in :mod:`.training_loss`,
training against validation (K406, K407) in :mod:`.training_validation`.

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

from .layers import input_normalizer
from .registry import Report, Skip, check

# Codes run once at train begin rather than at every epoch end.
AT_TRAIN_BEGIN = frozenset({"K402", "K410", "K411", "K412"})

CROSS_ENTROPIES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy")


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
