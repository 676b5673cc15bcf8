"""One estimator ``fit`` call, as the checks and the journal see it: its data, its signature.

``X`` and ``y`` are bound by position or name whatever the estimator calls
them; the other ``fit`` arguments (``sample_weight``, ``groups``...) are kept
by name. The data view is the same as a Keras fit's, so the K3xx data
checks and the content fingerprint apply unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import estimator as est
from .call import FitCall
from .data import view_arrays
from .signature import Signature, digest


def bind_estimator_call(fit: Any, estimator: Any, args: tuple, kwargs: dict) -> FitCall:
    """The arguments of ``estimator.fit(*args, **kwargs)`` by name, ``x``/``y`` first, with a view of the data."""
    try:
        bound = inspect.signature(fit).bind(estimator, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self", None)
        arguments.update(arguments.pop("kwargs", None) or arguments.pop("fit_params", None) or {})
        arguments.update(arguments.pop("params", None) or {})
    except TypeError:
        arguments = dict(zip(["X", "y"], args)) | dict(kwargs)
    names = list(arguments)
    x_name = next((n for n in names if n in ("X", "x", "data", "raw_documents")), names[0] if names else "X")
    y_name = next((n for n in names if n in ("y", "Y", "target", "labels")), None)
    x = arguments.pop(x_name, None)
    y = arguments.pop(y_name, None) if y_name else None
    arguments = {"x": x, "y": y, **arguments}
    train = view_arrays(x, y, arguments.get("sample_weight"))  # estimators read arrays, frames or sparse matrices
    return FitCall(model=estimator, arguments=arguments, train=train)


def fit_parameters(call: FitCall) -> dict[str, Any]:
    """The fit arguments besides the data, readable (``sample_weight``: given or not)."""
    out: dict[str, Any] = {}
    for name, value in call.arguments.items():
        if name in ("x", "y"):
            continue
        out[name] = value is not None if name in ("sample_weight", "groups") else est.readable(value)
    return out


def candidate_key(hyperparameters: dict[str, Any], data_signature: str | None) -> str:
    """The identity of one set of parameters on one data set: a plain fit, or one candidate of a search."""
    return digest({"params": sorted(hyperparameters.items()), "data": data_signature})


def estimator_signature(call: FitCall, data: dict[str, Any]) -> Signature:
    """The signature of an estimator fit: its classes and parameters, its fit arguments, its data."""
    estimator = call.model
    hparams = est.hyperparameters(estimator)
    classes = est.class_names(estimator)
    fit_part = {k: v for k, v in fit_parameters(call).items()}
    data_part = digest({"train": data.get("fingerprint"), "fit": fit_part}) if data.get("fingerprint") else None
    arch = digest({"framework": est.framework(estimator)[0], "classes": classes})
    # Every parameter that changes the result, a search's grid, cv and scoring included.
    settings = {k: v for k, v in est.flat_params(estimator).items() if k.rsplit("__", 1)[-1] not in est.IGNORED_PARAMS}
    setup = digest({"params": sorted(settings.items(), key=lambda kv: kv[0]), "fit": fit_part})
    experiment = digest({"arch": arch, "setup": setup, "data": data_part}) if data_part else None
    n_features = data.get("n_features")
    n_classes = len(data["class_counts"]) if data.get("class_counts") else None
    return Signature(
        experiment=experiment,
        arch=arch,
        data=data_part,
        setup=setup,
        layers=[[name, None, None, None] for name in classes],
        input_shape=[n_features] if n_features else None,
        n_classes=n_classes,
        hparams={k: v for k, v in hparams.items() if not isinstance(v, str) or len(v) < 60},
    )


def search_candidates(search: Any) -> list[dict[str, Any]]:
    """The parameter sets a grid search will try, known before its fit; [] for a randomized search."""
    space = est.search_space(search)
    if space is None or "param_grid" not in search.get_params(deep=False):
        return []
    grids = space if isinstance(space, list) else [space]
    import itertools

    found = []
    for grid in grids:
        names = sorted(grid)
        values = [grid[n] if isinstance(grid[n], list) else [grid[n]] for n in names]
        for combo in itertools.product(*values):
            found.append(dict(zip(names, combo)))
            if len(found) > 10_000:
                return found
    return found


def candidate_keys(search: Any, data_signature: str | None, candidates: list[dict[str, Any]]) -> list[str]:
    """The key of each candidate: the searched estimator's parameters with the candidate's set."""
    inner = search.get_params(deep=False).get("estimator")
    base = est.hyperparameters(inner) if inner is not None else {}
    return [candidate_key(base | {k: est.readable(v) for k, v in c.items()}, data_signature) for c in candidates]
