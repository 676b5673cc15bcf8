"""Run the selected checks of some stages on a context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fit.estimator import is_estimator
from .catalogue import all_checks
from .finding import Finding, sort_findings
from .selection import Selection

if TYPE_CHECKING:
    from .context import CheckContext
    from .estimator_results import EvaluationContext
    from .preflight import PreflightContext

    # What a stage's checks are run on: the fit before training, the probes' measurements, the scores after.
    Context = CheckContext | PreflightContext | EvaluationContext

PRE_TRAINING_STAGES = ("setup", "model", "data", "environment")
# The checks written for Keras that also judge an estimator's data. Not K303: K701 knows which estimators
# care about scale. Not K301: collinear columns are the rule in tabular data (radius, perimeter and area),
# harmless to trees and handled by penalised models.
ESTIMATOR_DATA_CODES = frozenset({"K302", "K306", "K307", "K309", "K310"})


def applies(code: str, model: Any) -> bool:
    """Whether check ``code`` judges this kind of model: K7xx for estimators, the rest for Keras."""
    if is_estimator(model):
        return code.startswith("K7") or code in ESTIMATOR_DATA_CODES
    return not code.startswith("K7")


def run_checks(context: Context, selection: Selection = Selection(), stages=PRE_TRAINING_STAGES) -> list[Finding]:
    """Findings of every selected check of ``stages``, most severe first."""
    findings: list[Finding] = []
    model = getattr(context, "model", None)
    for check in all_checks():
        if check.stage in stages and selection.allows(check.code) and applies(check.code, model):
            findings.extend(check.run(context))
    return sort_findings(findings)
