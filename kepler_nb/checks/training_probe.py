"""K4xx from one forward pass at train begin: collapsed outputs (K410), a lost batch dimension (K411),
outputs outside what the loss expects (K412).

When training starts the model is built, subclassed models included, so
these checks judge what the model *computes* rather than how it is written:
they call it once, in inference mode, on a small batch of training inputs
spread over the data (:func:`.training.probe_inputs`), and look at each
output with the loss it is trained with (a dict or list of losses is matched
to the outputs). No weight, optimizer, metric or random state is touched.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit.model import name_of
from .heads import head_activation, model_heads
from .registry import Report, Skip, check
from .training import probe_inputs

if TYPE_CHECKING:
    from .training import TrainingContext

PROBE_MIN_SAMPLES = 8  # distinct input rows needed to call outputs constant
CONSTANT_TOLERANCE = 1e-6  # outputs whose spread across samples is below this (relative to 1 + |mean|) are constant
RANGE_TOLERANCE = 1e-3  # probabilities this far outside [0, 1], rows this far from summing to 1, still pass

PROBABILITY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy"}
DISTRIBUTION_LOSSES = {"categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_focal_crossentropy"}
LOSS_ALIASES = {"bce": "binary_crossentropy"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _loss_facts(loss: Any) -> tuple[str | None, bool]:
    """A loss's snake_case name and its ``from_logits``."""
    if loss is None:
        return None, False
    name = name_of(loss)
    fn = getattr(loss, "fn", None)
    if isinstance(name, str):
        name = _snake(name)
        inner = _snake(getattr(fn, "__name__", "") or "")
        if inner in PROBABILITY_LOSSES | DISTRIBUTION_LOSSES:
            name = inner
    else:
        name = None
    try:
        config = dict(loss.get_config()) if hasattr(loss, "get_config") else {}
    except Exception:  # noqa: BLE001 - a custom loss without a config
        config = {}
    return LOSS_ALIASES.get(name, name), bool(config.get("from_logits", False))


def probe(ctx: TrainingContext) -> dict[str, Any]:
    """The model's outputs on the probe batch, by output, with their losses; computed once per run."""
    if "probe" in ctx.cache:
        found = ctx.cache["probe"]
        if isinstance(found, Skip):
            raise found
        return found
    try:
        ctx.cache["probe"] = _probe(ctx)
    except Skip as why:
        ctx.cache["probe"] = why
        raise
    return ctx.cache["probe"]


def _probe(ctx: TrainingContext) -> dict[str, Any]:
    model = ctx.model
    if model is None:
        raise Skip("the model is not known yet")
    view = ctx.call.train if ctx.call is not None else None
    x, rows = probe_inputs(view)
    raw = model(x, training=False)
    names = list(getattr(model, "output_names", None) or [])
    if isinstance(raw, dict):
        outputs = {str(k): v for k, v in raw.items()}
    elif isinstance(raw, (list, tuple)):
        names = names if len(names) == len(raw) else [f"output_{i}" for i in range(len(raw))]
        outputs = dict(zip(names, raw))
    else:
        outputs = {names[0] if len(names) == 1 else "output": raw}
    loss = getattr(model, "loss", None)
    losses: dict[str, Any] = {}
    for i, name in enumerate(outputs):
        if isinstance(loss, dict):
            losses[name] = loss.get(name)
        elif isinstance(loss, (list, tuple)):
            losses[name] = loss[i] if i < len(loss) else None
        else:
            losses[name] = loss
    first = next(iter(view.inputs.values()))
    distinct = len(np.unique(np.asarray(first)[rows].reshape(len(rows), -1), axis=0))
    return {
        "outputs": {k: np.asarray(v, dtype=np.float64) for k, v in outputs.items()},
        "losses": {k: _loss_facts(v) for k, v in losses.items()},
        "samples": len(rows),
        "distinct_inputs": distinct,
        "several": len(outputs) > 1,
    }


def _named(name: str, several: bool) -> str:
    return f"output {name!r}" if several else "the output"


# -- K410 ---------------------------------------------------------------------------


