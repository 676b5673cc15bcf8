"""The Keras callback Kepler adds for the duration of one fit.

It appends each finished epoch to the journal (so a kernel that dies keeps
them) and runs the training checks (K4xx): those in
``checks.training.AT_TRAIN_BEGIN`` once when training starts, the others at
every epoch end. A finding is reported once per run. A check that can't judge
yet (too few epochs) is not reported while it waits; when training ends, the
last reason it gave is recorded for the checks that never judged (a check
that ran later and found nothing is not "skipped").
Batch hooks are not overridden, so Keras skips them: no per-batch work, no
device sync.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from ..checks.catalogue import all_checks
from ..checks.training import AT_TRAIN_BEGIN, TrainingContext
from ..checks.training_diagnosis import DIAGNOSIS_CODES, remember_initial_weights

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..checks.finding import Finding
    from ..checks.selection import Selection

log = logging.getLogger("kepler")


class KeplerCallback(keras.callbacks.Callback):
    def __init__(
        self,
        on_epoch: Callable[[int, dict[str, float]], None],
        on_finding: Callable[[Finding], None],
        context: TrainingContext | None,
        selection: Selection,
        stop_on_error: bool = False,
        show: Callable[[str], None] = print,
    ) -> None:
        super().__init__()
        self.on_epoch = on_epoch
        self.on_finding = on_finding
        self.context = context
        self.selection = selection
        self.stop_on_error = stop_on_error
        self.show = show
        self.reported: set[str] = set()
        self.findings: list[Finding] = []
        self.waiting: dict[str, Finding] = {}  # code -> its latest "skipped" finding
        self.judged: set[str] = set()  # checks that ran to a verdict at least once (a finding or none)
        self.stopped_by: Finding | None = None
        self.unrecorded: list[int] = []  # epochs (0-based) the journal could not take
        self.unrecorded_why = ""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.context is not None:
            self.context.model = self.model
            params = self.params if isinstance(getattr(self, "params", None), dict) else {}
            self.context.steps_per_epoch = params.get("steps")
            self.context.planned_epochs = params.get("epochs")
            if any(self.selection.allows(code) for code in DIAGNOSIS_CODES):
                try:  # a weight snapshot that fails leaves the diagnosis without its "before", not the fit
                    remember_initial_weights(self.context)
                except Exception:
                    log.exception("could not snapshot the initial weights")
            self._check(at_begin=True, epoch=0)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = {k: _number(v) for k, v in (logs or {}).items()}
        try:
            self.on_epoch(epoch, values)
        except Exception as error:  # training goes on; the record will say what it lacks
            log.exception("could not record epoch %d", epoch)
            self.unrecorded.append(epoch)
            self.unrecorded_why = self.unrecorded_why or (str(error).splitlines() or [type(error).__name__])[0]
        if self.context is not None:
            self.context.add_epoch(epoch, values)
            self._check(at_begin=False, epoch=epoch + 1)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # Why a check said nothing goes to the record, without interrupting the user.
        for code in sorted(self.waiting):
            if code not in self.reported and code not in self.judged:
                self.findings.append(self.waiting[code])
        self.waiting.clear()

    def unrecorded_text(self) -> str:
        """``epochs 3-5 (No space left on device)``: what the journal lacks of this run's epochs."""
        shown = [e + 1 for e in self.unrecorded]
        if len(shown) == 1:
            which = f"epoch {shown[0]}"
        elif shown == list(range(shown[0], shown[-1] + 1)):
            which = f"epochs {shown[0]}-{shown[-1]}"
        else:
            which = "epochs " + ", ".join(map(str, shown))
        return f"{which} ({self.unrecorded_why})"

    def _check(self, at_begin: bool, epoch: int) -> None:
        for check in all_checks():
            code = check.code
            if (
                check.stage != "training"
                or (code in AT_TRAIN_BEGIN) != at_begin
                or code in self.reported
                or not self.selection.allows(code)
            ):
                continue
            results = list(check.run(self.context))
            skips = [f for f in results if f.skipped]
            if skips:
                self.waiting[code] = skips[-1]
            else:  # it judged: an earlier "can't judge yet" (too few epochs) no longer holds
                self.judged.add(code)
            for finding in results:
                if finding.skipped:
                    continue
                self.reported.add(code)
                self.findings.append(finding)
                self.on_finding(finding)
                if self.stop_on_error and finding.severity == "error" and self.stopped_by is None:
                    self._stop(finding, epoch)
                break

    def _stop(self, finding: Finding, epoch: int) -> None:
        self.stopped_by = finding
        self.model.stop_training = True
        total = self.params.get("epochs") if isinstance(getattr(self, "params", None), dict) else None
        where = (f"after epoch {epoch}" + (f" of {total}" if total else "")) if epoch else "at its start"
        self.show(
            f"Kepler: training stopped {where}: {finding.code} {finding.name} is an error and "
            "--stop-on-error is set. Fix it (see above), or drop --stop-on-error to train through it."
        )


def _number(value: Any) -> float:
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return float("nan")
