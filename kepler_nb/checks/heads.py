"""The model's outputs one by one: the layer that makes each, the loss it is trained with, its name.

Read without building or calling anything:

- a Sequential model's output is its last layer;
- a functional model's outputs are the tensors it was built with: a dict of
  outputs by key, a list in order, each made by the layer in its history;
- a subclassed model's output is the layer its ``call()`` returns, read from
  the source of ``call`` (``return self.head(x)``, or a name last assigned
  from ``self.head(...)``). Anything else (a loop, an op, several returns)
  leaves the layer unknown, and the checks that need it skip.

A nested model is opened to the layer that makes its output. Losses are
matched to outputs as Keras matches them: a dict by output name, a list in
order, a single loss for every output.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

from ..fit import keras_internals
from ..fit.model import name_of

# Keras layers that are an activation and nothing else, by class name.
ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu", "Softmax": "softmax"}
# keras.ops applied last in a functional model (``keras.ops.softmax(x)``), by operation class name.
ACTIVATION_OPS = {
    "Softmax": "softmax",
    "Sigmoid": "sigmoid",
    "Relu": "relu",
    "Tanh": "tanh",
    "LogSoftmax": "log_softmax",
}


@dataclass(frozen=True)
class Head:
    """One output of the model."""

    name: str
    index: int
    layer: Any = None  # the layer (or keras op) that makes it; None when unknown
    tensor: Any = None  # its symbolic tensor, for a functional model
    unknown: str = ""  # why the layer is not known


def model_heads(model: Any) -> list[Head]:
    """The model's outputs, in Keras' order; one head (maybe of unknown layer) for a single output."""
    struct = keras_internals.outputs_struct(model) if _is_functional(model) else None
    if struct is not None:
        if isinstance(struct, dict):
            items = list(struct.items())
        elif isinstance(struct, (list, tuple)):
            names = list(getattr(model, "output_names", None) or [])
            names = names if len(names) == len(struct) else [f"output_{i}" for i in range(len(struct))]
            items = list(zip(names, struct))
        else:
            names = list(getattr(model, "output_names", None) or ["output"])
            items = [(names[0], struct)]
        heads = []
        for i, (name, tensor) in enumerate(items):
            history = keras_internals.keras_history(tensor)
            layer = _innermost(history.operation) if history is not None else None
            heads.append(Head(str(name), i, layer, tensor, "" if layer is not None else "its tensor has no history"))
        return heads
    layers = getattr(model, "layers", None) or []
    if _is_sequential(model):
        if not layers:
            return [Head("output", 0, unknown="the model has no layers")]
        return [Head(getattr(layers[-1], "name", "output"), 0, _innermost(layers[-1]))]
    layer, why = returned_layer(model)
    return [Head(getattr(layer, "name", "output"), 0, layer, unknown=why)]


def head_activation(layer: Any) -> str | None:
    """The non-linearity the output layer ends with (``linear`` for none), or None when it can't be read."""
    if layer is None:
        return None
    cls = type(layer).__name__
    if cls in ACTIVATION_LAYERS:
        return ACTIVATION_LAYERS[cls]
    if not _is_layer(layer):
        return ACTIVATION_OPS.get(cls)
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None  # a layer that is no activation (Dropout, Reshape, a custom layer): what comes out isn't known
    name = name_of(activation)
    return snake_case(name) if isinstance(name, str) else None


def head_units(head: Head) -> int | None:
    """The size of the output's last axis."""
    try:
        last = head.tensor.shape[-1]
        if last is not None:
            return int(last)
    except Exception:  # noqa: BLE001 - no tensor (Sequential, subclassed): the layer's units
        pass
    for attr in ("units", "filters"):
        value = getattr(head.layer, attr, None)
        if isinstance(value, int):
            return value
    try:
        last = head.layer.output.shape[-1]  # a built Sequential's last layer
        return int(last) if last is not None else None
    except Exception:  # noqa: BLE001
        return None


def loss_for(loss: Any, head: Head, heads: list[Head]) -> Any:
    """The loss ``head`` is trained with, out of the compiled ``loss``."""
    if isinstance(loss, dict):
        return loss.get(head.name)
    if isinstance(loss, (list, tuple)):
        if len(loss) == 1 and len(heads) == 1:
            return loss[0]
        return loss[head.index] if head.index < len(loss) else None
    return loss


