"""K413-K417: epoch-end diagnosis of the weights and activations, with no per-batch hook.

At every epoch end the callback already has the epoch's logs; these checks
add one read of the trainable weights (one device sync per epoch, none per
batch) and, at the first epoch and every :data:`PROBE_EVERY` epochs, one
inference-mode forward pass on the probe batch K402 uses
(:func:`.training.probe_inputs`) through the model's ReLU, sigmoid and tanh
layers. Per weight matrix (kernels, embeddings: variables of two or more
dimensions; biases and normalisation scales are left out) the snapshot keeps
its norm, its exact sum and sum of squares, and a fixed strided sample of at
most :data:`SAMPLE_VALUES` values, so that the change over an epoch is
measured without keeping a second copy of the model. The time spent is kept
in ``ctx.cache["diagnosis_seconds"]`` (``benchmarks/diagnosis.py`` reports it).
Nothing of the model's state is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .registry import Report, Skip, check
from .training import probe_inputs

if TYPE_CHECKING:
    from .training import TrainingContext

DIAGNOSIS_CODES = ("K413", "K414", "K415", "K416", "K417")
BUDGET_SHARE = 0.01  # after epoch 1, an epoch end is skipped while the diagnosis has cost more than 1% of training
SAMPLE_VALUES = 4096  # values per weight matrix kept between epochs to measure its change
PROBE_EVERY = 5  # activations are probed at epoch 1 and every this many epochs
UPDATE_RATIO_LOW = 1e-7  # per-step change under this share of a matrix's norm: it barely moves ...
UPDATE_RATIO_HIGH = 1e-1  # ... over this share: every step rewrites it (the healthy range is about 1e-3)
EXPLODING_FACTOR = 10.0  # a weight norm this many times its value at train begin ...
EXPLODING_MIN_NORM = 100.0  # ... and above this is exploding
DEAD_SHARE = 0.5  # a ReLU layer with at least this share of units zero on every probe sample
SATURATED_SAMPLES = 0.95  # a sigmoid/tanh unit saturated on at least this share of the probe samples ...
SATURATED_SHARE = 0.5  # ... in at least this share of a layer's units
SIGMOID_MARGIN = 0.01  # sigmoid outputs under this or over 1 - this are saturated; |tanh| over 1 - 2x this


@dataclass
class Snapshot:
    norm: float
    total: float
    squares: float
    sample: np.ndarray


def _matrices(model: Any) -> list[Any]:
    return [v for v in getattr(model, "trainable_variables", []) if len(getattr(v, "shape", ())) >= 2]


def _snapshot(variable: Any) -> Snapshot:
    values = np.asarray(variable, dtype=np.float64).reshape(-1)
    step = max(1, values.size // SAMPLE_VALUES)
    return Snapshot(
        float(np.sqrt(np.dot(values, values))),
        float(values.sum()),
        float(np.dot(values, values)),
        values[::step].copy(),
    )


def diagnose(ctx: TrainingContext) -> dict[str, Any]:
    """This epoch's weight and activation facts, computed once per epoch, and the train-begin norms."""
    cache = ctx.cache
    if cache.get("diagnosed_epoch") == ctx.epochs:
        return cache["diagnosis"]
    start = time.perf_counter()
    model = ctx.model
    if model is None:
        raise Skip("the model is not known yet")
    elapsed = start - cache.get("train_started", start)
    if ctx.epochs > 1 and cache.get("diagnosis_seconds", 0.0) > BUDGET_SHARE * elapsed:
        raise Skip(f"paused this epoch: the diagnosis keeps its cost under {BUDGET_SHARE:.0%} of the training time")
    now = {v.path if hasattr(v, "path") else v.name: _snapshot(v) for v in _matrices(model)}
    if not now:
        raise Skip("the model has no trainable weight matrices")
    if not all(np.isfinite(s.norm) for s in now.values()):
        cache["snapshots"] = None
        raise Skip("some weights are NaN or Inf (K401 reports the loss)")
    before = cache.get("snapshots")
    first = cache.setdefault("first_norms", {k: s.norm for k, s in (before or now).items()})
    facts: dict[str, Any] = {"now": now, "before": before, "first_norms": first, "activations": None}
    if ctx.epochs == 1 or ctx.epochs % PROBE_EVERY == 0:
        facts["activations"] = _activation_facts(ctx)
    facts["epochs_between"] = ctx.epochs - cache.get("snapshot_epoch", 0)
    cache["snapshots"] = now
    cache["snapshot_epoch"] = ctx.epochs
    cache["diagnosis"] = facts
    cache["diagnosed_epoch"] = ctx.epochs
    cache["diagnosis_seconds"] = cache.get("diagnosis_seconds", 0.0) + time.perf_counter() - start
    return facts


