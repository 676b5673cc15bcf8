"""Grid and random search, through the inspector, resumable across kernels.

Every combination of a parameter grid is one inspected, recorded fit. A
combination whose run already finished with the same signature (the same
model, compile and fit settings, on the same data) is not trained again: its
recorded result is used. So an interrupted grid, run again, in this kernel
or another, trains only what is missing. The result is a pandas DataFrame,
best combination first.

```python
results = kepler.grid(build_model, {"lr": [1e-2, 1e-3], "units": [32, 64]}, x, y,
                      project="digits", epochs=5, validation_split=0.2)
results.attrs["best"]   # {"lr": 0.001, "units": 64}
```

``%%kepler_fit --grid "lr=[1e-2,1e-3] units=[32,64]"`` runs its cell once per
combination, with the parameters set as variables of the notebook.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import math
import random as _random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..fit.estimator import is_estimator
from ..fit.signature import digest
from .inspector import ModelInspector
from .options import RunOptions

# Metrics that are better when higher; any other is better when lower.
HIGHER_IS_BETTER = ("accuracy", "auc", "precision", "recall", "f1", "iou", "r2", "score")
DEFAULT_METRICS = ("val_accuracy", "val_loss", "accuracy", "r2", "cv_score", "loss")


class GridSpecError(ValueError):
    """A grid written as text that does not parse; the message says where."""


def grid(
    build_fn: Callable[..., Any],
    param_grid: Mapping[str, Iterable[Any]] | str,
    x: Any = None,
    y: Any = None,
    project: str | None = None,
    *,
    n_random: int | None = None,
    seed: int = 0,
    metric: str | None = None,
    name: str | None = None,
    tags: Iterable[str] = (),
    answer: str | None = None,
    save_weights: bool = False,
    show: Callable[[str], Any] = print,
    **fit_kwargs: Any,
) -> Any:
    """Train ``build_fn(**params)`` for every combination of ``param_grid``; return a DataFrame of results.

    ``build_fn`` returns a compiled Keras model, or a scikit-learn estimator
    (then ``validation_data=(X_val, y_val)``, if given, is what each fitted
    estimator is scored on). Parameters that ``build_fn`` does not take but
    ``fit`` does (``batch_size``, ``epochs``) go to ``fit``.
    ``n_random=N`` tries N combinations drawn at random (with ``seed``)
    instead of all. Combinations already finished in the journal with the same
    signature are reused, not retrained. The DataFrame has one row per
    combination, best first by ``metric`` (default: ``val_accuracy``, else
    ``val_loss``, ``accuracy``, ``loss``); ``.attrs["best"]`` holds the best
    parameters and ``.attrs["best_experiment"]`` its experiment id.
    """
    pandas = _pandas()
    grid_values = parse_grid(param_grid) if isinstance(param_grid, str) else _as_grid(param_grid)
    to_build, to_fit = _split_parameters(build_fn, grid_values)
    combos = combinations(grid_values, n_random, seed)
    grid_id = _grid_id(grid_values, fit_kwargs, getattr(build_fn, "__qualname__", repr(build_fn)))
    base = RunOptions(project=project, tags=list(tags), answer=answer, save_weights=save_weights)

    def run_one(params: dict[str, Any]) -> Any:
        model = build_fn(**{k: v for k, v in params.items() if k in to_build})
        options = _grid_options(base, name, grid_id, params)
        if is_estimator(model):
            return _fit_estimator(model, options, show, x, y, fit_kwargs)
        inspector = ModelInspector(model, options=options, show=show)
        inspector.fit(x, y, **{**fit_kwargs, **{k: v for k, v in params.items() if k in to_fit}})
        return inspector

    return run_grid(combos, run_one, show=show, metric=metric, pandas=pandas)


def _fit_estimator(
    model: Any, options: RunOptions, show: Callable[[str], Any], x: Any, y: Any, fit_kwargs: dict
) -> Any:
    """One estimator of a grid: fitted (or reused), then scored on ``validation_data`` when given."""
    from .estimator_inspector import EstimatorInspector
    from .estimator_routing import Watch

    kwargs = dict(fit_kwargs)
    validation = kwargs.pop("validation_data", None)
    inspector = EstimatorInspector(model, options=options, show=show)
    inspector.fit(x, y, **kwargs)
    if validation is not None and inspector.fitted:  # a reused run keeps its recorded scores
        x_val, y_val = validation[0], validation[1]
        inspector.scored("score", model.score(x_val, y_val), x_val, y_val, Watch(lambda e: None))
    return inspector


def run_cell_grid(magics: Any, cell: str, options: RunOptions, spec: str, n_random: int | None, seed: int) -> Any:
    """``%%kepler_fit --grid SPEC``: run the cell once per combination, its parameters as notebook variables."""
    __tracebackhide__ = True
    pandas = _pandas()
    grid_values = parse_grid(spec)
    combos = combinations(grid_values, n_random, seed)
    grid_id = _grid_id(grid_values, {}, cell)
    namespace = magics.shell.user_ns
    magics.last_inspectors = every = []  # %kepler findings / tensorboard then see the whole grid

    def run_one(params: dict[str, Any]) -> ModelInspector | None:
        __tracebackhide__ = True
        namespace.update(params)
        run_options = _grid_options(options, options.name, grid_id, params)
        inspectors: list[Any] = []
        try:
            _result, inspectors = magics.run_routed(cell, run_options)
        finally:
            every.extend(inspectors)
            magics.last_inspectors = every
        return inspectors[-1] if inspectors else None

    return run_grid(combos, run_one, show=print, metric=None, pandas=pandas)


def run_grid(
    combos: list[dict[str, Any]],
    run_one: Callable[[dict[str, Any]], Any],
    show: Callable[[str], Any] = print,
    metric: str | None = None,
    pandas: Any = None,
) -> Any:
    """Run each combination with ``run_one`` (which returns its inspector), showing progress; tabulate."""
    __tracebackhide__ = True
    pandas = pandas or _pandas()
    rows: list[dict[str, Any]] = []
    trained_seconds: list[float] = []
    total = len(combos)
    started = time.perf_counter()
    for index, params in enumerate(combos, 1):
        remaining = total - index + 1
        elapsed = _duration(time.perf_counter() - started)
        eta = f"; about {_duration(_mean(trained_seconds) * remaining)} left" if trained_seconds else ""
        show(f"Kepler grid {index}/{total}: {_params_text(params)} ({elapsed} so far{eta})")
        t0 = time.perf_counter()
        row: dict[str, Any] = dict(params)
        try:
            inspector = run_one(params)
        except Exception as error:  # noqa: BLE001 - one bad combination does not stop the grid
            row.update(experiment=None, status="failed", error=f"{type(error).__name__}: {error}")
            show(f"Kepler grid {index}/{total}: failed ({type(error).__name__}: {error}); going on")
            rows.append(row)
            continue
        seconds = time.perf_counter() - t0
        if inspector is None:
            row.update(experiment=None, status="no fit", seconds=round(seconds, 2))
        else:
            status = "reused" if inspector.reused else _status(inspector)
            if status == "trained":
                trained_seconds.append(seconds)
            history = getattr(inspector.history, "history", None) or {}
            row.update(experiment=inspector.experiment_id, status=status, seconds=round(seconds, 2))
            row.update({k: v[-1] for k, v in history.items() if v})
            row.update(getattr(inspector, "metrics", None) or {})  # an estimator's scores
        rows.append(row)
    table = pandas.DataFrame(rows)
    return _rank(table, list(combos[0]) if combos else [], metric, show, time.perf_counter() - started)


def combinations(grid_values: Mapping[str, list[Any]], n_random: int | None = None, seed: int = 0) -> list[dict]:
    """Every combination, in order; or ``n_random`` of them drawn without replacement (a local RNG)."""
    names = list(grid_values)
    sizes = [len(grid_values[n]) for n in names]
    total = math.prod(sizes) if names else 0
    if n_random is None:
        return [dict(zip(names, values)) for values in itertools.product(*(grid_values[n] for n in names))]
    if n_random < 1:
        raise ValueError(f"n_random={n_random}: ask for at least one random combination")
    rng = _random.Random(seed)  # never the global random state
    picked = sorted(rng.sample(range(total), min(n_random, total)))
    combos = []
    for number in picked:
        values = {}
        for name, size in zip(reversed(names), reversed(sizes)):
            number, at = divmod(number, size)
            values[name] = grid_values[name][at]
        combos.append({n: values[n] for n in names})
    return combos


def parse_grid(spec: str) -> dict[str, list[Any]]:
    """``"lr=[1e-2,1e-3] units=[32,64] act=relu"`` -> ``{"lr": [0.01, 0.001], "units": [32, 64], "act": ["relu"]}``."""
    grid_values: dict[str, list[Any]] = {}
    position, text = 0, spec.strip()
    while position < len(text):
        while position < len(text) and text[position] in " \t\n,;":
            position += 1
        if position >= len(text):
            break
        equals = text.find("=", position)
        name = text[position:equals].strip() if equals >= 0 else text[position:].strip()
        if equals < 0 or not name.isidentifier():
            raise GridSpecError(
                f"grid {spec!r}: expected NAME=[values] at position {position + 1}, found {text[position:]!r}"
            )
        start = equals + 1
        while start < len(text) and text[start] == " ":
            start += 1
        end = _value_end(text, start, spec)
        raw = text[start:end]
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # a bare word: relu
        values = list(value) if isinstance(value, (list, tuple, range)) else [value]
        if not values:
            raise GridSpecError(f"grid {spec!r}: {name} has no values")
        grid_values[name] = values
        position = end
    if not grid_values:
        raise GridSpecError(f"grid {spec!r}: give at least one NAME=[values], e.g. lr=[1e-2,1e-3]")
    return grid_values


def _value_end(text: str, start: int, spec: str) -> int:
    if start >= len(text):
        raise GridSpecError(f"grid {spec!r}: expected values after '=' at position {start}")
    if text[start] in "[(":
        depth = 0
        for i in range(start, len(text)):
            if text[i] in "[(":
                depth += 1
            elif text[i] in "])":
                depth -= 1
                if depth == 0:
                    return i + 1
        raise GridSpecError(f"grid {spec!r}: the list at position {start + 1} is not closed")
    end = start
    while end < len(text) and text[end] not in " \t\n;":
        end += 1
    return end


# -- helpers --------------------------------------------------------------------------
def _as_grid(param_grid: Mapping[str, Iterable[Any]]) -> dict[str, list[Any]]:
    grid_values = {}
    for name, values in dict(param_grid).items():
        values = [values] if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) else list(values)
        if not values:
            raise ValueError(f"param_grid[{name!r}] is empty; give at least one value")
        grid_values[str(name)] = values
    if not grid_values:
        raise ValueError("param_grid is empty; give at least one parameter, e.g. {'units': [32, 64]}")
    return grid_values


def _split_parameters(build_fn: Callable[..., Any], grid_values: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Which grid parameters go to ``build_fn``, which to ``fit``."""
    try:
        parameters = inspect.signature(build_fn).parameters
    except (TypeError, ValueError):
        return set(grid_values), set()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    import keras

    fit_names = set(inspect.signature(keras.Model.fit).parameters) - {"self", "x", "y"}
    to_build, to_fit = set(), set()
    for name in grid_values:
        if name in parameters or (takes_any and name not in fit_names):
            to_build.add(name)
        elif name in fit_names:
            to_fit.add(name)
        else:
            raise TypeError(
                f"grid parameter {name!r} is neither an argument of {getattr(build_fn, '__name__', 'build_fn')}"
                f"({', '.join(parameters)}) nor of Model.fit; rename it or add it to the function"
            )
    return to_build, to_fit


