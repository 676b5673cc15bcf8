"""Route every scikit-learn estimator ``fit`` made while a cell runs through an inspector.

The fit, predict, score and transform methods of every estimator class
(every subclass of ``sklearn.base.BaseEstimator``, third-party wrappers
included, and those defined later: they are wrapped as they are defined) and
the ``sklearn.metrics`` functions are wrapped once, on the routing registry
(:mod:`.routing`): outside a routed cell each wrapper calls the real method
at once; inside one, its call goes to the cell's :class:`Watch`. So routes
nest, a fit on another thread (or in another subshell) is not this cell's,
and ``%unload_ext kepler`` puts every method back.

A fit is an experiment when the cell (or a function of the user's it calls)
makes it; the fits a meta-estimator makes inside itself (a pipeline's steps,
a search's candidates, a ``cross_val_score``'s folds) are recognised by
their caller, a library module, or by being made inside an experiment's fit
(the route is left while the experiment runs), and run untouched.

Around the experiments the watch sees three more things, all without an
extra pass of inference: preprocessing fitted on its own (a scaler fitted
before the split: K704), the estimator's ``score`` and predictions, and the
``sklearn.metrics`` functions the cell calls on those predictions, whose
values become the run's metrics.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import routing

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import ModuleType

    from .routing import Call

# Callers from these packages are a library fitting its own estimators: inner fits.
LIBRARY_PREFIXES = ("sklearn", "xgboost", "lightgbm", "catboost", "imblearn", "joblib", "kepler_nb", "skops")
ENTRY_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")
ROUTED_METHODS = (*ENTRY_METHODS, *PREDICT_METHODS, "score", "transform")
# Modules of preprocessing steps: fitted alone, they are watched (K704), not recorded as experiments.
PREPROCESSING_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_selection")
METRIC_SUFFIXES = ("_score", "_error", "_loss")
PREDICTION_KEYWORDS = ("y_pred", "y_score", "y_proba", "y_prob", "probas_pred")
ESTIMATORS, METRICS = "sklearn", "sklearn.metrics"  # the routing targets


@dataclass
class Watch:
    """What one cell has seen so far: preprocessing fits, predictions, the fitted experiments.

    The routing hands it every call of an estimator method or a metric made
    while the cell runs (:meth:`handle`).
    """

    make_inspector: Callable[[Any], Any]
    inspectors: list[Any] = field(default_factory=list)
    by_estimator: dict[int, Any] = field(default_factory=dict)  # id(estimator) -> its latest inspector
    seen_rows: list[tuple[str, Any]] = field(default_factory=list)  # (step name, row hashes it was fitted on)
    leaked_rows: list[tuple[str, Any]] = field(default_factory=list)  # rows those steps produced from their fit rows
    predictions: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)  # id(out) -> (out, inspector, X)

    def handle(self, call: Call) -> Any:
        """One call made while the cell runs: an experiment, a watched step, a score, or untouched."""
        __tracebackhide__ = True
        if call.caller.split(".")[0] in LIBRARY_PREFIXES:
            return call.proceed()  # a library's own call: a pipeline's step, a search's candidate
        if call.instance is None:
            return self._metric(call)
        if call.method in ENTRY_METHODS:
            return self._fit(call)
        if call.method in PREDICT_METHODS:
            return self._predict(call)
        if call.method == "score":
            return self._score(call)
        if call.method == "transform":
            return self._transform(call)
        return call.proceed()

    def _fit(self, call: Call) -> Any:
        __tracebackhide__ = True
        if is_preprocessing(call.instance):
            return self._preprocessing(call)
        inspector = self.make_inspector(call.instance)
        self.inspectors.append(inspector)
        self.by_estimator[id(call.instance)] = inspector
        return inspector.run(call.original, call.instance, call.args, call.kwargs)

    def _preprocessing(self, call: Call) -> Any:
        from ..fit.rows import row_hashes

        out = call.proceed()
        try:
            hashes = row_hashes(_x(call))
            if hashes is not None:
                name = type(call.instance).__name__
                self.seen_rows.append((name, hashes))
                if out is not call.instance:  # fit_transform: its output rows come from its fit rows
                    self.leaked_rows.append((name, row_hashes(out)))
                else:
                    self.by_estimator[id(call.instance)] = ("preprocessing", name, hashes)
        except Exception:  # noqa: BLE001 - watching must never break the user's preprocessing
            pass
        return out

    def _transform(self, call: Call) -> Any:
        out = call.proceed()
        entry = self.by_estimator.get(id(call.instance))
        if not isinstance(entry, tuple):
            return out
        try:
            from ..fit.rows import row_hashes

            hashes, produced = row_hashes(_x(call)), row_hashes(out)
            if hashes is not None and produced is not None and len(hashes) == len(produced):
                import numpy as np

                inside = np.isin(hashes, entry[2])
                if inside.any():
                    self.leaked_rows.append((entry[1], produced[inside]))
        except Exception:  # noqa: BLE001
            pass
        return out

    def _score(self, call: Call) -> Any:
        inspector = self.by_estimator.get(id(call.instance))
        value = call.proceed()
        if inspector is not None and not isinstance(inspector, tuple):
            y = call.args[1] if len(call.args) > 1 else call.kwargs.get("y")
            inspector.scored("score", value, _x(call), y, self)
        return value

    def _predict(self, call: Call) -> Any:
        out = call.proceed()
        inspector = self.by_estimator.get(id(call.instance))
        if inspector is not None and not isinstance(inspector, tuple):
            self.predictions[id(out)] = (out, inspector, _x(call))
        return out

    def _metric(self, call: Call) -> Any:
        value = call.proceed()
        args, kwargs = call.args, call.kwargs
        predicted = args[1] if len(args) > 1 else next((kwargs[k] for k in PREDICTION_KEYWORDS if k in kwargs), None)
        seen = self.predictions.get(id(predicted))
        if seen is not None and seen[0] is predicted:
            y_true = args[0] if args else kwargs.get("y_true")
            seen[1].scored(call.original.__name__, value, seen[2], y_true, self)
        return value


def _x(call: Call) -> Any:
    return call.args[0] if call.args else call.kwargs.get("X")


def is_preprocessing(estimator: Any) -> bool:
    module = type(estimator).__module__
    return module.startswith(PREPROCESSING_MODULES)


def estimator_classes(base_module: ModuleType | None = None) -> list[type]:
    """Every estimator class imported so far, and the mixins they inherit methods from (``ClassifierMixin.score``)."""
    base = base_module or sys.modules.get("sklearn.base")
    if base is None:
        return []
    found, stack, seen = [], [base.BaseEstimator], {object}
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                found.append(sub)
                stack.append(sub)
    for cls in list(found):
        for ancestor in cls.__mro__:
            if ancestor not in seen:
                seen.add(ancestor)
                found.append(ancestor)
    return found


def metric_functions(metrics: ModuleType | None = None) -> dict[str, Callable]:
    """The ``sklearn.metrics`` functions whose values are a run's metrics (``accuracy_score``, ``log_loss``)."""
    metrics = metrics or sys.modules.get("sklearn.metrics")
    if metrics is None:
        return {}
    return {
        name: getattr(metrics, name)
        for name in getattr(metrics, "__all__", dir(metrics))
        if name.endswith(METRIC_SUFFIXES) and callable(getattr(metrics, name, None)) and not name.startswith("check")
    }


