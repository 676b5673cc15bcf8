"""What checks look at: the model, its compile settings, the fit call, the data.

Facts several checks need (the loss's name, the output activation, column
statistics of the inputs) are computed once, lazily, and shared.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit.model import learning_rate, name_of
from .registry import Skip

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..fit.call import FitCall
    from ..fit.data import DataView

# Column statistics are computed on at most this many rows (a strided sample).
STATS_ROWS = 20_000


@dataclass
class CheckContext:
    """Everything a pre-training check may look at. Read it; never change it.

    Besides the fit itself, what the inspector looked up or computed for the
    record, so that no check reads the journal or hashes the data again.
    """

    call: FitCall
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier similar experiments, latest first
    environment: dict[str, Any] | None = None  # this process's versions and devices, as the record stores them
    train_fingerprint: Future[str | None] | str | None = None  # the training data's, hashed once for the record

    def fingerprint(self) -> str | None:
        """The training data's fingerprint (waiting for the hash started beside the checks), or None."""
        found = self.train_fingerprint
        return found.result() if hasattr(found, "result") else found

    @property
    def model(self) -> Any:
        return self.call.model

    @property
    def train(self) -> DataView:
        return self.call.train

    @property
    def validation(self) -> DataView | None:
        return self.call.validation

    def fit(self, name: str) -> Any:
        """A fit argument, with Keras' default when it was left out."""
        return self.call[name]

    # -- the data --------------------------------------------------------------
    def readable_train(self) -> DataView:
        """The training data's view, or Skip when it can't be read or has no inputs."""
        view = self.train
        if view.problem:
            raise Skip(view.problem)
        if not view.inputs:
            raise Skip("no training inputs were given")
        return view

    def train_x(self) -> np.ndarray:
        """The first training input as a numeric array, or Skip."""
        x = self.readable_train().x
        if hasattr(x, "tocsr"):
            raise Skip("sparse inputs are not inspected by this check")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise Skip(f"inputs of dtype {x.dtype} are not numeric")
        if x.shape[0] == 0:
            raise Skip("the training data is empty")
        return x

    def train_y(self) -> np.ndarray:
        view = self.train
        if view.problem:
            raise Skip(view.problem)
        if view.y is None:
            raise Skip("no targets were given")
        return view.y

    @functools.cached_property
    def x_rows(self) -> np.ndarray:
        """Training inputs flattened to (samples, features), as float64, at most STATS_ROWS rows."""
        x = self.train_x()
        step = max(1, x.shape[0] // STATS_ROWS)
        return np.asarray(x[::step], dtype=np.float64).reshape(len(x[::step]), -1)

    # -- the model ---------------------------------------------------------------
    @functools.cached_property
    def loss_name(self) -> str | None:
        """The loss as a snake_case name (``categorical_crossentropy``), if single."""
        loss = getattr(self.model, "loss", None)
        if isinstance(loss, (dict, list, tuple)):
            return None
        name = name_of(loss)
        if not isinstance(name, str):
            return None
        return _snake(name)

    @functools.cached_property
    def loss_config(self) -> dict[str, Any]:
        loss = getattr(self.model, "loss", None)
        get_config = getattr(loss, "get_config", None)
        try:
            return dict(get_config()) if get_config else {}
        except Exception:  # noqa: BLE001
            return {}

    @property
    def learning_rate(self) -> float | None:
        return learning_rate(getattr(self.model, "optimizer", None))

    @property
    def optimizer_name(self) -> str | None:
        optimizer = getattr(self.model, "optimizer", None)
        return type(optimizer).__name__ if optimizer is not None else None

    @functools.cached_property
    def output_layer(self) -> Any:
        layers = getattr(self.model, "layers", [])
        if not layers:
            raise Skip("the model has no layers to inspect")
        outputs = getattr(self.model, "outputs", None)
        if outputs is not None and len(outputs) > 1:
            raise Skip("models with several outputs are not inspected by this check")
        return layers[-1]

    @functools.cached_property
    def output_activation(self) -> str | None:
        """The output's activation: the last layer's, or a trailing Activation/Softmax layer's."""
        layer = self.output_layer
        if type(layer).__name__ == "Softmax":
            return "softmax"
        activation = getattr(layer, "activation", None)
        return _snake(name_of(activation)) if activation is not None else None

    @functools.cached_property
    def output_units(self) -> int | None:
        try:
            shape = self.model.outputs[0].shape
            return int(shape[-1]) if shape[-1] is not None else None
        except Exception:  # noqa: BLE001 - unbuilt Sequential: fall back to the last layer with units
            for layer in reversed(self.model.layers):
                units = getattr(layer, "units", None)
                if units is not None:
                    return int(units)
            return None


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
