"""Kepler: a smart lab journal for deep-learning experiments, inside Jupyter."""

from .api import check, preflight
from .checks.finding import Finding, KeplerWarning
from .fit.environment import kepler_version
from .interception.extension import load_ipython_extension, unload_ipython_extension
from .interception.grid import grid
from .interception.inspector import ModelInspector
from .journal.journal import Journal
from .presentation.report import export_html

__version__ = kepler_version()
__all__ = [
    "Finding",
    "Journal",
    "KeplerWarning",
    "ModelInspector",
    "check",
    "export_html",
    "grid",
    "load_ipython_extension",
    "preflight",
    "unload_ipython_extension",
]
