"""Experiment identity: what makes two runs the same experiment, or the same model.

A run's *signature* hashes four canonical parts:

* the architecture: every layer's type and configuration (sizes,
  activations, initialiser kinds, regularisers...) and how the layers are
  connected, with layer names, model names and random seeds removed, plus
  the shape of one input sample;
* the compile configuration: optimizer class and settings, loss, metrics;
* the fit parameters that change the result (epochs, batch size, validation
  split, shuffling, class weights, callbacks that steer training...), plus the
  optimizer's step count, so continuing to train a model is not a rerun;
* the data: the content fingerprints of the training and validation data.

Two runs with the same signature are the same experiment. The architecture
part alone (``arch``) says "the same model". The summary document of every
run carries these hashes and the few facts similarity needs (a compact list
of layers, the input shape, the number of classes, the main
hyperparameters), so lookups never load blobs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Keys dropped from layer and model configurations: names and seeds say
# nothing about the model; shapes are recorded once, from the input.
IGNORED_KEYS = frozenset(
    {
        "name",
        "seed",
        "build_config",
        "build_input_shape",
        "compile_config",
        "registered_name",
        "module",
        "batch_shape",
        "batch_input_shape",
        "input_shape",
        "shape",
    }
)
LINK_KEYS = frozenset({"inbound_nodes", "input_layers", "output_layers", "keras_history"})
# Compile settings that change speed, not results.
IGNORED_COMPILE = frozenset({"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"})
# Fit parameters that change nothing about the result.
IGNORED_FIT = frozenset({"verbose", "callbacks"})
# Callbacks that only watch or save: they don't make the run different.
PASSIVE_CALLBACKS = frozenset(
    {
        "BackupAndRestore",
        "CSVLogger",
        "History",
        "KeplerCallback",
        "ModelCheckpoint",
        "ProgbarLogger",
        "RemoteMonitor",
        "TensorBoard",
        "TqdmCallback",
    }
)
# Settings of the callbacks that steer training (EarlyStopping, ReduceLROnPlateau...).
CALLBACK_SETTINGS = (
    "monitor",
    "patience",
    "min_delta",
    "mode",
    "baseline",
    "restore_best_weights",
    "start_from_epoch",
    "factor",
    "min_lr",
    "cooldown",
)
# Layer settings shown as a layer's size in the compact description.
SIZE_KEYS = ("units", "filters", "rate", "pool_size", "output_dim", "kernel_size")
DIGEST_CHARS = 16


@dataclass(frozen=True)
class Signature:
    """The identity of one run (or of one model, when no data is known)."""

    experiment: str | None  # None when the data can't be fingerprinted
    arch: str
    data: str | None
    setup: str | None
    layers: list[list[Any]] = field(default_factory=list)
    input_shape: list[int | None] | None = None
    n_classes: int | None = None
    hparams: dict[str, Any] = field(default_factory=dict)

    def summary_fields(self) -> dict[str, Any]:
        """The fields stored in the journal's summary document."""
        return {
            "signature": self.experiment,
            "arch_signature": self.arch,
            "data_signature": self.data,
            "setup_signature": self.setup,
            "arch": self.layers,
            "input_shape": self.input_shape,
            "n_classes": self.n_classes,
            "hparams": self.hparams,
        }


def run_signature(call: Any, data: dict[str, Any]) -> Signature:
    """The signature of one ``fit`` call: ``call`` is a FitCall, ``data`` its data statistics."""
    model = call.model
    input_shape = _data_input_shape(data) or model_input_shape(model)
    arch = _arch_digest(model, input_shape)
    compile_part = canonical_compile(model)
    fit_part = canonical_fit(call)
    setup = digest({"compile": compile_part, "fit": fit_part})
    data_part = _data_identity(call, data)
    data_digest = digest(data_part) if data_part is not None else None
    experiment = digest({"arch": arch, "setup": setup, "data": data_digest}) if data_digest else None
    return Signature(
        experiment=experiment,
        arch=arch,
        data=data_digest,
        setup=setup,
        layers=compact_layers(model),
        input_shape=input_shape,
        n_classes=_n_classes(data, model),
        hparams=hyperparameters(model, call, compile_part, fit_part),
    )