def remember_initial_weights(ctx: TrainingContext) -> None:
    """Snapshot the weights at train begin (the callback calls this), so epoch 1 has a 'before'."""
    start = time.perf_counter()
    ctx.cache["train_started"] = start
    ctx.cache["snapshot_epoch"] = 0
    if ctx.model is not None:
        ctx.cache["snapshots"] = {v.path if hasattr(v, "path") else v.name: _snapshot(v) for v in _matrices(ctx.model)}
    ctx.cache["diagnosis_seconds"] = ctx.cache.get("diagnosis_seconds", 0.0) + time.perf_counter() - start


ACTIVATION_KINDS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}


def _activation_layers(model: Any) -> list[tuple[Any, str]]:
    found = []
    for layer in getattr(model, "layers", []) or []:
        name = type(layer).__name__
        if name == "ReLU":
            found.append((layer, "relu"))
            continue
        activation = getattr(layer, "activation", None)
        kind = ACTIVATION_KINDS.get(getattr(activation, "__name__", ""))
        if kind and layer is not model.layers[-1]:
            found.append((layer, kind))
    return found


def _activation_facts(ctx: TrainingContext) -> list[dict[str, Any]] | None:
    """Per hidden ReLU/sigmoid/tanh layer: dead or saturated units on the probe batch; None if not probed."""
    model = ctx.model
    layers = _activation_layers(model)
    if not layers or getattr(model, "inputs", None) is None:
        return None
    import keras

    try:
        probe_model = ctx.cache.get("activation_model")
        if probe_model is None:
            probe_model = keras.Model(model.inputs, [layer.output for layer, _ in layers])
            ctx.cache["activation_model"] = probe_model
        x, _ = probe_inputs(ctx.call.train if ctx.call is not None else None)
        # Its inputs are a list: one array goes in as a list of one, or Keras warns on every call
        # that the structure doesn't match (a warning the user's cell would print).
        outputs = probe_model(x if isinstance(x, (list, tuple, dict)) else [x], training=False)
    except Skip:
        return None
    except Exception:  # noqa: BLE001 - a layer used twice has no single output: no activation facts
        return None
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    facts = []
    for (layer, kind), out in zip(layers, outputs):
        values = np.asarray(out, dtype=np.float64)
        units = values.reshape(-1, values.shape[-1])  # samples (and positions) x units
        if kind == "relu":
            bad = (units <= 0).all(axis=0)
        elif kind == "sigmoid":
            bad = ((units < SIGMOID_MARGIN) | (units > 1 - SIGMOID_MARGIN)).mean(axis=0) >= SATURATED_SAMPLES
        else:
            bad = (np.abs(units) > 1 - 2 * SIGMOID_MARGIN).mean(axis=0) >= SATURATED_SAMPLES
        facts.append({"layer": layer.name, "kind": kind, "bad": int(bad.sum()), "units": int(bad.size)})
    return facts


def _short(path: str) -> str:
    return path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] if "/" in path else path


# -- K413 ---------------------------------------------------------------------------


