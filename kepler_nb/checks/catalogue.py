"""The catalogue: every check, from the modules listed here, looked up by code.

A new check goes into the module of its stage (a function decorated with
:func:`~.registry.check`); a new module of checks is added to
:data:`CHECK_MODULES`. Nothing registers itself when imported: the catalogue
reads the listed modules once, on first use, and refuses a code used twice.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from . import (
    data,
    data_samples,
    data_targets,
    environment,
    estimator_results,
    estimators,
    model,
    model_layers,
    preflight,
    setup,
    training,
    training_diagnosis,
    training_loss,
    training_probe,
    training_progress,
    training_validation,
)
from .registry import Check, check_of

if TYPE_CHECKING:
    from types import ModuleType

# The modules that hold checks, by stage.
CHECK_MODULES: tuple[ModuleType, ...] = (
    setup,  # K1xx training setup
    model,  # K2xx model and compile configuration
    model_layers,
    data,  # K3xx data
    data_samples,
    data_targets,
    training,  # K4xx during training
    training_loss,
    training_validation,
    training_diagnosis,
    training_probe,
    training_progress,
    environment,  # K5xx reproducibility and environment
    preflight,  # K6xx pre-flight probes
    estimators,  # K7xx scikit-learn estimators
    estimator_results,
)


def checks_in(module: ModuleType) -> list[Check]:
    """The checks defined in ``module`` (not those it imports from another)."""
    found = [check_of(value) for value in vars(module).values()]
    return [c for c in found if c is not None and c.func.__module__ == module.__name__]


@functools.cache
def _catalogue() -> dict[str, Check]:
    by_code: dict[str, Check] = {}
    for module in CHECK_MODULES:
        for c in checks_in(module):
            if c.code in by_code:
                raise ValueError(
                    f"check code {c.code} is used twice: by {by_code[c.code].func.__qualname__} and "
                    f"{c.func.__module__}.{c.func.__qualname__}; give one of them the next free code"
                )
            by_code[c.code] = c
    return dict(sorted(by_code.items()))


def all_checks() -> list[Check]:
    """Every check, by code."""
    return list(_catalogue().values())


def get_check(code: str) -> Check:
    """The check ``code`` ("K303", case and spaces ignored)."""
    checks = _catalogue()
    key = code.strip().upper()
    if key not in checks:
        close = [c for c in checks if c.startswith(key[:2])] or sorted(checks)
        raise KeyError(f"No check {code!r}. Known codes: {', '.join(close)}. `kepler checks` lists them all.")
    return checks[key]


def explain(code: str) -> str:
    """The documentation of one check, as ``kepler explain`` prints it."""
    c = get_check(code)
    lines = [f"{c.code} {c.name} ({c.stage}, {c.severity})", "", c.doc]
    if c.thresholds:
        lines += ["", "Thresholds:"] + [f"  {k} = {v!r}" for k, v in c.thresholds.items()]
    return "\n".join(lines)
