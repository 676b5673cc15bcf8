"""Importing this module registers every check, one module per stage."""

from . import data, environment, model, model_layers, setup, training  # noqa: F401