def model_signature(model: Any) -> Signature:
    """The architecture part only, from a model alone (no data, no fit)."""
    input_shape = model_input_shape(model)
    return Signature(
        experiment=None,
        arch=_arch_digest(model, input_shape),
        data=None,
        setup=None,
        layers=compact_layers(model),
        input_shape=input_shape,
        n_classes=_output_units(model),
    )


# -- the architecture -------------------------------------------------------------
def canonical_architecture(model: Any) -> Any:
    """The model's configuration without names, seeds or shapes; connections by layer index."""
    try:
        config = model.get_config()
    except Exception:  # noqa: BLE001 - subclassed models need not implement get_config
        config = None
    if config is None:
        layers = [_canonical(_layer_config(layer), {}) for layer in getattr(model, "layers", [])]
        return {"class": type(model).__name__, "layers": [layer for layer in layers if layer]}
    return {"class": type(model).__name__, "config": _canonical(config, {})}


def compact_layers(model: Any) -> list[list[Any]]:
    """``[[type, size, activation, settings-hash], ...]``: enough to say what differs between two models."""
    rows = []
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "InputLayer":
            continue
        config = _layer_config(layer)
        size = next((config[k] for k in SIZE_KEYS if config.get(k) is not None), None)
        if isinstance(size, (list, tuple)):
            size = "x".join(str(s) for s in size)
        activation = config.get("activation")
        if isinstance(activation, dict):
            activation = activation.get("class_name")
        rows.append([type(layer).__name__, size, activation, digest(_canonical(config, {}))[:8]])
    return rows


def model_input_shape(model: Any) -> list[int | None] | None:
    """One input sample's shape, when the model knows it (built, or given an Input)."""
    try:
        inputs = model.inputs
    except Exception:  # noqa: BLE001 - an unbuilt Sequential raises
        return None
    if not inputs:
        return None
    return [None if s is None else int(s) for s in list(inputs[0].shape)[1:]]


def _arch_digest(model: Any, input_shape: list[int | None] | None) -> str:
    return digest({"model": canonical_architecture(model), "input_shape": input_shape})


def _layer_config(layer: Any) -> dict[str, Any]:
    try:
        config = layer.get_config()
    except Exception:  # noqa: BLE001
        return {"class": type(layer).__name__}
    return {"class": type(layer).__name__, **config} if isinstance(config, dict) else {"class": type(layer).__name__}


def _canonical(value: Any, names: dict[str, str], links: bool = False) -> Any:
    """Recursively drop names, seeds and shapes; replace layer names in links by their index."""
    if isinstance(value, dict):
        if isinstance(value.get("layers"), list):
            # A model's own layer list: its names are local to it.
            names = {**names, **_layer_names(value["layers"])}
        out = {}
        for key, item in value.items():
            if key in IGNORED_KEYS:
                continue
            if key == "dtype" and isinstance(item, dict):
                item = (item.get("config") or {}).get("name", item.get("class_name"))
            if key == "layers" and isinstance(item, list):
                item = [layer for layer in item if not _is_sequential_input(layer, value)]
            out[key] = _canonical(item, names, links or key in LINK_KEYS)
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(item, names, links) for item in value]
    if links and isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, float):
        return float(np.float32(value))  # 1e-3 and float32(1e-3) are one setting
    return value


def _layer_names(layers: list[Any]) -> dict[str, str]:
    found = {}
    for index, layer in enumerate(layers):
        if isinstance(layer, dict):
            name = layer.get("name") or (layer.get("config") or {}).get("name")
            if isinstance(name, str):
                found[name] = f"#{index}"
    return found


def _is_sequential_input(layer: Any, owner: dict[str, Any]) -> bool:
    """A Sequential's InputLayer only carries the input shape, which is recorded apart."""
    return (
        isinstance(layer, dict)
        and layer.get("class_name") == "InputLayer"
        and not any("inbound_nodes" in (other or {}) for other in owner.get("layers", []) if isinstance(other, dict))
    )


# -- compile and fit ---------------------------------------------------------------
def canonical_compile(model: Any) -> dict[str, Any]:
    """Optimizer (class and settings), loss and metrics, as compiled."""
    config = None
    if hasattr(model, "get_compile_config"):
        try:
            config = model.get_compile_config()
        except Exception:  # noqa: BLE001 - objects that don't serialise
            config = None
    if not config:
        from .model import describe_compile

        info = describe_compile(model)
        config = {k: info.get(k) for k in ("optimizer", "optimizer_config", "loss", "metrics")}
    config = {k: v for k, v in config.items() if k not in IGNORED_COMPILE}
    return _canonical(_plain(config), {})


