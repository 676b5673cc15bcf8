"""Importing this module registers every check, one module per stage."""

from . import data, environment, estimator_results, estimators, model, model_layers, setup, training  # noqa: F401