def _grid_options(base: RunOptions, name: str | None, grid_id: str, params: dict[str, Any]) -> RunOptions:
    label = _params_text(params)
    return replace(
        base,
        name=f"{name} {label}" if name else label,
        tags=list(base.tags),
        duplicates="reuse",
        similar=False,
        extra={**base.extra, "grid": grid_id, "grid_params": _plain(params)},
    )


def _grid_id(grid_values: Mapping[str, Any], fit_kwargs: Mapping[str, Any], source: str) -> str:
    keys = {k: type(v).__name__ for k, v in fit_kwargs.items()}
    return digest({"grid": _plain(dict(grid_values)), "fit": keys, "source": source})[:10]


def _status(inspector: Any) -> str:
    """Trained, or skipped (stopped before training: its History is empty)."""
    if getattr(inspector, "fitted", None) is not None:  # an estimator
        return "trained" if inspector.fitted else "skipped"
    history = getattr(inspector.history, "history", None)
    return "trained" if history else "skipped"


def _rank(table: Any, names: list[str], metric: str | None, show: Callable[[str], Any], seconds: float) -> Any:
    if metric is None:
        metric = next((m for m in DEFAULT_METRICS if m in table.columns and table[m].notna().any()), None)
    elif metric not in table.columns:
        show(f"Kepler grid: no run reported {metric!r}; the table is in grid order")
        metric = None
    table.attrs.update(metric=metric, best=None, best_experiment=None)
    if metric is not None:
        higher = any(word in metric for word in HIGHER_IS_BETTER)
        table = table.sort_values(metric, ascending=not higher, na_position="last", kind="stable")
        table = table.reset_index(drop=True)
        best = table.iloc[0]
        if best[metric] == best[metric]:  # not NaN
            table.attrs.update(
                metric=metric,
                best={n: _plain(best[n]) for n in names},
                best_experiment=None if best.get("experiment") is None else int(best["experiment"]),
            )
            show(
                f"Kepler grid: best {_params_text(table.attrs['best'])} -> {metric} {best[metric]:.4g} "
                f"(experiment {table.attrs['best_experiment']})"
            )
    counts = table["status"].value_counts().to_dict() if "status" in table.columns else {}
    done = ", ".join(f"{n} {s}" for s, n in counts.items())
    show(f"Kepler grid: {len(table)} combinations in {_duration(seconds)} ({done})")
    return table


def _params_text(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.items())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError("kepler.grid returns its results as a pandas DataFrame: pip install pandas") from error
    return pandas
