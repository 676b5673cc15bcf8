"""Run the selected checks of some stages on a context."""

from __future__ import annotations

from typing import Any

from .finding import Finding, sort_findings
from .registry import all_checks
from .selection import Selection

PRE_TRAINING_STAGES = ("setup", "model", "data", "environment")


def run_checks(context: Any, selection: Selection = Selection(), stages=PRE_TRAINING_STAGES) -> list[Finding]:
    """Findings of every selected check of ``stages``, most severe first."""
    findings: list[Finding] = []
    for check in all_checks():
        if check.stage in stages and selection.allows(check.code):
            findings.extend(check.run(context))
    return sort_findings(findings)
