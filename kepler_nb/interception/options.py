"""What the user said about the runs of one cell (or one ModelInspector): ``RunOptions``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..checks.selection import Selection
from ..presentation.questions import CellAnswers


@dataclass
class RunOptions:
    """What the user said about the runs of one cell (or one ModelInspector)."""

    project: str | None = None
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    hypothesis: str | None = None
    checks: bool = True
    selection: Selection = field(default_factory=Selection)
    answer: str | None = None
    stop_on_error: bool = False
    cell: str | None = None
    user_ns: dict[str, Any] = field(default_factory=dict)
    # Earlier runs: "ask" about a duplicate (default answer: train again),
    # "reuse" its result without asking or recording (grids resuming), "off".
    duplicates: str = "ask"
    similar: bool = True  # show similar models and ask before training
    save_weights: bool = False  # keep the trained weights in the journal's artifact store
    preflight: bool = False  # probe a clone of the model before training (K6xx)
    save_model: bool = False  # keep a fitted scikit-learn estimator (joblib) in the journal's artifact store
    extra: dict[str, Any] = field(default_factory=dict)  # more summary fields (a grid's parameters)
    # The answers given in this cell: shared by the copies made for each of its fits, so a loop asks once.
    answers: CellAnswers = field(default_factory=CellAnswers)
