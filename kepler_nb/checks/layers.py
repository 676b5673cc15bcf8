"""The model's layers as a graph: who feeds whom, what each layer computes.

Read from a Sequential's order or a functional model's nodes, nested models
opened, without building or calling anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..fit import keras_internals
from ..fit.model import name_of
from .heads import call_chain, snake_case
from .registry import Skip

if TYPE_CHECKING:
    from collections.abc import Iterator

# -- layer kinds --------------------------------------------------------------------------

DENSE_TYPES = {"Dense"}
CONV_TYPES = {"BaseConv", "BaseConvTranspose", "BaseSeparableConv", "BaseDepthwiseConv", "Conv"}
BATCHNORM_TYPES = {"BatchNormalization"}
DROPOUT_TYPES = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "AlphaDropout",
}
NOISE_TYPES = DROPOUT_TYPES | {"GaussianNoise"}
# Layers that keep a composition linear: reshaping, noise, padding, averaging,
# and batch normalization (an affine map at inference).
LINEAR_PASS_TYPES = NOISE_TYPES | {
    "Flatten",
    "Reshape",
    "Permute",
    "BatchNormalization",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
}
ACTIVATION_LAYER_NAMES = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "ELU": "elu",
    "Softmax": "softmax",
}


def is_a(layer: Any, names: set[str]) -> bool:
    """Whether the layer's class, or one of its bases, has one of ``names``."""
    return any(cls.__name__ in names for cls in type(layer).__mro__)


def is_weight_layer(layer: Any) -> bool:
    """A Dense or convolution layer: a linear map followed by its activation."""
    return is_a(layer, DENSE_TYPES | CONV_TYPES)


def activation_of(layer: Any) -> str | None:
    """The non-linearity a layer applies: ``linear`` for none, None for layers that aren't activations."""
    cls = type(layer).__name__
    if cls in ACTIVATION_LAYER_NAMES:
        return ACTIVATION_LAYER_NAMES[cls]
    activation = getattr(layer, "activation", None)
    if activation is None:
        return "linear" if is_weight_layer(layer) else None
    name = name_of(activation)
    return snake_case(name) if isinstance(name, str) else None


def width(layer: Any) -> int | None:
    """Units of a Dense layer, filters of a convolution."""
    for attr in ("units", "filters"):
        value = getattr(layer, attr, None)
        if isinstance(value, int):
            return value
    return None


def describe(layer: Any) -> str:
    """``dense_1 (Dense 64, linear)``."""
    parts = [type(layer).__name__]
    if width(layer) is not None:
        parts.append(str(width(layer)))
    activation = activation_of(layer)
    text = " ".join(parts) + (f", {activation}" if activation else "")
    return f"{layer.name} ({text})"


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers") and is_a(layer, {"Model", "Functional", "Sequential"})


def _is_sequential(model: Any) -> bool:
    return is_a(model, {"Sequential"})


def _is_functional(model: Any) -> bool:
    return is_a(model, {"Functional"}) and not _is_sequential(model)


SCALING_LAYERS = ("Rescaling", "Normalization")
# Layers that normalise what they receive: the inputs are normalised when one comes before any weights.
INPUT_NORMALIZING_LAYERS = SCALING_LAYERS + (
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "SpectralNormalization",
)


def input_normalizer(model: Any) -> str | None:
    """The class name of the normalisation layer that comes before the first layer with weights, if any.

    Nested models are opened; a Dense, convolution, recurrent or embedding
    layer ends the search.
    """
    for layer in flat_layers(model):
        name = type(layer).__name__
        if name in INPUT_NORMALIZING_LAYERS:
            return name
        if is_weight_layer(layer) or any(hasattr(layer, a) for a in ("cell", "kernel", "embeddings", "units")):
            return None
    return None


def flat_layers(model: Any) -> list[Any]:
    """Every layer, nested models opened, in order (input layers left out)."""
    out = []
    for layer in getattr(model, "layers", []):
        if _is_model(layer):
            out.extend(flat_layers(layer))
        elif type(layer).__name__ != "InputLayer":
            out.append(layer)
    return out