def _metric_names(metrics: ModuleType) -> Iterable[tuple[ModuleType, str]]:
    return [(metrics, name) for name in metric_functions(metrics)]


TARGETS = (
    routing.Target(
        ESTIMATORS,
        "sklearn.base",
        estimator_classes,
        ROUTED_METHODS,
        own_methods_only=True,
        base=lambda base: base.BaseEstimator,
    ),
    routing.Target(METRICS, "sklearn.metrics", lambda _: (), (), functions=_metric_names),
)


def register_targets() -> None:
    """Put scikit-learn's estimators and metrics on the routing registry (idempotent)."""
    for target in TARGETS:
        if routing.TARGETS.get(target.name) is not target:
            routing.register_target(target)


@contextlib.contextmanager
def route_estimator_fits(
    make_inspector: Callable[[Any], Any], user_ns: dict[str, Any] | None = None
) -> Iterator[Watch]:
    """While active (in this context), ``estimator.fit(...)`` becomes ``make_inspector(estimator).run(...)``.

    Yields the cell's :class:`Watch`; its ``inspectors`` list holds one
    inspector per experiment. Names of the user's namespace bound to the
    real ``sklearn.metrics`` functions (imported before Kepler wrapped them)
    are bound to the wrappers while the cell runs, and put back afterwards
    unless the cell rebound them.
    """
    register_targets()
    watch = Watch(make_inspector)
    user_names: dict[str, tuple[Callable, Callable]] = {}
    with routing.route({ESTIMATORS: watch, METRICS: watch}):
        try:
            if user_ns is not None:
                wrapped = routing.wrapped_functions(METRICS)
                for key, value in list(user_ns.items()):
                    pair = wrapped.get(id(value))
                    if pair is not None and pair[0] is value:
                        user_ns[key] = pair[1]
                        user_names[key] = pair
            yield watch
        finally:
            if user_ns is not None:
                for key, (function, wrapper) in user_names.items():
                    if user_ns.get(key) is wrapper:
                        user_ns[key] = function
            watch.predictions.clear()
