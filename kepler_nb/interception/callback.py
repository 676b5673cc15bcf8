"""The Keras callback Kepler adds for the duration of one fit.

It appends each finished epoch to the journal (so a kernel that dies keeps
them) and runs the training checks (K4xx) at epoch end, reporting each
finding once. Batch hooks are not overridden, so Keras skips them: no
per-batch work, no device sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from ..checks.finding import Finding
from ..checks.runner import run_checks
from ..checks.selection import Selection
from ..checks.training import TrainingContext

log = logging.getLogger("kepler")


class KeplerCallback(keras.callbacks.Callback):
    def __init__(
        self,
        on_epoch: Callable[[int, dict[str, float]], None],
        on_finding: Callable[[Finding], None],
        context: TrainingContext | None,
        selection: Selection,
        stop_on_error: bool = False,
    ) -> None:
        super().__init__()
        self.on_epoch = on_epoch
        self.on_finding = on_finding
        self.context = context
        self.selection = selection
        self.stop_on_error = stop_on_error
        self.reported: set[str] = set()
        self.findings: list[Finding] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.context is not None:
            self.context.model = self.model
            self._check(stage="training_begin")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = {k: _number(v) for k, v in (logs or {}).items()}
        try:
            self.on_epoch(epoch, values)
        except Exception:  # noqa: BLE001 - journal trouble must not stop training
            log.exception("could not record epoch %d", epoch)
        if self.context is not None:
            self.context.add_epoch(epoch, values)
            self._check(stage="training")

    def _check(self, stage: str) -> None:
        for finding in run_checks(self.context, self.selection, stages=(stage,)):
            if finding.code in self.reported:
                continue
            self.reported.add(finding.code)
            self.findings.append(finding)
            self.on_finding(finding)
            if self.stop_on_error and finding.severity == "error" and not finding.skipped:
                self.model.stop_training = True


def _number(value: Any) -> float:
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return float("nan")
