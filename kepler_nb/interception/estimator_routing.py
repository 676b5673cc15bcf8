"""Route every scikit-learn estimator ``fit`` made while a cell runs through an inspector.

The fit methods of every estimator class (every subclass of
``sklearn.base.BaseEstimator`` imported so far, third-party wrappers
included, and those defined while the cell runs) are wrapped for the
duration of the cell, the way MLflow's autolog patches them, and restored
afterwards, even when the cell fails. A fit is an experiment when the cell
(or a function of the user's it calls) makes it; the fits a meta-estimator
makes inside itself (a pipeline's steps, a search's candidates, a
``cross_val_score``'s folds) are recognised by their caller, a library
module, or by an experiment already running, and run untouched.

Around the experiments the routing watches three more things, all without
an extra pass of inference: preprocessing fitted on its own (a scaler
fitted before the split: K704), the estimator's ``score`` and predictions,
and the ``sklearn.metrics`` functions the cell calls on those predictions,
whose values become the run's metrics.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Callers from these packages are a library fitting its own estimators: inner fits.
LIBRARY_PREFIXES = ("sklearn", "xgboost", "lightgbm", "catboost", "imblearn", "joblib", "kepler_nb", "skops")
ENTRY_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")
# Modules of preprocessing steps: fitted alone, they are watched (K704), not recorded as experiments.
PREPROCESSING_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_selection")
METRIC_SUFFIXES = ("_score", "_error", "_loss")

_lock = threading.RLock()
_active = 0  # experiments running now (any thread): every fit meanwhile is an inner fit


@dataclass
class Watch:
    """What one cell has seen so far: preprocessing fits, predictions, the fitted experiments."""

    make_inspector: Callable[[Any], Any]
    inspectors: list[Any] = field(default_factory=list)
    by_estimator: dict[int, Any] = field(default_factory=dict)  # id(estimator) -> its latest inspector
    seen_rows: list[tuple[str, Any]] = field(default_factory=list)  # (step name, row hashes it was fitted on)
    leaked_rows: list[tuple[str, Any]] = field(default_factory=list)  # rows those steps produced from their fit rows
    predictions: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)  # id(out) -> (out, inspector, X)


def _caller_is_library(depth: int = 2) -> bool:
    frame = sys._getframe(depth)
    name = frame.f_globals.get("__name__", "") if frame else ""
    return name.split(".")[0] in LIBRARY_PREFIXES


def is_preprocessing(estimator: Any) -> bool:
    module = type(estimator).__module__
    return module.startswith(PREPROCESSING_MODULES)


def estimator_classes() -> list[type]:
    """Every estimator class imported so far, and the mixins they inherit methods from (``ClassifierMixin.score``)."""
    base = sys.modules.get("sklearn.base")
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


class _Patches:
    """Methods replaced on classes and modules, restored in reverse order."""

    def __init__(self) -> None:
        self.done: list[tuple[Any, str, Any, bool]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        own = name in owner.__dict__ if isinstance(owner, type) else True
        self.done.append(
            (owner, name, owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name), own)
        )
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, old, own in reversed(self.done):
            try:
                if own:
                    setattr(owner, name, old)
                else:
                    delattr(owner, name)
            except (AttributeError, TypeError):
                pass
        self.done.clear()


def _wrap_entry(original: Callable, watch: Watch) -> Callable:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _active
        if _active or _caller_is_library():
            return original(self, *args, **kwargs)
        if is_preprocessing(self):
            return _watched_preprocessing(original, self, args, kwargs, watch)
        inspector = watch.make_inspector(self)
        watch.inspectors.append(inspector)
        watch.by_estimator[id(self)] = inspector
        with _lock:
            _active += 1
        try:
            return inspector.run(original, self, args, kwargs)
        finally:
            with _lock:
                _active -= 1

    fit.__kepler_routed__ = True
    return fit


def _watched_preprocessing(original: Callable, step: Any, args: tuple, kwargs: dict, watch: Watch) -> Any:
    from ..fit.rows import row_hashes

    global _active
    with _lock:
        _active += 1
    try:
        out = original(step, *args, **kwargs)
    finally:
        with _lock:
            _active -= 1
    x = args[0] if args else kwargs.get("X")
    try:
        hashes = row_hashes(x)
        if hashes is not None:
            name = type(step).__name__
            watch.seen_rows.append((name, hashes))
            if out is not step:  # fit_transform: its output rows come from its fit rows
                watch.leaked_rows.append((name, row_hashes(out)))
            else:
                watch.by_estimator[id(step)] = ("preprocessing", name, hashes)
    except Exception:  # noqa: BLE001 - watching must never break the user's preprocessing
        pass
    return out


def _wrap_transform(original: Callable, watch: Watch) -> Callable:
    @functools.wraps(original)
    def transform(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        entry = watch.by_estimator.get(id(self))
        if _active or not isinstance(entry, tuple) or _caller_is_library():
            return out
        try:
            from ..fit.rows import row_hashes

            x = args[0] if args else kwargs.get("X")
            hashes, produced = row_hashes(x), row_hashes(out)
            if hashes is not None and produced is not None and len(hashes) == len(produced):
                import numpy as np

                inside = np.isin(hashes, entry[2])
                if inside.any():
                    watch.leaked_rows.append((entry[1], produced[inside]))
        except Exception:  # noqa: BLE001
            pass
        return out

    return transform


def _wrap_score(original: Callable, watch: Watch) -> Callable:
    @functools.wraps(original)
    def score(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _active
        inspector = watch.by_estimator.get(id(self))
        if _active or inspector is None or isinstance(inspector, tuple) or _caller_is_library():
            return original(self, *args, **kwargs)
        with _lock:
            _active += 1
        try:
            value = original(self, *args, **kwargs)
        finally:
            with _lock:
                _active -= 1
        x = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        inspector.scored("score", value, x, y, watch)
        return value

    return score


def _wrap_predict(original: Callable, watch: Watch) -> Callable:
    @functools.wraps(original)
    def predict(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        inspector = watch.by_estimator.get(id(self))
        if _active or inspector is None or isinstance(inspector, tuple) or _caller_is_library():
            return out
        x = args[0] if args else kwargs.get("X")
        watch.predictions[id(out)] = (out, inspector, x)
        return out

    return predict


def _wrap_metric(original: Callable, watch: Watch) -> Callable:
    @functools.wraps(original)
    def metric(*args: Any, **kwargs: Any) -> Any:
        value = original(*args, **kwargs)
        if _active or _caller_is_library():
            return value
        predicted = (
            args[1]
            if len(args) > 1
            else next(
                (kwargs[k] for k in ("y_pred", "y_score", "y_proba", "y_prob", "probas_pred") if k in kwargs), None
            )
        )
        seen = watch.predictions.get(id(predicted))
        if seen is not None and seen[0] is predicted:
            y_true = args[0] if args else kwargs.get("y_true")
            seen[1].scored(original.__name__, value, seen[2], y_true, watch)
        return value

    metric.__kepler_original__ = original
    return metric


def metric_functions() -> dict[str, Callable]:
    metrics = sys.modules.get("sklearn.metrics")
    if metrics is None:
        return {}
    return {
        name: getattr(metrics, name)
        for name in getattr(metrics, "__all__", dir(metrics))
        if name.endswith(METRIC_SUFFIXES) and callable(getattr(metrics, name, None)) and not name.startswith("check")
    }


class _RoutedDescriptor:
    """A method behind a descriptor (scikit-learn's ``available_if``), routed once bound.

    Binding goes through the original descriptor first, so ``hasattr(pipe,
    "predict_proba")`` stays what it was.
    """

    def __init__(self, descriptor: Any, wrap: Callable[[Callable], Callable], watch: Watch) -> None:
        self.descriptor, self.wrap, self.watch = descriptor, wrap, watch
        functools.update_wrapper(self, descriptor, updated=())

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.descriptor.__get__(obj, owner)
        if obj is None:
            return bound

        def call(_self: Any, *args: Any, **kwargs: Any) -> Any:
            return bound(*args, **kwargs)

        return types.MethodType(self.wrap(call, self.watch), obj)


def _patch_method(
    cls: type, name: str, wrap: Callable[[Callable, Watch], Callable], watch: Watch, patches: _Patches
) -> None:
    method = cls.__dict__.get(name)
    if method is None or getattr(method, "__kepler_routed__", False) or isinstance(method, _RoutedDescriptor):
        return
    if inspect.isfunction(method):
        patches.set(cls, name, wrap(method, watch))
    elif hasattr(method, "__get__") and not isinstance(method, (classmethod, staticmethod, property)):
        patches.set(cls, name, _RoutedDescriptor(method, wrap, watch))


def _patch_class(cls: type, watch: Watch, patches: _Patches) -> None:
    for name in ENTRY_METHODS:
        _patch_method(cls, name, _wrap_entry, watch, patches)
    for name in PREDICT_METHODS:
        _patch_method(cls, name, _wrap_predict, watch, patches)
    _patch_method(cls, "score", _wrap_score, watch, patches)
    _patch_method(cls, "transform", _wrap_transform, watch, patches)


@contextlib.contextmanager
def route_estimator_fits(
    make_inspector: Callable[[Any], Any], user_ns: dict[str, Any] | None = None
) -> Iterator[Watch]:
    """While active, ``estimator.fit(...)`` becomes ``make_inspector(estimator).run(...)``.

    Yields the cell's :class:`Watch`; its ``inspectors`` list holds one
    inspector per experiment. Names of the user's namespace bound to
    ``sklearn.metrics`` functions are wrapped too, and put back afterwards
    unless the cell rebound them.
    """
    watch = Watch(make_inspector)
    patches = _Patches()
    user_names: dict[str, tuple[Callable, Callable]] = {}
    base = sys.modules.get("sklearn.base")
    try:
        for cls in estimator_classes():
            _patch_class(cls, watch, patches)
        if base is not None:
            owner = base.BaseEstimator
            own = owner.__dict__.get("__init_subclass__")

            def init_subclass(cls: type, **kwargs: Any) -> None:
                if own is not None:
                    own.__get__(None, cls)(**kwargs)
                else:
                    super(owner, cls).__init_subclass__(**kwargs)
                _patch_class(cls, watch, patches)  # an estimator class defined while the cell runs

            patches.set(owner, "__init_subclass__", classmethod(init_subclass))
        metrics = sys.modules.get("sklearn.metrics")
        for name, function in metric_functions().items():
            wrapped = _wrap_metric(function, watch)
            patches.set(metrics, name, wrapped)
            if user_ns is not None:
                for key, value in list(user_ns.items()):
                    if value is function:
                        user_ns[key] = wrapped
                        user_names[key] = (function, wrapped)
        yield watch
    finally:
        patches.undo()
        if user_ns is not None:
            for key, (function, wrapped) in user_names.items():
                if user_ns.get(key) is wrapped:
                    user_ns[key] = function
        watch.predictions.clear()
