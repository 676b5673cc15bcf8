"""Checks: a linter for training runs (registry, one module per stage)."""

from .finding import Finding, KeplerWarning
from .registry import Report, Skip, all_checks, check, explain, get_check

__all__ = ["Finding", "KeplerWarning", "Report", "Skip", "all_checks", "check", "explain", "get_check"]