@check(
    "K410",
    "outputs-constant-across-samples",
    stage="training",
    severity="error",
    thresholds={"min_distinct_samples": PROBE_MIN_SAMPLES, "relative_tolerance": CONSTANT_TOLERANCE},
)
def outputs_constant_across_samples(ctx: TrainingContext):
    """The model's outputs are the same for every sample (a collapsed model).

    ## What it does
    When training starts, calls the model once in inference mode on up to
    64 training samples (at least 8 distinct ones) and flags an output
    whose every value is the same across those samples (spread under 1e-6
    of its magnitude), for each output of the model.

    ## Why is this bad?
    A freshly initialised network maps different inputs to different
    outputs. Identical outputs mean the inputs never reach them: a softmax
    over a single logit (always 1.0), a reduction over the batch axis
    (`tf.reduce_mean(x)` without `axis`), weights initialised to zero, an
    input multiplied by zero. Training such a model moves only biases.

    ## Example
    ```python
    class Head(keras.layers.Layer):
        def call(self, x):
            return keras.activations.softmax(self.dense(x), axis=-1)  # self.dense = Dense(1): always 1.0
    ```

    ## Use instead
    ```python
    return keras.activations.sigmoid(self.dense(x))  # one unit: sigmoid; several classes: Dense(C) + softmax
    ```
    """
    facts = probe(ctx)
    if _zero_output_kernel(ctx.model):
        raise Skip("the last layer with weights starts at zero (a deliberate zero-init; K208 judges constants)")
    if facts["distinct_inputs"] < PROBE_MIN_SAMPLES:
        raise Skip(f"the probe batch holds only {facts['distinct_inputs']} distinct inputs")
    for name, out in facts["outputs"].items():
        if out.ndim == 0 or out.shape[0] != facts["samples"] or out.shape[0] < 2:
            continue  # K411's
        flat = out.reshape(out.shape[0], -1)
        spread = float(np.max(flat.max(axis=0) - flat.min(axis=0)))
        scale = 1.0 + float(np.max(np.abs(flat)))
        if np.isfinite(spread) and spread <= CONSTANT_TOLERANCE * scale:
            value = flat[0, :4].round(6).tolist()
            yield Report(
                f"{_named(name, facts['several'])} is the same for all {facts['distinct_inputs']} different "
                f"training inputs it was given (values {value}{'...' if flat.shape[1] > 4 else ''}): the inputs "
                "don't reach it",
                fix="Look for a softmax over one unit, a reduction over the batch axis, or zero weights on the way "
                "to this output.",
                details={"output": name, "spread": spread},
            )
            return


def _zero_output_kernel(model: Any) -> bool:
    kernels = [layer.kernel for layer in _all_layers(model) if getattr(layer, "kernel", None) is not None]
    return bool(kernels) and not np.any(np.asarray(kernels[-1]))


def _all_layers(model: Any) -> list[Any]:
    out, stack = [], list(getattr(model, "layers", None) or [])
    while stack:
        layer = stack.pop(0)
        out.append(layer)
        stack[:0] = list(getattr(layer, "layers", None) or [])
    return out


# -- K411 ---------------------------------------------------------------------------


@check("K411", "output-batch-size-mismatch", stage="training", severity="error")
def output_batch_size_mismatch(ctx: TrainingContext):
    """The output's batch dimension doesn't match the input's.

    ## What it does
    When training starts, calls the model once on a probe batch of N
    training samples and flags an output that is a scalar or whose first
    dimension isn't N.

    ## Why is this bad?
    Keras broadcasts the loss against the targets: a model whose output
    has collapsed the batch (a `tensordot` or `reduce_sum` over axis 0, a
    `Flatten` before a reshape that mixes samples) still trains, on one
    number for the whole batch, and learns nothing per sample.

    ## Example
    ```python
    def call(self, x):
        return tf.tensordot(x, self.w, axes=[[0, 1], [0, 1]])  # one scalar per batch
    ```

    ## Use instead
    ```python
    def call(self, x):
        return tf.tensordot(x, self.w, axes=[[1], [0]])  # (batch, units)
    ```
    """
    facts = probe(ctx)
    for name, out in facts["outputs"].items():
        batch = None if out.ndim == 0 else out.shape[0]
        if batch != facts["samples"]:
            shape = tuple(out.shape)
            yield Report(
                f"{_named(name, facts['several'])} has shape {shape} for a batch of {facts['samples']} samples: "
                "the batch dimension was lost, so the loss compares one value with the whole batch's targets",
                fix="Keep axis 0 as the batch: reduce and contract over the feature axes only (axis=-1).",
                details={"output": name, "shape": list(shape), "batch": facts["samples"]},
            )
            return


