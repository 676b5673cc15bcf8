"""The catalogue of checks: each a small documented unit, registered by code.

A check is a function decorated with :func:`check`. Its docstring is its
documentation, with the headings *What it does*, *Why is this bad?*,
*Example*, *Use instead* (the single source for ``kepler explain``, the
reports and the widget); its first line is the summary. It receives a
context and yields :class:`Report` for each problem, or raises
:class:`Skip` when it can't judge this input.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .finding import SEVERITIES, STAGES, Finding

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

log = logging.getLogger("kepler")

DOC_HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead")


class Skip(Exception):
    """Raised by a check that can't judge this input; the message says why."""


@dataclass
class Report:
    """A problem found by a check: what was observed, and what to do."""

    message: str
    fix: str = ""
    severity: str | None = None  # overrides the check's default
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    stage: str
    severity: str
    func: Callable[[Any], Iterable[Report] | None]
    thresholds: dict[str, Any] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.name

    def finding(self, report: Report) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=report.severity or self.severity,
            stage=self.stage,
            message=report.message,
            fix=report.fix,
            details=report.details,
        )

    def skipped(self, why: str) -> Finding:
        return Finding(self.code, self.name, "info", self.stage, f"skipped: {why}", skipped=True)

    def run(self, context: Any) -> list[Finding]:
        """Run on ``context``; never raises: failures become a skipped finding."""
        try:
            return [self.finding(r) for r in (self.func(context) or [])]
        except Skip as why:
            return [self.skipped(str(why))]
        except Exception as error:
            log.exception("check %s failed", self.code)
            return [self.skipped(f"the check itself failed ({type(error).__name__}: {error})")]


REGISTRY: dict[str, Check] = {}


def check(
    code: str, name: str, stage: str, severity: str, thresholds: dict[str, Any] | None = None
) -> Callable[[Callable], Callable]:
    """Register a check function under ``code``."""
    if stage not in STAGES or severity not in SEVERITIES:
        raise ValueError(f"{code}: stage must be one of {STAGES} and severity one of {SEVERITIES}")

    def register(func: Callable) -> Callable:
        if code in REGISTRY:
            raise ValueError(f"check code {code} registered twice")
        REGISTRY[code] = Check(code, name, stage, severity, func, dict(thresholds or {}))
        return func

    return register


def all_checks() -> list[Check]:
    """Every registered check, by code."""
    from . import catalogue  # noqa: F401 - importing registers the checks

    return [REGISTRY[c] for c in sorted(REGISTRY)]


def get_check(code: str) -> Check:
    checks = {c.code: c for c in all_checks()}
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
