"""A scikit-learn estimator, described as data: class, framework, parameters, search results.

Any object following scikit-learn's estimator API (``fit`` plus
``get_params``/``set_params``) is an estimator here: scikit-learn's own, a
``Pipeline`` or ``ColumnTransformer``, a search object, or a third-party
wrapper (XGBoost's, LightGBM's). Everything is read through public
attributes (``get_params``, ``cv_results_``, ``best_params_``...) and never
changes the estimator: no fit, no ``set_params``, no prediction.

Parameters are recorded twice: ``params``, the flat ``get_params(deep=True)``
with each nested estimator replaced by its class name (``svc__C``), and
``tree``, the same nested the way a reader thinks of it (a pipeline's steps,
each with its own non-default parameters). Values are made JSON-able and
readable (a callable by its name, an array by its shape).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
from typing import Any

import numpy as np

# Parameters that change speed or output, never the fitted model.
IGNORED_PARAMS = frozenset({"n_jobs", "verbose", "memory", "cache_size", "copy", "copy_X", "pre_dispatch", "verbosity"})
# Search objects: their candidates are recorded from ``cv_results_``.
SEARCH_CLASSES = frozenset(
    {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV", "BayesSearchCV"}
)
FRAMEWORKS = {"sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"}
MAX_LIST = 50  # longer lists and arrays are summarised


def is_estimator(obj: Any) -> bool:
    """True for an estimator following scikit-learn's API (not a class, not a Keras model)."""
    if isinstance(obj, type):
        return False
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(obj, base.BaseEstimator):
        return True
    return all(callable(getattr(obj, name, None)) for name in ("fit", "get_params", "set_params")) and not hasattr(
        obj, "compile"
    )


def framework(estimator: Any) -> tuple[str, str | None]:
    """``("scikit-learn", "1.9.1")``: the library the estimator's class comes from, and its version."""
    root = type(estimator).__module__.split(".")[0]
    name = FRAMEWORKS.get(root, root)
    module = sys.modules.get(root)
    return name, getattr(module, "__version__", None)


def kind(estimator: Any) -> str:
    """classifier, regressor, clusterer, outlier_detector, transformer or estimator."""
    final = final_estimator(estimator)
    kind_of = getattr(final, "_estimator_type", None)
    with contextlib.suppress(Exception):  # third-party estimators without tags
        kind_of = final.__sklearn_tags__().estimator_type or kind_of
    if kind_of:
        return {"density_estimator": "estimator"}.get(kind_of, kind_of)
    if hasattr(final, "transform"):
        return "transformer"
    return "estimator"


def is_search(estimator: Any) -> bool:
    return type(estimator).__name__ in SEARCH_CLASSES or (
        hasattr(estimator, "estimator")
        and ("param_grid" in _params(estimator, False) or "param_distributions" in _params(estimator, False))
    )


def final_estimator(estimator: Any) -> Any:
    """The estimator that predicts: a pipeline's last step, a search's (best) estimator."""
    seen = 0
    while seen < 20:
        seen += 1
        if is_search(estimator):
            estimator = getattr(estimator, "best_estimator_", None) or estimator.get_params(deep=False)["estimator"]
        elif hasattr(estimator, "steps") and isinstance(estimator.steps, list) and estimator.steps:
            last = estimator.steps[-1][1]
            if last in (None, "passthrough"):
                return estimator
            estimator = last
        else:
            return estimator
    return estimator


def readable(value: Any) -> Any:
    """A parameter value as JSON-able, readable data."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if is_estimator(value):
        return type(value).__name__
    if isinstance(value, dict):
        return {str(k): readable(v) for k, v in list(value.items())[:MAX_LIST]}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST:
            return f"{type(value).__name__} of {len(value)}"
        return [readable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.size <= MAX_LIST:
            return readable(value.tolist())
        return f"array{list(value.shape)} {value.dtype}"
    if isinstance(value, np.random.RandomState):
        return "RandomState"
    name = getattr(value, "__name__", None)
    if callable(value) and name:
        return name
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _params(estimator: Any, deep: bool) -> dict[str, Any]:
    try:
        return dict(estimator.get_params(deep=deep))
    except Exception:  # noqa: BLE001 - a broken get_params must not break the fit
        return {}


def flat_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=True)``, readable: nested estimators as class names, lists of steps by name."""
    out = {}
    for key, value in _params(estimator, True).items():
        if key in ("steps", "transformers") and isinstance(value, list):
            value = [
                [item[0], type(item[1]).__name__ if is_estimator(item[1]) else readable(item[1])] for item in value
            ]
        out[key] = readable(value)
    return out


def default_params(estimator: Any) -> dict[str, Any]:
    """The defaults of the class's ``__init__``, read from its signature (no instance is built)."""
    try:
        signature = inspect.signature(type(estimator).__init__)
    except (TypeError, ValueError):
        return {}
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if name != "self" and p.default is not inspect.Parameter.empty
    }


def changed_params(estimator: Any) -> dict[str, Any]:
    """The parameters of ``estimator`` itself (not its children) that differ from the class defaults."""
    defaults = default_params(estimator)
    changed = {}
    for name, value in _params(estimator, False).items():
        if is_estimator(value) or name in ("steps", "transformers", "estimator", "estimators"):
            continue
        if name not in defaults or not _same(value, defaults[name]):
            changed[name] = readable(value)
    return changed


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else False
    except Exception:  # noqa: BLE001 - odd comparisons: call them different
        return False


