"""What an estimator's fit left behind, as data: the time, warnings, and the scores computed afterwards.

A :class:`Score` is one number the cell computed on the fitted estimator
(``estimator.score(X_test, y_test)``, or an ``sklearn.metrics`` function on
its predictions), with the fingerprint of the rows it was computed on and
what is known about those rows: whether the estimator trained on them, and
which share of them a separately fitted preprocessing step had seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Score:
    """One score of a fitted estimator, computed by the cell after the fit."""

    metric: str  # "accuracy", "r2", "f1_score"...
    value: float
    source: str  # "score" or the metrics function's name
    data_fingerprint: str | None = None
    n_rows: int | None = None
    on_training_data: bool = False  # the rows are the ones the estimator was fitted on
    baseline: float | None = None  # what a trivial (Dummy) model scores on the same rows
    higher_is_better: bool = True
    seen_by: str | None = None  # a preprocessing step fitted outside the estimator that saw these rows
    seen_share: float = 0.0  # the share of the rows that step had been fitted on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitOutcome:
    """The end of one estimator fit: how long, what warnings, and the scores that followed."""

    seconds: float | None = None
    convergence_warnings: list[str] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    error: str | None = None
