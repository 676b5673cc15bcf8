"""One call to ``Model.fit``: its arguments bound by name, and views of its data."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from .data import DataView, describe_fit_data, view_arrays

# Keras' defaults, for arguments the call left out.
FIT_DEFAULTS = {
    "batch_size": None,
    "epochs": 1,
    "verbose": "auto",
    "callbacks": None,
    "validation_split": 0.0,
    "validation_data": None,
    "shuffle": True,
    "class_weight": None,
    "sample_weight": None,
    "initial_epoch": 0,
    "steps_per_epoch": None,
    "validation_steps": None,
}


@dataclass
class FitCall:
    """The arguments of one ``fit`` call, by name, with the data seen as arrays."""

    model: Any
    arguments: dict[str, Any]
    train: DataView
    validation: DataView | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.arguments.get(name, FIT_DEFAULTS.get(name))

    @classmethod
    def bind(cls, fit: Any, model: Any, args: tuple, kwargs: dict, sample_generators: bool = True) -> FitCall:
        """Bind ``fit(*args, **kwargs)`` to names; wrap a generator so it can be sampled."""
        try:
            bound = inspect.signature(fit).bind(model, *args, **kwargs)
            arguments = dict(bound.arguments)
            arguments.pop("self", None)
            arguments.update(arguments.pop("kwargs", {}))
        except TypeError:
            arguments = dict(zip(["x", "y", "batch_size", "epochs"], args)) | kwargs
        train, arguments["x"] = describe_fit_data(
            arguments.get("x"), arguments.get("y"), arguments.get("sample_weight"), sample_generators
        )
        call = cls(model=model, arguments=arguments, train=train)
        call.validation = call._validation_view(sample_generators)
        return call

    def _validation_view(self, sample_generators: bool) -> DataView | None:
        data = self["validation_data"]
        if data is not None:
            if isinstance(data, (tuple, list)) and len(data) in (2, 3):
                return view_arrays(data[0], data[1])
            view, replaced = describe_fit_data(data, None, sample_generators=sample_generators)
            self.arguments["validation_data"] = replaced
            return view
        split = self["validation_split"] or 0.0
        if split and self.train.complete and not self.train.problem:
            return self.train.split_tail(split)[1]
        return None

    def parameters(self) -> dict[str, Any]:
        """The fit settings worth recording (no data)."""
        callbacks = self["callbacks"] or []
        validation = self["validation_data"]
        return {
            "epochs": self["epochs"],
            "batch_size": self["batch_size"],
            "validation_split": self["validation_split"],
            "validation_data": None if validation is None else type(validation).__name__,
            "shuffle": self["shuffle"],
            "class_weight": self["class_weight"] is not None,
            "sample_weight": self["sample_weight"] is not None,
            "initial_epoch": self["initial_epoch"],
            "steps_per_epoch": self["steps_per_epoch"],
            "validation_steps": self["validation_steps"],
            "verbose": self["verbose"],
            "callbacks": [type(c).__name__ for c in callbacks],
        }

    def call_fit(self, fit: Any, extra_callbacks: list[Any]) -> Any:
        """Call the real ``fit`` with the user's arguments plus Kepler's callbacks.

        The user's callbacks list is copied, never changed.
        """
        __tracebackhide__ = True
        arguments = dict(self.arguments)
        arguments["callbacks"] = list(arguments.get("callbacks") or []) + extra_callbacks
        return fit(self.model, **arguments)
