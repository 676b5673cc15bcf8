"""K2xx, the layers: linear stacks, bias before batch norm, dropout, constant initialisers, saturation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layers import (
    BATCHNORM_TYPES,
    DROPOUT_TYPES,
    LINEAR_PASS_TYPES,
    LayerGraph,
    activation_of,
    describe,
    flat_layers,
    is_a,
    is_weight_layer,
    layer_graph,
    output_weight_layers,
    width,
)
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext

# -- checks --------------------------------------------------------------------------


@check("K205", "missing-nonlinearity", stage="model", severity="warning")
def missing_nonlinearity(ctx: CheckContext):
    """Hidden layers without a non-linearity between them.

    ## What it does
    Finds a Dense or convolution layer with no activation whose output goes,
    through nothing but reshaping, dropout, padding, average pooling or batch
    normalization, into another Dense or convolution layer. A deliberate
    linear bottleneck (narrower than what comes before and after it, as in
    an autoencoder's code layer or MobileNetV2) is not flagged. A linear
    layer followed by one with a non-linearity (`Dense(64) -> Dense(32,
    activation="relu")`) is a legitimate factorisation, so it is reported
    as info; a warning needs two linear maps in a row with no non-linearity
    after the second either.
    A subclassed model is read from its `call()` when that chains its
    layers (`x = self.a(x)`, a loop over a list of layers); otherwise this
    check skips it.

    ## Why is this bad?
    Two linear maps in a row are one linear map: the extra layer adds
    parameters and compute but no expressive power. Usually an
    `activation=` was forgotten.

    ## Example
    ```python
    Dense(64), Dense(64), Dense(10, activation="softmax")
    ```

    ## Use instead
    ```python
    Dense(64, activation="relu"), Dense(64, activation="relu"), Dense(10, activation="softmax")
    ```
    """
    graph = layer_graph(ctx.model)
    previous: dict[int, int | None] = {}
    for layer in graph.layers:
        if is_weight_layer(layer):
            for nxt, _ in graph.through(layer, LINEAR_PASS_TYPES):
                previous.setdefault(id(nxt), width(layer))
    found = []
    severe = False
    for layer in graph.layers:
        if not is_weight_layer(layer) or activation_of(layer) != "linear":
            continue
        following = [
            (nxt, path)
            for nxt, path in graph.through(layer, LINEAR_PASS_TYPES)
            if is_weight_layer(nxt) and not _bottleneck(layer, nxt, path, previous.get(id(layer)))
        ]
        chains = ["".join(f" -> {p.name}" for p in path) + f" -> {describe(nxt)}" for nxt, path in following]
        severe = severe or any(_stays_linear(graph, nxt) for nxt, _ in following)
        if chains:
            more = f" (and {len(chains) - 1} more)" if len(chains) > 1 else ""
            found.append((layer, f"{describe(layer)}{chains[0]}{more}"))
    if len(found) == 1:
        layer, chain = found[0]
        yield Report(
            f"{chain}: no non-linearity between them, so they collapse into one linear map",
            fix=f"Give {layer.name} an activation (e.g. activation='relu'), or remove one of the two layers.",
            severity=None if severe else "info",
            details={"layers": [layer.name]},
        )
    elif found:
        yield Report(
            f"{len(found)} layers have no non-linearity before the next Dense/convolution, so each pair collapses "
            f"into one linear map: {_listing([chain for _, chain in found])}",
            fix="Give these layers an activation (e.g. activation='relu'), or remove the redundant ones.",
            severity=None if severe else "info",
            details={"layers": [layer.name for layer, _ in found]},
        )


def _stays_linear(graph: LayerGraph, layer: Any) -> bool:
    """A linear weight layer whose output meets no non-linearity before the next weight layer or the end."""
    if activation_of(layer) != "linear":
        return False
    nexts = list(graph.through(layer, LINEAR_PASS_TYPES))
    return not nexts or any(is_weight_layer(nxt) for nxt, _ in nexts)


def _listing(items: list[str], limit: int = 3) -> str:
    return "; ".join(items[:limit]) + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def _bottleneck(layer: Any, nxt: Any, path: list[Any], before: int | None) -> bool:
    """A linear layer narrower than both what feeds it and what follows it."""
    w, w_next = width(layer), width(nxt)
    if w is None or w_next is None or w >= w_next or any(is_a(p, RESHAPING_TYPES) for p in path):
        return False
    if before is None:
        before = _input_width(layer)
    return before is None or w < before


RESHAPING_TYPES = {"Flatten", "Reshape", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"}


def _input_width(layer: Any) -> int | None:
    try:
        return int(layer.input.shape[-1])
    except Exception:  # noqa: BLE001 - an unbuilt layer has no input yet
        return None


@check("K206", "bias-before-batchnorm", stage="model", severity="info")
def bias_before_batchnorm(ctx: CheckContext):
    """Bias immediately before BatchNormalization.

    ## What it does
    Finds a Dense or convolution layer with `use_bias=True` and no
    activation whose output goes straight (dropout aside) into a
    BatchNormalization that has its own offset (`center=True`).
    A subclassed model is read from its `call()` when that chains its
    layers (`x = self.a(x)`, a loop over a list of layers); otherwise this
    check skips it.

    ## Why is this bad?
    Batch normalization subtracts the batch mean, which removes any constant
    the layer added: the bias gets no useful gradient and the normalization's
    `beta` does its job. It costs parameters and memory for nothing.

    ## Example
    ```python
    Conv2D(64, 3), BatchNormalization(), ReLU()
    ```

    ## Use instead
    ```python
    Conv2D(64, 3, use_bias=False), BatchNormalization(), ReLU()
    ```
    """
    graph = layer_graph(ctx.model)
    found = []
    for layer in graph.layers:
        if not is_weight_layer(layer) or not getattr(layer, "use_bias", False):
            continue
        if activation_of(layer) != "linear":
            continue
        for nxt, _ in graph.through(layer, DROPOUT_TYPES | {"GaussianNoise"}):
            if is_a(nxt, BATCHNORM_TYPES) and getattr(nxt, "center", True) and _normalizes_channels(layer, nxt):
                found.append((layer, nxt))
                break
    if len(found) == 1:
        layer, norm = found[0]
        yield Report(
            f"{describe(layer)} has a bias, and {norm.name} (BatchNormalization) right after it "
            f"subtracts the mean: {width(layer) or 'its'} bias values are wasted",
            fix=f"Pass use_bias=False to {layer.name}; the BatchNormalization's beta takes its place.",
            details={"layers": [layer.name]},
        )
    elif found:
        wasted = sum(width(layer) or 0 for layer, _ in found)
        yield Report(
            f"{len(found)} layers have a bias right before a BatchNormalization that subtracts the mean, "
            f"wasting {wasted:,} bias values: {_listing([f'{a.name} -> {b.name}' for a, b in found], 4)}",
            fix="Pass use_bias=False to these layers; each BatchNormalization's beta takes the bias's place.",
            details={"layers": [layer.name for layer, _ in found], "wasted": wasted},
        )


def _normalizes_channels(layer: Any, bn: Any) -> bool:
    """Whether the BatchNormalization's axis is the layer's channel axis."""
    axes = bn.axis if isinstance(bn.axis, (list, tuple)) else [bn.axis]
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return list(axes) == [1]
    try:
        rank = len(layer.output.shape)
    except Exception:  # noqa: BLE001 - unbuilt: the default axis is -1
        rank = None
    return list(axes) == [-1] or (rank is not None and list(axes) == [rank - 1])


DROPOUT_MAX_RATE = 0.5


@check("K207", "dropout-too-high", stage="model", severity="warning", thresholds={"max_rate": DROPOUT_MAX_RATE})
def dropout_too_high(ctx: CheckContext):
    """Dropout rate above 0.5, or dropout on the output.

    ## What it does
    Flags a Dropout layer (or an RNN's `dropout` / `recurrent_dropout`) with
    a rate above `max_rate`, and a dropout layer that is the model's output.
    Dropout just before the output layer is common and fine.

    ## Why is this bad?
    `rate` is the fraction of units *dropped*, not kept: `Dropout(0.8)`
    throws away four in five activations, and the network underfits. A
    dropout after the output zeroes predictions themselves during training,
    so the loss sees random zeros instead of the model's answer.

    ## Example
    ```python
    Dense(128, activation="relu"), Dropout(0.8), Dense(10, activation="softmax"), Dropout(0.2)
    ```

    ## Use instead
    ```python
    Dense(128, activation="relu"), Dropout(0.3), Dense(10, activation="softmax")
    ```
    """
    layers = flat_layers(ctx.model)
    if not layers:
        raise Skip("the model has no layers to inspect")
    for layer in layers:
        rates = {"rate": getattr(layer, "rate", None)} if is_a(layer, DROPOUT_TYPES) else {}
        if is_a(layer, {"RNN"}):
            rates = {k: getattr(layer, k, None) for k in ("dropout", "recurrent_dropout")}
        for attr, rate in rates.items():
            if isinstance(rate, (int, float)) and rate > DROPOUT_MAX_RATE:
                yield Report(
                    f"{layer.name} ({type(layer).__name__}) has {attr}={rate:g}: it drops {rate:.0%} of the "
                    f"units at every step, keeping only {1 - rate:.0%}",
                    fix=f"Use {attr} between 0.1 and 0.5 ({attr} is the fraction dropped, not kept).",
                    details={"layer": layer.name, attr: rate},
                )
    try:
        outputs = layer_graph(ctx.model).outputs
    except Skip:
        outputs = []
    for layer in outputs:
        if is_a(layer, DROPOUT_TYPES):
            yield Report(
                f"the model's output is {layer.name} ({type(layer).__name__}, rate {getattr(layer, 'rate', 0):g}): "
                "during training it zeroes predictions themselves",
                fix=f"Remove {layer.name}, or move it before the output layer.",
                details={"layer": layer.name},
            )


CONSTANT_INITIALIZERS = ("Zeros", "Ones", "Constant")


@check("K208", "constant-initializer", stage="model", severity="warning")
def constant_initializer(ctx: CheckContext):
    """Weights initialised to a constant (symmetry never broken).

    ## What it does
    Flags hidden Dense, convolution and recurrent layers with more than one
    unit whose kernel (or recurrent kernel) starts constant: `zeros`,
    `ones`, `Constant(...)`, or a random initializer with zero spread.
    Constant biases are normal and not flagged; so is a constant output
    layer.

    ## Why is this bad?
    Units that start with the same weights compute the same thing and get
    the same gradient, so they stay copies of each other: a layer of 64
    units learns like a layer of one. With zeros and relu the gradient is
    zero and nothing learns at all.

    ## Example
    ```python
    Dense(64, activation="relu", kernel_initializer="zeros")
    ```

    ## Use instead
    ```python
    Dense(64, activation="relu")  # glorot_uniform; he_normal also suits relu
    ```
    """
    layers = flat_layers(ctx.model)
    if not layers:
        raise Skip("the model has no layers to inspect")
    heads = output_weight_layers(ctx.model)
    found = []
    for layer in layers:
        if id(layer) in heads:
            continue
        owner = getattr(layer, "cell", None) or layer
        units = width(layer) or width(owner)
        if units is None or units <= 1:
            continue
        for attr in ("kernel_initializer", "recurrent_initializer", "depthwise_initializer"):
            described = _constant(getattr(owner, attr, None))
            if described:
                found.append((layer, units, f"{attr}={described}"))
    if len(found) == 1:
        layer, units, what = found[0]
        yield Report(
            f"{describe(layer)} uses {what}: its {units} units start identical and learn in lockstep",
            fix=f"Drop {what.split('=')[0]} (Keras' default glorot_uniform breaks the symmetry; he_normal suits relu).",
            details={"layers": [layer.name], "initializers": [what]},
        )
    elif found:
        yield Report(
            f"{len(found)} hidden layers start with constant weights, so the units of each learn in lockstep: "
            f"{_listing([f'{describe(layer)} {what}' for layer, _, what in found])}",
            fix="Drop these initializers (Keras' default glorot_uniform breaks the symmetry; he_normal suits relu).",
            details={"layers": [layer.name for layer, _, _ in found], "initializers": [w for _, _, w in found]},
        )


def _constant(init: Any) -> str | None:
    """A description of ``init`` when every weight it draws is the same value."""
    if init is None:
        return None
    name = type(init).__name__
    config = init.get_config() if hasattr(init, "get_config") else {}
    if name in CONSTANT_INITIALIZERS:
        return f"{name}({config['value']})" if "value" in config else name
    if name in ("RandomNormal", "TruncatedNormal") and config.get("stddev") == 0:
        return f"{name}(stddev=0)"
    if name == "RandomUniform" and config.get("minval") == config.get("maxval"):
        return f"{name}(minval=maxval={config.get('minval')})"
    return None


SATURATING_ACTIVATIONS = ("sigmoid", "tanh", "hard_sigmoid", "softsign")
DEEP_STACK_HIDDEN_LAYERS = 4
SATURATING_MIN_LAYERS = 3


@check(
    "K210",
    "saturating-activations-deep",
    stage="model",
    severity="warning",
    thresholds={"min_hidden_layers": DEEP_STACK_HIDDEN_LAYERS, "min_saturating_layers": SATURATING_MIN_LAYERS},
)
def saturating_activations(ctx: CheckContext):
    """Saturating activations (sigmoid/tanh) in hidden layers of a deep stack.

    ## What it does
    Counts the hidden Dense and convolution layers (the output layer left
    out) and their non-linearity, their own or the Activation layer that
    follows them. Fires when a stack of at least `min_hidden_layers` hidden
    layers has at least `min_saturating_layers` sigmoid/tanh ones. Gates are
    not counted: recurrent layers' tanh and sigmoid, and sigmoid layers whose
    output multiplies another branch (squeeze-excitation, gated units).

    ## Why is this bad?
    Sigmoid's slope is at most 0.25 and tanh's falls to zero as units
    saturate: the gradient shrinks by that factor at every layer on its way
    back, so the first layers of a deep stack barely learn (vanishing
    gradients).

    ## Example
    ```python
    [Dense(64, activation="sigmoid") for _ in range(5)] + [Dense(10, activation="softmax")]
    ```

    ## Use instead
    ```python
    [Dense(64, activation="relu") for _ in range(5)] + [Dense(10, activation="softmax")]
    ```
    """
    try:
        graph: LayerGraph | None = layer_graph(ctx.model)
    except Skip:
        graph = None
    heads = output_weight_layers(ctx.model)
    hidden = [layer for layer in flat_layers(ctx.model) if is_weight_layer(layer) and id(layer) not in heads]
    if len(hidden) < DEEP_STACK_HIDDEN_LAYERS:
        return
    saturating = [
        (layer, act)
        for layer in hidden
        if (act := _effective_activation(graph, layer)) in SATURATING_ACTIVATIONS and not _is_gate(graph, layer)
    ]
    if len(saturating) < SATURATING_MIN_LAYERS:
        return
    kinds = sorted({act for _, act in saturating})
    sigmoids = sum(act in ("sigmoid", "hard_sigmoid") for _, act in saturating)
    shrink = f"; sigmoid alone can shrink it by 0.25^{sigmoids} = {0.25**sigmoids:.2g}" if sigmoids else ""
    names = ", ".join(layer.name for layer, _ in saturating[:6]) + (", ..." if len(saturating) > 6 else "")
    yield Report(
        f"{len(saturating)} of {len(hidden)} hidden layers use {'/'.join(kinds)} ({names}): the gradient shrinks "
        f"at each of them on its way to the first layer{shrink}",
        fix="Use relu (or gelu/silu) in the hidden layers; keep sigmoid/softmax for the output.",
        details={"hidden_layers": len(hidden), "saturating": len(saturating), "activations": kinds},
    )


def _is_gate(graph: LayerGraph | None, layer: Any) -> bool:
    """A sigmoid that scales another branch (squeeze-excitation, GLU): off the main path."""
    if graph is None:
        return False
    return any(is_a(n, {"Multiply"}) for n, _ in graph.through(layer, LINEAR_PASS_TYPES | {"Activation"}))


def _effective_activation(graph: LayerGraph | None, layer: Any) -> str | None:
    own = activation_of(layer)
    if own != "linear" or graph is None:
        return own
    for nxt, _ in graph.through(layer, LINEAR_PASS_TYPES):
        act = activation_of(nxt)
        if act is not None and not is_weight_layer(nxt):
            return act
    return own
