"""Importing this module registers every check, one module per stage."""

from . import (  # noqa: F401
    data,
    environment,
    estimator_results,
    estimators,
    model,
    model_layers,
    preflight,
    setup,
    training,
    training_diagnosis,
    training_probe,
    training_progress,
)