@check(
    "K413",
    "update-ratio-out-of-range",
    stage="training",
    severity="warning",
    thresholds={"per_step_low": UPDATE_RATIO_LOW, "per_step_high": UPDATE_RATIO_HIGH, "sample_values": SAMPLE_VALUES},
)
def update_ratio_out_of_range(ctx: TrainingContext):
    """Weights changing far less or far more than about 1e-3 of their norm per step.

    ## What it does
    At each epoch end, measures how much each weight matrix moved during the
    epoch (on a fixed sample of at most 4,096 of its values), divides by its
    norm and by the epoch's number of steps, and flags a matrix moving over
    10% of its norm per step, or under 1e-7 (but not exactly 0: that is
    K414's) while the others move.

    ## Why is this bad?
    The ratio of update to weight magnitude is a direct reading of the
    learning rate's effect: around 1e-3 is healthy (A. Karpathy, CS231n
    notes, "Neural Networks Part 3: ratio of weights:updates"). Far above,
    each step rewrites the layer and training is chaotic; far below, the
    layer is effectively frozen (a tiny learning rate, vanishing gradients).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=5.0), loss=...)
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss=...)
    ```
    """
    facts = diagnose(ctx)
    before = facts["before"]
    if not before:
        raise Skip("needs the weights of two epoch ends")
    steps = max(1, ctx.steps_per_epoch or 1) * max(1, facts["epochs_between"])
    ratios = {}
    for key, snap in facts["now"].items():
        old = before.get(key)
        if old is None or old.norm == 0 or old.sample.shape != snap.sample.shape:
            continue
        sample_norm = float(np.linalg.norm(old.sample)) or old.norm
        ratios[key] = float(np.linalg.norm(snap.sample - old.sample)) / sample_norm / steps
    moving = [r for r in ratios.values() if r > 0]
    if not moving:
        return
    high = {k: r for k, r in ratios.items() if r > UPDATE_RATIO_HIGH}
    low = {k: r for k, r in ratios.items() if 0 < r < UPDATE_RATIO_LOW}
    if high:
        shown = ", ".join(f"{_short(k)} {r:.2g}" for k, r in sorted(high.items(), key=lambda kv: -kv[1])[:3])
        yield Report(
            f"in epoch {ctx.last_epoch + 1}, {len(high)} of {len(ratios)} weight matrices moved more than "
            f"{UPDATE_RATIO_HIGH:.0%} of their norm per step ({shown}; about 1e-3 is healthy)",
            fix="Lower the learning rate (10x), or clip gradients (clipnorm=1.0).",
            details={"high": high},
        )
    elif low and len(low) < len(ratios):
        shown = ", ".join(f"{_short(k)} {r:.2g}" for k, r in sorted(low.items(), key=lambda kv: kv[1])[:3])
        yield Report(
            f"in epoch {ctx.last_epoch + 1}, {len(low)} of {len(ratios)} weight matrices moved under "
            f"{UPDATE_RATIO_LOW:g} of their norm per step ({shown}) while the others learn: their gradient vanishes",
            fix="Look for saturated activations or a very deep plain stack before those layers; use ReLU, "
            "batch normalisation or residual connections.",
            details={"low": low},
        )


# -- K414 ---------------------------------------------------------------------------


@check("K414", "weights-never-change", stage="training", severity="warning")
def weights_never_change(ctx: TrainingContext):
    """Trainable weights that did not change at all during an epoch.

    ## What it does
    At each epoch end, compares every trainable weight matrix with its
    state at the previous epoch end (its exact sum and sum of squares, and
    a sample of its values) and flags matrices that stayed bit-for-bit the
    same while other weights changed.

    ## Why is this bad?
    A trainable weight whose gradient is exactly zero is dead weight: a
    branch that doesn't reach the loss (an output without a loss, a
    `stop_gradient` left in), a layer after a ReLU that died, a non-
    differentiable op (`argmax`, a cast to int) on the path. The model is
    smaller than it looks. (Frozen layers are not trainable and are not
    judged.)

    ## Example
    ```python
    x = keras.ops.cast(keras.ops.argmax(features, axis=-1), "float32")  # no gradient flows back
    ```

    ## Use instead
    ```python
    x = keras.ops.softmax(features)  # differentiable
    ```
    """
    facts = diagnose(ctx)
    before = facts["before"]
    if not before:
        raise Skip("needs the weights of two epoch ends")
    same = [
        k
        for k, s in facts["now"].items()
        if k in before and s.total == before[k].total and s.squares == before[k].squares
        and np.array_equal(s.sample, before[k].sample)
    ]  # fmt: skip
    if same and len(same) < len(facts["now"]):
        yield Report(
            f"{len(same)} of {len(facts['now'])} trainable weight matrices did not change at all in epoch "
            f"{ctx.last_epoch + 1}: {', '.join(_short(k) for k in same[:4])}{', ...' if len(same) > 4 else ''}",
            fix="Check that these layers reach the loss through differentiable ops (no argmax/cast/stop_gradient), "
            "or set trainable=False if they are meant to be frozen.",
            details={"unchanged": same},
        )


# -- K415 ---------------------------------------------------------------------------


@check(
    "K415",
    "weight-norm-exploding",
    stage="training",
    severity="warning",
    thresholds={"factor_over_initial": EXPLODING_FACTOR, "min_norm": EXPLODING_MIN_NORM},
)
def weight_norm_exploding(ctx: TrainingContext):
    """Weight norms exploding.

    ## What it does
    At each epoch end, compares each weight matrix's norm with its norm at
    train begin and flags one that grew more than 10x and above 100.

    ## Why is this bad?
    Growing weights mean growing activations and gradients: the run is on
    its way to NaN (Pascanu, Mikolov and Bengio, "On the difficulty of
    training recurrent neural networks", 2013), or the loss is being
    minimised by scaling logits up without bound (separable data, no
    regularisation).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")  # unscaled targets
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1.0), loss="mse")
    # and weight decay: keras.optimizers.AdamW(weight_decay=1e-4)
    ```
    """
    facts = diagnose(ctx)
    grown = {
        k: (facts["first_norms"][k], s.norm)
        for k, s in facts["now"].items()
        if facts["first_norms"].get(k)
        and s.norm > EXPLODING_FACTOR * facts["first_norms"][k]
        and s.norm > EXPLODING_MIN_NORM
    }
    if grown:
        shown = ", ".join(f"{_short(k)} {a:.3g} → {b:.3g}" for k, (a, b) in list(grown.items())[:3])
        yield Report(
            f"{len(grown)} weight matrices grew more than {EXPLODING_FACTOR:g}x since training began ({shown})",
            fix="Lower the learning rate, clip gradients (clipnorm=1.0), and add weight decay.",
            details={"grown": {k: list(v) for k, v in grown.items()}},
        )