def children(estimator: Any) -> list[tuple[str, Any]]:
    """The estimators inside a meta-estimator, by name: steps, transformers, the searched estimator."""
    found: list[tuple[str, Any]] = []
    for key in ("steps", "transformers", "transformer_list", "estimators"):
        items = getattr(estimator, key, None)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, tuple) and len(item) >= 2:
                    found.append((str(item[0]), item[1]))
    if not found:
        for name, value in _params(estimator, False).items():
            if is_estimator(value):
                found.append((name, value))
    return found


def tree(estimator: Any, name: str | None = None, depth: int = 0) -> dict[str, Any]:
    """The estimator as a nested description: class, changed params, then its children."""
    node: dict[str, Any] = {"class": type(estimator).__name__}
    if name is not None:
        node["name"] = name
    if not is_estimator(estimator):
        node["class"] = readable(estimator)
        return node
    node["params"] = changed_params(estimator)
    if depth < 8:
        parts = [tree(child, child_name, depth + 1) for child_name, child in children(estimator)]
        if parts:
            node["children"] = parts
    return node


def one_line(estimator: Any) -> str:
    """``StandardScaler > SVC(C=10, kernel='linear')``: the estimator in one line."""
    return _line(tree(estimator))


def _line(node: dict[str, Any]) -> str:
    scalars = [(k, v) for k, v in (node.get("params") or {}).items() if not isinstance(v, (dict, list))]
    args = ", ".join(f"{k}={v!r}" for k, v in scalars[:4])
    text = f"{node['class']}({args})" if args else str(node["class"])
    parts = node.get("children") or []
    if not parts:
        return text
    inner = [_line(p) for p in parts]
    if node["class"] == "Pipeline":
        return " > ".join(inner)
    return f"{text}[{', '.join(inner)}]"


def class_names(estimator: Any) -> list[str]:
    """Every estimator class in it, outermost first (for ``estimator = SVC`` searches)."""
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node["class"] not in names:
            names.append(node["class"])
        for part in node.get("children") or []:
            walk(part)

    walk(tree(estimator))
    return names


def search_space(search: Any) -> dict[str, list[Any]] | list[dict[str, list[Any]]] | None:
    """The grid (or the distributions, readable) a search object explores."""
    params = _params(search, False)
    space = params.get("param_grid", params.get("param_distributions"))
    if space is None:
        return None
    if isinstance(space, dict):
        return {str(k): readable(v) for k, v in space.items()}
    return [{str(k): readable(v) for k, v in grid.items()} for grid in space if isinstance(grid, dict)]


def cv_candidates(search: Any) -> list[dict[str, Any]]:
    """Every candidate of a fitted search's ``cv_results_``: params, scores per fold, mean/std, fit time, rank."""
    results = getattr(search, "cv_results_", None)
    if not isinstance(results, dict) or "params" not in results:
        return []
    keys = [k for k in results if not k.startswith("param_") and k != "params"]
    rows = []
    for i, params in enumerate(results["params"]):
        row: dict[str, Any] = {"params": {str(k): readable(v) for k, v in params.items()}}
        for key in keys:
            row[key] = _number(results[key][i])
        rows.append(row)
    return rows


def _number(value: Any) -> Any:
    if value is np.ma.masked:
        return None
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    return readable(value)


def fitted_facts(estimator: Any) -> dict[str, Any]:
    """What the fit left on the estimator that a reader wants: iterations, classes, best params and score."""
    facts: dict[str, Any] = {}
    for attr in ("n_iter_", "n_features_in_", "best_score_", "best_index_", "oob_score_", "n_components_"):
        value = getattr(estimator, attr, None)
        if value is not None:
            facts[attr.rstrip("_")] = _number(np.max(value) if isinstance(value, np.ndarray) else value)
    best = getattr(estimator, "best_params_", None)
    if isinstance(best, dict):
        facts["best_params"] = {str(k): readable(v) for k, v in best.items()}
    classes = getattr(final_estimator(estimator), "classes_", None)
    if classes is not None:
        facts["n_classes"] = len(classes)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        facts["feature_names"] = [str(n) for n in list(names)[:200]]
    return facts


def describe_estimator(estimator: Any) -> dict[str, Any]:
    """The estimator before (or after) its fit, as JSON-able data."""
    name, version = framework(estimator)
    final = final_estimator(estimator)
    description = {
        "class": type(estimator).__name__,
        "module": type(estimator).__module__,
        "framework": name,
        "framework_version": version,
        "kind": kind(estimator),
        "estimator": type(final).__name__,
        "classes": class_names(estimator),
        "architecture": one_line(estimator),
        "params": flat_params(estimator),
        "changed": changed_params(final),
        "tree": tree(estimator),
    }
    if is_search(estimator):
        description["search_space"] = search_space(estimator)
    return description


def hyperparameters(estimator: Any) -> dict[str, Any]:
    """The scalar parameters that change the fitted model, flat (``svc__C``), for similarity and search."""
    out = {}
    for key, value in flat_params(estimator).items():
        last = key.rsplit("__", 1)[-1]
        if last in IGNORED_PARAMS or isinstance(value, (list, dict)):
            continue
        out[key] = value
    return out
