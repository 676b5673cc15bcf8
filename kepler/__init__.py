"""Kepler's public face: ``%load_ext kepler``, ``from kepler import ModelInspector``."""

from kepler_nb import *  # noqa: F403
from kepler_nb import __all__, __version__  # noqa: F401