@dataclass
class LayerGraph:
    """Who feeds whom, over every layer of the model and of its nested models."""

    successors: dict[int, list[Any]]
    layers: list[Any]
    outputs: list[Any]

    def after(self, layer: Any) -> list[Any]:
        return self.successors.get(id(layer), [])

    def before(self, layer: Any) -> list[Any]:
        return [a for a in self.layers if any(b is layer for b in self.after(a))]

    def output_weight_layers(self) -> set[int]:
        """Ids of the Dense/convolution layers that make the outputs (activations, dropout after them aside)."""
        found: set[int] = set()
        stack, seen = list(self.outputs), set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if is_weight_layer(node):
                found.add(id(node))
            elif not _is_model(node):
                stack.extend(self.before(node))
        return found

    def through(self, layer: Any, passing: set[str]) -> Iterator[tuple[Any, list[Any]]]:
        """Layers reached from ``layer`` by skipping layers of the ``passing`` types, with the skipped path."""
        stack = [(nxt, []) for nxt in self.after(layer)]
        seen: set[int] = set()
        while stack:
            node, path = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if is_a(node, passing) and not is_a(node, DENSE_TYPES | CONV_TYPES):
                stack.extend((nxt, path + [node]) for nxt in self.after(node))
            else:
                yield node, path


def layer_graph(model: Any) -> LayerGraph:
    """The model's layers as a graph; for a subclassed model, the chain its ``call()`` applies (Skip otherwise)."""
    graph = LayerGraph({}, [], [])
    if _is_sequential(model) or _is_functional(model):
        _, graph.outputs = _add(model, graph)
        return graph
    chain = call_chain(model)
    if chain is None:
        raise Skip(
            f"{type(model).__name__} is a subclassed model whose call() is not a plain chain of its layers: "
            "the order of its layers isn't known"
        )
    exits: list[Any] = []
    for layer in chain:
        first, last = _add(layer, graph) if _is_model(layer) else ([layer], [layer])
        if not _is_model(layer):
            graph.layers.append(layer)
        for a in exits:
            graph.successors.setdefault(id(a), []).extend(first)
        exits = last
    graph.outputs = exits
    return graph


def _add(model: Any, graph: LayerGraph) -> tuple[list[Any], list[Any]]:
    """Add ``model``'s layers to the graph; return its entry and exit layers."""
    if _is_sequential(model):
        entries: list[Any] = []
        exits: list[Any] = []
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            first, last = _add(layer, graph) if _is_model(layer) else ([layer], [layer])
            if not _is_model(layer):
                graph.layers.append(layer)
            for a in exits:
                graph.successors.setdefault(id(a), []).extend(first)
            entries = entries or first
            exits = last
        return entries, exits
    if _is_functional(model):
        inner = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        members = {id(layer) for layer in model.layers}
        spans = {}
        for layer in inner:
            spans[id(layer)] = _add(layer, graph) if _is_model(layer) else ([layer], [layer])
            if not _is_model(layer):
                graph.layers.append(layer)
        entries = []
        for layer in model.layers:
            nexts = [n.operation for n in keras_internals.outbound_nodes(layer) if id(n.operation) in members]
            if type(layer).__name__ == "InputLayer":
                entries.extend(f for nxt in nexts for f in spans[id(nxt)][0])
                continue
            for a in spans[id(layer)][1]:
                targets = graph.successors.setdefault(id(a), [])
                targets.extend(f for nxt in nexts for f in spans[id(nxt)][0] if f not in targets)
        exits = []
        for tensor in getattr(model, "outputs", None) or []:
            op = keras_internals.keras_history(tensor).operation
            if id(op) in spans:
                exits.extend(spans[id(op)][1])
        return entries, exits
    return [model], [model]  # a subclassed model nested inside: opaque


def output_weight_layers(model: Any) -> set[int]:
    """Ids of the layers that make the outputs; for a subclassed model, its last weight layer."""
    try:
        return layer_graph(model).output_weight_layers()
    except Skip:
        weights = [layer for layer in flat_layers(model) if is_weight_layer(layer)]
        return {id(weights[-1])} if weights else set()
