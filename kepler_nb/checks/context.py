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
from .heads import Head, head_activation, head_units, loss_for, model_heads, snake_case
from .registry import Report, Skip

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
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
        loss = self.loss_object
        if isinstance(loss, (dict, list, tuple)):
            return None
        name = name_of(loss)
        if not isinstance(name, str):
            return None
        return snake_case(name)

    @functools.cached_property
    def loss_config(self) -> dict[str, Any]:
        loss = self.loss_object
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
    def heads(self) -> list[Head]:
        """The model's outputs, each with the layer that makes it (see :mod:`.heads`)."""
        return model_heads(self.model)

    @functools.cached_property
    def outputs(self) -> list[OutputContext]:
        """One context per output of the model, made once and shared by the checks."""
        several = len(self.heads) > 1
        found = []
        for head in self.heads:
            out = OutputContext(
                call=self.call,
                history=self.history,
                environment=self.environment,
                train_fingerprint=self.train_fingerprint,
                head=head,
                several=several,
            )
            out.__dict__["heads"] = self.heads
            # the data's statistics are the same for every output: computed once, for the parent
            out.__dict__["_kepler_data_stats"] = self.__dict__.setdefault("_kepler_data_stats", {})
            found.append(out)
        return found

    @property
    def loss_object(self) -> Any:
        """The loss as compiled: a string, a loss object, or a dict/list of them."""
        return getattr(self.model, "loss", None)

    @functools.cached_property
    def output_layer(self) -> Any:
        """The layer that makes the model's single output; Skip for several outputs or an unknown one."""
        if not getattr(self.model, "layers", None):
            raise Skip("the model has no layers to inspect")
        if len(self.heads) > 1:
            raise Skip("models with several outputs are not inspected by this check")
        return known_layer(self.heads[0])

    @functools.cached_property
    def output_activation(self) -> str | None:
        """The output's activation: the last layer's, or a trailing Activation/Softmax layer's."""
        activation = head_activation(self.output_layer)
        if activation is None:
            raise Skip(
                f"the output layer {self.output_layer.name!r} ({type(self.output_layer).__name__}) has no "
                "activation that can be read"
            )
        return activation

    @functools.cached_property
    def output_units(self) -> int | None:
        _ = self.output_layer
        return head_units(self.heads[0])


def known_layer(head: Head) -> Any:
    """The head's layer, or Skip saying why it isn't known."""
    if head.layer is None:
        raise Skip(f"the layer that makes the output isn't known: {head.unknown}")
    return head.layer


@dataclass
class OutputContext(CheckContext):
    """The context as seen by a check of one output: its layer, its loss, its targets."""

    head: Head | None = None
    several: bool = False

    @property
    def loss_object(self) -> Any:
        return loss_for(getattr(self.model, "loss", None), self.head, self.heads)

    @functools.cached_property
    def output_layer(self) -> Any:
        return known_layer(self.head)

    @functools.cached_property
    def output_units(self) -> int | None:
        return head_units(self.head)

    @property
    def label(self) -> str:
        """How a message names this output: ``output 'department'``, or nothing for a single output."""
        return f"output {self.head.name!r}" if self.several else ""

    def train_y(self) -> np.ndarray:
        if not self.several:
            return super().train_y()
        view = self.train
        if view.problem:
            raise Skip(view.problem)
        targets = view.targets
        if self.head.name in targets:
            return targets[self.head.name]
        if len(targets) == len(self.heads) and f"y{self.head.index}" in targets:
            return targets[f"y{self.head.index}"]
        raise Skip(f"the targets of output {self.head.name!r} can't be told apart from the others")


def per_output(func: Callable[[CheckContext], Iterable[Report] | None]) -> Callable[[CheckContext], list[Report]]:
    """Run a check of the model's output on each output in turn, naming the output in what it reports.

    A check that skips one output still judges the others; it skips as a
    whole only when it could judge none.
    """

    @functools.wraps(func)
    def run(ctx: CheckContext) -> list[Report]:
        if not getattr(ctx.model, "layers", None):
            raise Skip("the model has no layers to inspect")
        outputs = ctx.outputs
        reports: list[Report] = []
        skipped: list[str] = []
        for out in outputs:
            try:
                found = list(func(out) or [])
            except Skip as why:
                skipped.append(f"{out.label}: {why}" if out.several else str(why))
                continue
            for report in found:
                if out.several:
                    report.message = f"{out.label}: {report.message}"
                    report.details = {"output": out.head.name, **report.details}
                reports.append(report)
        if len(skipped) == len(outputs):
            raise Skip("; ".join(dict.fromkeys(skipped)))
        return reports

    return run