def canonical_fit(call: Any) -> dict[str, Any]:
    """The fit parameters that change the result, with the optimizer's step count."""
    params = {k: v for k, v in call.parameters().items() if k not in IGNORED_FIT}
    params["class_weight"] = _plain(call["class_weight"])
    params["callbacks"] = [_callback_identity(c) for c in call["callbacks"] or [] if _steers_training(c)]
    params["optimizer_steps"] = optimizer_steps(call.model)
    return _canonical(_plain(params), {})


def optimizer_steps(model: Any) -> int:
    """How many updates the model's optimizer has made (0 for a fresh model); read only."""
    iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
    try:
        return int(np.asarray(iterations))
    except (TypeError, ValueError):
        return 0


def hyperparameters(model: Any, call: Any, compile_part: dict[str, Any], fit_part: dict[str, Any]) -> dict[str, Any]:
    """The main settings, flat, for naming differences; ``other`` hashes the rest."""
    from .model import describe_compile, name_of

    info = describe_compile(model)
    loss = info.get("loss")
    main = {
        "optimizer": info.get("optimizer"),
        "learning_rate": _round(info.get("learning_rate")),
        "loss": loss if isinstance(loss, (str, type(None))) else json.dumps(name_of(loss), sort_keys=True),
        "epochs": call["epochs"],
        "batch_size": call["batch_size"],
        "validation_split": call["validation_split"],
        "shuffle": call["shuffle"],
        "optimizer_steps": fit_part.get("optimizer_steps", 0),  # not 0: a model fitted again, not rebuilt
    }
    optimizer = dict((compile_part.get("optimizer") or {}).get("config") or {})
    optimizer.pop("learning_rate", None)
    rest = {
        "optimizer": optimizer,
        "compile": {k: v for k, v in compile_part.items() if k not in ("optimizer", "loss")},
        "fit": {k: v for k, v in fit_part.items() if k not in main},
    }
    main["other"] = digest(rest)[:8]
    return main


def _steers_training(callback: Any) -> bool:
    return type(callback).__name__ not in PASSIVE_CALLBACKS


def _callback_identity(callback: Any) -> dict[str, Any]:
    settings = {k: getattr(callback, k) for k in CALLBACK_SETTINGS if hasattr(callback, k)}
    return {"class": type(callback).__name__, **{k: _plain(v) for k, v in settings.items()}}


# -- the data ----------------------------------------------------------------------
def _data_identity(call: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    train = data.get("fingerprint")
    if not train:
        return None
    validation = (data.get("validation") or {}).get("fingerprint") if call["validation_data"] is not None else None
    weights = call["sample_weight"]
    return {
        "train": train,
        "validation": validation,
        "sample_weight": _array_digest(weights) if weights is not None else None,
    }


def _data_input_shape(data: dict[str, Any]) -> list[int | None] | None:
    inputs = data.get("inputs") or {}
    first = next(iter(inputs.values()), None)
    if not first or not first.get("shape"):
        return None
    return [int(s) for s in first["shape"][1:]]


def _n_classes(data: dict[str, Any], model: Any) -> int | None:
    counts = data.get("class_counts")
    units = _output_units(model)
    if counts:
        # A softmax over 10 units trained on labels 0..8 is still a 10-class model.
        return max(len(counts), units) if units and units > 1 else len(counts)
    return units


def _output_units(model: Any) -> int | None:
    layers = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"]
    if not layers:
        return None
    try:
        units = layers[-1].get_config().get("units")
    except Exception:  # noqa: BLE001
        return None
    return int(units) if isinstance(units, int) else None


def _array_digest(array: Any) -> str:
    array = np.ascontiguousarray(np.asarray(array))
    hasher = hashlib.sha256(f"{array.dtype.str}:{array.shape}".encode())
    hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()[:DIGEST_CHARS]


# -- helpers -----------------------------------------------------------------------
def digest(value: Any) -> str:
    """A short SHA-256 of ``value``'s canonical JSON."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


def _plain(value: Any) -> Any:
    """JSON-able data: dict keys as strings, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _array_digest(value)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _array_digest(value)
    return f"<{type(value).__name__}>"


def _round(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value
