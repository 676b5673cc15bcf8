"""What a check is: a small documented unit with a code, a name, a stage and a severity.

A check is a function decorated with :func:`check`, which attaches its
:class:`Check` to the function (``func.kepler_check``) and registers nothing:
:mod:`.catalogue` lists the modules that hold checks and collects them. Its docstring is its
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


# The attribute of a check function that holds its Check (read by the catalogue).
CHECK_ATTRIBUTE = "kepler_check"


def check(
    code: str, name: str, stage: str, severity: str, thresholds: dict[str, Any] | None = None
) -> Callable[[Callable], Callable]:
    """Make a function the check ``code``; :mod:`.catalogue` lists the module it is in."""
    if stage not in STAGES or severity not in SEVERITIES:
        raise ValueError(f"{code}: stage must be one of {STAGES} and severity one of {SEVERITIES}")

    def describe(func: Callable) -> Callable:
        setattr(func, CHECK_ATTRIBUTE, Check(code, name, stage, severity, func, dict(thresholds or {})))
        return func

    return describe


def check_of(func: object) -> Check | None:
    """The :class:`Check` a function was made into by :func:`check`, or None."""
    found = getattr(func, CHECK_ATTRIBUTE, None)
    return found if isinstance(found, Check) else None
