"""Kepler: a smart lab journal for deep-learning experiments, inside Jupyter.

The public names load on first use (PEP 562): the ``kepler`` command in a
fresh process imports the journal and the text it prints, not the
interception machinery, the checks, NumPy or the report templates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import check, preflight
    from .checks.finding import Finding, KeplerWarning
    from .interception.extension import load_ipython_extension, unload_ipython_extension
    from .interception.grid import grid
    from .interception.inspector import ModelInspector
    from .journal.journal import Journal
    from .presentation.report import export_html

# Each public name and the module that defines it.
_PUBLIC = {
    "Finding": ".checks.finding",
    "Journal": ".journal.journal",
    "KeplerWarning": ".checks.finding",
    "ModelInspector": ".interception.inspector",
    "check": ".api",
    "export_html": ".presentation.report",
    "grid": ".interception.grid",
    "load_ipython_extension": ".interception.extension",
    "preflight": ".api",
    "unload_ipython_extension": ".interception.extension",
}
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


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .fit.environment import kepler_version

        globals()[name] = value = kepler_version()
        return value
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'kepler_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once: later lookups don't come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
