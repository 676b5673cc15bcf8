"""Importing this module registers every check, one module per stage."""

from . import data, environment, model, setup, training  # noqa: F401
