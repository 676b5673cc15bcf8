"""Checks: a linter for training runs, pure functions of a context the inspector fills.

:mod:`.registry` says what a check is (code, name, stage, severity, doc);
one module per stage holds the checks (``setup``, ``model``, ``data``,
``training``, ``environment``, ``preflight``, ``estimators``); :mod:`.catalogue`
lists those modules and looks checks up by code; :mod:`.runner` runs the
selected ones (:mod:`.selection`) on a :class:`~.context.CheckContext`.
Importing this package loads no check module: the catalogue does, on first use.
"""

from .finding import Finding, KeplerWarning
from .registry import Check, Report, Skip, check

__all__ = ["Check", "Finding", "KeplerWarning", "Report", "Skip", "check"]