def returned_layer(model: Any) -> tuple[Any, str]:
    """The layer a subclassed model's ``call()`` returns, and why not when it can't be told."""
    try:
        source = textwrap.dedent(inspect.getsource(type(model).call))
        function = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None, f"the source of {type(model).__name__}.call can't be read"
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None, f"the source of {type(model).__name__}.call can't be read"
    returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]
    layers = [_called_layer(model, function, value) for value in returns]
    if layers and all(layer is not None and layer is layers[0] for layer in layers):
        return _innermost(layers[0]), ""
    return None, f"{type(model).__name__}.call doesn't return one layer's output (`return self.layer(x)`)"


def _called_layer(model: Any, function: ast.AST, value: ast.expr) -> Any:
    """The layer ``value`` is the output of: ``self.attr(...)``, or a name last assigned one."""
    if isinstance(value, ast.Name):
        assigned = [
            n.value
            for n in ast.walk(function)
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == value.id for t in n.targets)
        ]
        assigned.sort(key=lambda n: (n.lineno, n.col_offset))
        value = assigned[-1] if assigned else None
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
        return None
    owner = value.func.value
    if not (isinstance(owner, ast.Name) and owner.id == "self"):
        return None
    layer = getattr(model, value.func.attr, None)
    return layer if _is_layer(layer) else None


def _innermost(layer: Any) -> Any:
    """A nested model stands for the layer that makes its output."""
    for _ in range(16):
        if not _is_model(layer):
            return layer
        heads = model_heads(layer)
        if len(heads) != 1 or heads[0].layer is None:
            return None
        layer = heads[0].layer
    return None


def _is_layer(obj: Any) -> bool:
    return any(cls.__name__ == "Layer" for cls in type(obj).__mro__)


def _is_model(obj: Any) -> bool:
    return any(cls.__name__ in ("Model", "Functional", "Sequential") for cls in type(obj).__mro__)


def _is_sequential(model: Any) -> bool:
    return any(cls.__name__ == "Sequential" for cls in type(model).__mro__)


def _is_functional(model: Any) -> bool:
    return not _is_sequential(model) and any(cls.__name__ == "Functional" for cls in type(model).__mro__)


def snake_case(name: str) -> str:
    """``CategoricalCrossentropy`` -> ``categorical_crossentropy``."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def call_chain(model: Any) -> list[Any] | None:
    """The layers a subclassed model's ``call()`` applies one after another, or None when it isn't a chain.

    Read from the source: statements ``x = self.a(x)`` (calls nested, as in
    ``self.a(self.b(x))``, or ``for layer in self.blocks: x = layer(x)``),
    each feeding on the previous one's result, ending in ``return``. Any
    branch, sum, op or other statement makes it no chain.
    """
    try:
        function = ast.parse(textwrap.dedent(inspect.getsource(type(model).call))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if not isinstance(function, ast.FunctionDef) or len(function.args.args) < 2:
        return None
    current, chain = function.args.args[1].arg, []
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    for statement in body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            layers = _applied(model, statement.value, current)
            if layers is None or not isinstance(target, ast.Name):
                return None
            chain.extend(layers)
            current = target.id
        elif isinstance(statement, ast.For) and isinstance(statement.target, ast.Name) and not statement.orelse:
            sequence = _self_attribute(model, statement.iter)
            step = statement.body[0] if len(statement.body) == 1 else None
            if not isinstance(sequence, (list, tuple)) or not all(_is_layer(s) for s in sequence):
                return None
            if not (isinstance(step, ast.Assign) and len(step.targets) == 1 and isinstance(step.targets[0], ast.Name)):
                return None
            call = step.value
            if not (
                step.targets[0].id == current
                and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == statement.target.id
                and call.args
                and isinstance(call.args[0], ast.Name)
                and call.args[0].id == current
            ):
                return None
            chain.extend(sequence)
        elif isinstance(statement, ast.Return) and statement.value is not None:
            layers = _applied(model, statement.value, current)
            if layers is None:
                return None
            chain.extend(layers)
            return chain if chain else None
        else:
            return None
    return None


def _applied(model: Any, value: ast.expr, current: str) -> list[Any] | None:
    """The layers ``value`` applies to the name ``current``, innermost first; None for anything else."""
    layers: list[Any] = []
    while not (isinstance(value, ast.Name) and value.id == current):
        if not (isinstance(value, ast.Call) and value.args):
            return None
        layer = _self_attribute(model, value.func)
        if not _is_layer(layer):
            return None
        layers.insert(0, layer)
        value = value.args[0]
    return layers


def _self_attribute(model: Any, node: ast.expr) -> Any:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return getattr(model, node.attr, None)
    return None