# -- K416 / K417 ------------------------------------------------------------------------


def _activation_report(ctx: TrainingContext, kinds: tuple[str, ...], share: float):
    facts = diagnose(ctx)
    activations = facts["activations"]
    if activations is None:
        if "activation_model" not in ctx.cache and ctx.epochs == 1:
            raise Skip("the activations of this model can't be probed (subclassed, or no ReLU/sigmoid/tanh layer)")
        return None
    judged = [a for a in activations if a["kind"] in kinds]
    if not judged:
        raise Skip(f"no hidden {'/'.join(kinds)} layer")
    return [a for a in judged if a["units"] and a["bad"] / a["units"] >= share]


@check(
    "K416",
    "dead-relu-units",
    stage="training",
    severity="warning",
    thresholds={"min_dead_share": DEAD_SHARE, "probe_every_epochs": PROBE_EVERY},
)
def dead_relu_units(ctx: TrainingContext):
    """Most units of a ReLU layer are dead.

    ## What it does
    At epoch 1 and every 5 epochs, runs the probe batch (up to 64 training
    samples) through the model and flags a hidden ReLU layer in which half
    or more of the units output 0 for every sample.

    ## Why is this bad?
    A ReLU unit that is 0 for every input has zero gradient and never comes
    back: a step too large pushed its bias far negative. "As much as 40% of
    your network can be dead" with a learning rate too high (A. Karpathy,
    CS231n notes, "Neural Networks Part 1: activation functions").

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.5), loss=...)
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=...)
    # or activation="leaky_relu", He initialisation, batch normalisation
    ```
    """
    bad = _activation_report(ctx, ("relu",), DEAD_SHARE)
    if bad:
        shown = ", ".join(f"{a['layer']} {a['bad']} of {a['units']}" for a in bad[:3])
        yield Report(
            f"after epoch {ctx.last_epoch + 1}, ReLU layers with most units dead (zero on every one of the probe "
            f"samples): {shown}",
            fix="Lower the learning rate; consider leaky_relu, He initialisation or batch normalisation.",
            details={"layers": bad},
        )


@check(
    "K417",
    "saturated-activations",
    stage="training",
    severity="warning",
    thresholds={
        "min_saturated_share_of_units": SATURATED_SHARE,
        "min_saturated_share_of_samples": SATURATED_SAMPLES,
        "sigmoid_margin": SIGMOID_MARGIN,
        "probe_every_epochs": PROBE_EVERY,
    },
)
def saturated_activations(ctx: TrainingContext):
    """Most units of a sigmoid or tanh layer are saturated.

    ## What it does
    At epoch 1 and every 5 epochs, runs the probe batch through the model
    and flags a hidden sigmoid or tanh layer in which half or more of the
    units are saturated (sigmoid under 0.01 or over 0.99, |tanh| over 0.98)
    on 95% or more of the samples.

    ## Why is this bad?
    A saturated unit has a gradient near zero: the layers below it stop
    learning. Glorot and Bengio ("Understanding the difficulty of training
    deep feedforward neural networks", 2010) show sigmoid top layers
    saturating early and training stalling for many epochs.

    ## Example
    ```python
    Dense(256, activation="sigmoid")  # on unscaled inputs, several layers deep
    ```

    ## Use instead
    ```python
    Dense(256, activation="relu")  # and scaled inputs, Glorot/He initialisation
    ```
    """
    bad = _activation_report(ctx, ("sigmoid", "tanh"), SATURATED_SHARE)
    if bad:
        shown = ", ".join(f"{a['layer']} ({a['kind']}) {a['bad']} of {a['units']}" for a in bad[:3])
        yield Report(
            f"after epoch {ctx.last_epoch + 1}, layers with most units saturated on the probe samples: {shown}",
            fix="Scale the inputs, use relu in hidden layers, or add batch normalisation before the activation.",
            details={"layers": bad},
        )
