"""A description of a Keras model as data: its layers, its configuration, its compile settings."""

from __future__ import annotations

from typing import Any

import numpy as np


def describe_layers(model: Any) -> list[dict[str, Any]]:
    """One readable line of facts per layer: type, size, activation, parameters."""
    rows = []
    for layer in getattr(model, "layers", []):
        config = _safe(layer.get_config, {})
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "units": config.get("units") or config.get("filters"),
                "activation": _activation_name(config.get("activation")),
                "params": int(layer.count_params()) if layer.built else 0,
                "trainable": bool(layer.trainable),
                "output_shape": _safe(lambda layer=layer: _shape(layer.output.shape), None),
            }
        )
    return rows


def model_summary(layers: list[dict[str, Any]]) -> str:
    """``Dense(32, sigmoid) > Dense(10, sigmoid)``: the architecture in one line."""
    parts = []
    for row in layers:
        args = [str(v) for v in (row["units"], row["activation"]) if v not in (None, "", "linear")]
        parts.append(f"{row['type']}({', '.join(args)})" if args else row["type"])
    return " > ".join(parts)


def model_config(model: Any) -> dict[str, Any]:
    try:
        return {"class": type(model).__name__, "config": model.get_config()}
    except Exception as error:  # noqa: BLE001 - subclassed models may not implement it
        return {"class": type(model).__name__, "config": None, "why": f"get_config() failed: {error}"}


def describe_compile(model: Any) -> dict[str, Any]:
    """Optimizer (with its learning rate), loss and metrics, as compiled."""
    optimizer = getattr(model, "optimizer", None)
    compiled = _safe(model.get_compile_config, None) if hasattr(model, "get_compile_config") else None
    info: dict[str, Any] = {
        "compiled": bool(getattr(model, "compiled", optimizer is not None)),
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "learning_rate": learning_rate(optimizer),
        "optimizer_config": _safe(optimizer.get_config, None) if optimizer is not None else None,
        "loss": name_of((compiled or {}).get("loss", getattr(model, "loss", None))),
        "metrics": [name_of(m) for m in _as_list((compiled or {}).get("metrics"))],
    }
    return info


def learning_rate(optimizer: Any) -> float | None:
    """The optimizer's current learning rate, read without changing anything."""
    if optimizer is None:
        return None
    lr = getattr(optimizer, "learning_rate", None)
    try:
        return float(np.asarray(lr))
    except (TypeError, ValueError):
        return None  # a schedule: no single value


def name_of(obj: Any) -> Any:
    """A readable name for a loss, metric or activation given as a string, object or config."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        if "class_name" in obj:
            config = obj.get("config") or {}
            return config.get("name") if isinstance(config, dict) and config.get("name") else obj["class_name"]
        return {k: name_of(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [name_of(o) for o in obj]
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _activation_name(activation: Any) -> str | None:
    name = name_of(activation)
    return name if isinstance(name, str) else None


def _shape(shape: Any) -> list[int | None]:
    return [None if s is None else int(s) for s in shape]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _safe(fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - describing must never break a fit
        return default