# -- K412 ---------------------------------------------------------------------------


@check(
    "K412",
    "outputs-outside-loss-range",
    stage="training",
    severity="error",
    thresholds={"tolerance": RANGE_TOLERANCE},
)
def outputs_outside_loss_range(ctx: TrainingContext):
    """Outputs outside what the loss expects (not probabilities for a probability loss).

    ## What it does
    When training starts, calls the model once on a probe batch and checks
    each output against its loss (a dict or list of losses is matched to
    the outputs). Outputs whose layer visibly ends linear, relu or tanh are
    left to K201/K209, which report them before training. Binary cross-entropy without `from_logits` needs values
    in [0, 1]; categorical cross-entropy without `from_logits` needs rows
    of values in [0, 1] that sum to 1. Works for subclassed models and
    custom layers, whose activations can't be read from the layer list.

    ## Why is this bad?
    Keras clips what it takes for probabilities to [1e-7, 1 - 1e-7]
    (categorical cross-entropy also rescales rows to sum to 1): values
    outside that range get no gradient, and the loss isn't the one you
    meant. Usually `from_logits=True` is missing, or a softmax/sigmoid was
    forgotten.

    ## Example
    ```python
    outputs = {"department": layers.Dense(5)(x)}
    model.compile(loss={"department": "categorical_crossentropy"})
    ```

    ## Use instead
    ```python
    model.compile(loss={"department": keras.losses.CategoricalCrossentropy(from_logits=True)})
    ```
    """
    facts = probe(ctx)
    judged = False
    read = _readable_activations(ctx.model, list(facts["outputs"]))
    for name, out in facts["outputs"].items():
        loss, logits = facts["losses"].get(name, (None, False))
        if loss is None or logits or loss not in PROBABILITY_LOSSES | DISTRIBUTION_LOSSES or out.size == 0:
            continue
        if read.get(name) not in (None, *SQUASHING):
            continue  # a linear, relu or tanh output layer: K201/K209 report it before training, once
        judged = True
        low, high = float(np.nanmin(out)), float(np.nanmax(out))
        problem = None
        if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            problem = f"values {low:.3g}..{high:.3g}, outside [0, 1]"
        elif loss in DISTRIBUTION_LOSSES and out.ndim >= 2 and out.shape[-1] > 1:
            sums = out.sum(axis=-1)
            if np.nanmax(np.abs(sums - 1.0)) > RANGE_TOLERANCE:
                problem = f"rows summing to {float(np.nanmin(sums)):.3g}..{float(np.nanmax(sums)):.3g}, not 1"
        if problem:
            squash = "sigmoid" if loss in PROBABILITY_LOSSES else "softmax"
            yield Report(
                f"{_named(name, facts['several'])} gives {problem}, but its loss '{loss}' (from_logits=False) "
                f"reads it as probabilities",
                fix=f"Pass from_logits=True to that loss, or end the output with activation='{squash}'.",
                details={"output": name, "loss": loss, "min": low, "max": high},
            )
    if not judged:
        raise Skip("no output is trained with a probability loss that expects probabilities")


SQUASHING = ("sigmoid", "hard_sigmoid", "softmax")


def _readable_activations(model: Any, names: list[str]) -> dict[str, str | None]:
    """The activation each output's layer is seen to end with before training (None where it can't be read)."""
    heads = model_heads(model)
    if len(heads) == 1 and len(names) == 1:
        return {names[0]: head_activation(heads[0].layer)}
    return {h.name: head_activation(h.layer) for h in heads}
