"""ModelInspector: the flow of one intercepted fit, from checks to journal record.

The flow of a fit: bind its arguments and look at its data; run the
pre-training checks and show the findings; ask one question at most before
training (errors found, a duplicate, similar models: merged into one, see
``earlier.py``); record the experiment (status ``running``); train, with a callback
that appends each epoch and runs the training checks; record how it ended.
The model is only ever read: checks never change weights, optimizer state or
random state. Building the record is ``record.py``'s; the conversation about
earlier runs is ``earlier.py``'s; questions go through the ``Asker`` the
inspector is given (by default: the cell's answer, ``KEPLER_ANSWER``, a
prompt or a dialog).
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..checks.context import CheckContext
from ..checks.finding import Finding, KeplerWarning, sort_findings, warning_action
from ..checks.runner import run_checks
from ..checks.selection import Selection, load_selection, noqa_codes
from ..checks.training import TrainingContext
from ..fit.call import FitCall
from ..fit.environment import describe_environment_soon, static_environment
from ..fit.fingerprint import fingerprint_soon
from ..fit.signature import run_signature
from ..presentation import prompts
from ..presentation.summary import FitSummary, SummaryOutput, end_line, epochs_done
from ..presentation.text import terminal_safe
from . import record
from .earlier import EarlierRuns, similar_experiments
from .journals import shared_journal
from .options import RunOptions

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from ..journal.journal import Journal
    from ..presentation.questions import Asker
    from .earlier import Verdict

log = logging.getLogger("kepler")


class ModelInspector:
    """Inspect, record and train one model.

    ```python
    with ModelInspector(model=model, project="digits") as mi:
        history = mi.fit(x, y, epochs=5)
    mi.findings, mi.experiment_id
    ```

    ``ask`` is the way questions are asked (a callable taking a
    ``Question`` and returning an ``Answer``); by default the cell's
    ``--answer``, ``KEPLER_ANSWER``, a prompt or a dialog.
    """

    def __init__(
        self,
        model: Any = None,
        project: str | None = None,
        name: str | None = None,
        *,
        options: RunOptions | None = None,
        journal: Journal | None = None,
        show: Callable[[str], Any] = print,
        ask: Asker | None = None,
    ) -> None:
        self.model = model
        self.options = options or RunOptions()
        self.options.project = project or self.options.project
        self.options.name = name or self.options.name
        self.journal = journal
        self.show = show = _terminal_safe(show)
        self.ask: Asker = ask or functools.partial(prompts.ask, cell_answer=self.options.answer, show=show)
        self.findings: list[Finding] = []
        self.experiment_id: int | None = None
        self.history: Any = None
        self.similar: list[dict[str, Any]] = []  # earlier runs like this one, for live views
        self.live: Any = None  # the live view of the fit training now
        self.reused = False  # True when an earlier run's result was returned instead of training
        self.summary = FitSummary()  # what is said about this fit, in one place
        self.output = SummaryOutput(self.summary, show)

    def __enter__(self) -> ModelInspector:
        return self

    def __exit__(self, *exc_info: object) -> bool:
        return False

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Train ``model`` as ``model.fit(*args, **kwargs)`` would, inspected and recorded."""
        __tracebackhide__ = True
        if self.model is None:
            raise ValueError("ModelInspector(model=...) needs the model to train; pass model=your_model")
        from ..presentation.waiting import reads_busy

        with reads_busy():
            return self._fit(args, kwargs)

    def _fit(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        from ..fit.estimator import is_estimator

        if is_estimator(self.model):
            from .estimator_inspector import EstimatorInspector

            inner = EstimatorInspector(
                self.model, options=self.options, journal=self.journal, show=self.show, ask=self.ask
            )
            try:
                return inner.fit(*args, **kwargs)
            finally:
                self.findings, self.experiment_id, self.reused = inner.findings, inner.experiment_id, inner.reused
                self.journal = inner.journal
        from .routing import original_fit

        return self.run(original_fit(), self.model, args, kwargs)

    # -- the flow of one fit ----------------------------------------------------
    def run(self, fit: Callable[..., Any], model: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Check, ask, record and train ``fit(model, *args, **kwargs)``; return what it returns.

        Nothing Kepler does may raise into the fit: if checking or recording
        fails before training, the run trains unrecorded and one line says why.
        """
        __tracebackhide__ = True
        self.model = model
        self.experiment_id = None
        self.summary = FitSummary()
        self.output = SummaryOutput(self.summary, self.show)
        self.live = None
        try:
            prepared = self._prepare(fit, model, args, kwargs)
        except KeplerWarning:  # a finding the user's warning filters turned into an error: theirs to see
            raise
        except Exception as error:  # whatever went wrong is Kepler's; the user's fit still runs
            log.exception("recording the fit failed before training")
            self._unrecorded(error)
            return fit(model, *args, **kwargs)
        if not isinstance(prepared, _Ready):
            return prepared  # not trained: a skipped run's or an earlier run's History
        if self.experiment_id is None:
            self.output.close()
            return prepared.call.call_fit(fit, [])
        return self._train(prepared.call, fit, prepared.selection)

    def _prepare(self, fit: Callable[..., Any], model: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Everything before training: a _Ready to train, or the History of a run not to train."""
        journal = self.journal = self.journal or shared_journal()
        environment = describe_environment_soon()  # its git calls overlap the checks
        call = FitCall.bind(fit, model, args, kwargs)
        fingerprints = (fingerprint_soon(call.train), fingerprint_soon(call.validation))  # beside the checks
        options = self.options
        project = options.project or record.default_project(options.user_ns)
        selection = load_selection(journal.home, project).merge(options.selection)
        selection = selection.merge(Selection(ignore=noqa_codes(options.cell)))

        log.info("fit of %s intercepted (project %s, %s data)", type(model).__name__, project, call.train.kind)
        if options.checks:
            self._check(call, journal, project, selection, fingerprints[0])
        self._note_continued(model)
        self.output.publish()

        summary, parts = record.describe_run(call, options, project, self.findings, environment.result(), fingerprints)
        signed = self._sign(call, summary, parts)
        earlier = EarlierRuns(journal, options, self.ask, self._note)
        verdict = earlier.consider(summary if signed else None, self._errors())  # one question at most
        self.similar = earlier.similar
        if not verdict.train:
            return self._skip(summary, parts, verdict)

        summary["status"] = "running"
        try:
            self.experiment_id = journal.start(summary, parts)
        except OSError as error:  # nothing was recorded (a failed write leaves the journal as it was)
            self._unrecorded(error)
        else:
            options.answers.recorded.add(self.experiment_id)
        return _Ready(call, selection)

    def _check(
        self, call: FitCall, journal: Journal, project: str, selection: Selection, fingerprint: Future[str | None]
    ) -> None:
        """The pre-training checks, their findings shown through ``warnings``."""
        context = CheckContext(
            call,
            history=similar_experiments(journal, project, call.model),  # K502/K503 compare with it
            environment=static_environment(),
            train_fingerprint=fingerprint,
        )
        self.findings = run_checks(context, selection)
        if self.options.preflight:
            from ..checks.preflight import measure  # trains a clone: only when asked

            probes = run_checks(measure(call), selection, stages=("preflight",))
            self.findings = sort_findings(self.findings + probes)
        log.info("pre-training findings: %s", [f"{f.code}:{f.severity}" for f in self.findings] or "none")
        self._emit(self.findings, name_skipped=True)

    def _errors(self) -> list[Finding]:
        """The pre-training findings that are errors (asked about before training)."""
        return [f for f in self.findings if f.severity == "error" and not f.skipped]

    def _sign(self, call: FitCall, summary: dict[str, Any], parts: dict[str, Any]) -> bool:
        """The run's signature fields, and the options' extra fields, into ``summary``; False if it can't be signed."""
        try:
            summary.update(run_signature(call, parts.get("data") or {}).summary_fields())
        except Exception:
            log.exception("could not look for earlier runs like this one")
            return False
        summary.update(self.options.extra)
        return True

    def _train(self, call: FitCall, fit: Callable[..., Any], selection: Selection) -> Any:
        __tracebackhide__ = True
        model = call.model
        callback = self._callback(call, selection)
        self.live = live = _live_view(self, call, callback)  # curves and progress in the notebook
        started = time.monotonic()
        try:
            self.history = call.call_fit(fit, [callback] + ([live] if live else []))
        except BaseException as error:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            self._end(model, callback, status, call, time.monotonic() - started, record.error_summary(error))
            raise
        self._end(model, callback, "finished", call, time.monotonic() - started)
        if self.options.save_weights:
            self._save_weights(model)
        return self.history

    def _end(
        self, model: Any, callback: Any, status: str, call: FitCall, seconds: float, error: str | None = None
    ) -> None:
        """Record how the run ended; close the summary and the live view; say in one line what was recorded."""
        ended = self._finish(model, callback, status, error)
        _last_runs[id(model)] = (weakref.ref(model), self.experiment_id)
        self.output.close()
        epochs = (getattr(callback, "params", None) or {}).get("epochs") or call["epochs"]
        done = epochs_done(ended.get("epochs_done"), epochs)
        line = end_line(self.experiment_id, status, done, seconds, ended.get("final") or {})
        if error:
            line += f" ({error.splitlines()[0][:200]})"
        live = self.live
        if live is None or not live.end(status, line):
            self.show(line)
        self._push_soon()

    def _note(self, text: str) -> None:
        """A note about earlier runs, into this fit's summary."""
        self.summary.notes.append(str(text).removeprefix("Kepler: ").strip())
        self.output.publish()

    def _note_continued(self, model: Any) -> None:
        """A model fitted again without being rebuilt: say whose training it continues, and how far it got."""
        from ..fit.signature import optimizer_steps

        steps = optimizer_steps(model)
        if not steps:
            return
        ref, earlier = _last_runs.get(id(model), (None, None))
        whose = f"experiment {earlier}'s model" if ref is not None and ref() is model else "a model trained before"
        self.summary.notes.append(
            f"This fit continues training {whose}: its optimizer has already taken {steps} steps "
            "(build the model again to start afresh)."
        )

    def _unrecorded(self, error: BaseException) -> None:
        log.error("run not recorded: %s", error)
        if isinstance(error, OSError):
            hint = "Point KEPLER_HOME at a writable folder (or free some space) to record the next ones."
        else:
            hint = f"The event log ({self._log_path()}) has the details."
        self.show(f"Kepler: this run can't be recorded ({_one_line(error)}), so it trains unrecorded. {hint}")

    def _log_path(self) -> str:
        return str(self.journal.home / "kepler.log") if self.journal is not None else "kepler.log in KEPLER_HOME"

    def _callback(self, call: FitCall, selection: Selection) -> Any:
        from .callback import KeplerCallback

        context = None
        if self.options.checks:
            context = TrainingContext(call=call, loss_name=CheckContext(call).loss_name)
        return KeplerCallback(
            on_epoch=lambda epoch, logs: self.journal.append_epoch(self.experiment_id, epoch, logs),
            on_finding=lambda finding: self._emit([finding]),
            context=context,
            selection=selection,
            stop_on_error=self.options.stop_on_error,
            show=self.show,
        )

    def _finish(self, model: Any, callback: Any, status: str, error: str | None = None) -> dict[str, Any]:
        """Record how the run ended (the summary written). If that can't be written, say once what the record lacks."""
        eid = self.experiment_id
        summary: dict[str, Any] = {"status": status, "finished": record.now()}
        try:
            self.findings = sort_findings(self.findings + callback.findings)
            history = self.journal.history(eid)
            summary, parts = record.describe_end(model, history, self.findings, status, error)
            if callback.unrecorded:
                summary["unrecorded"] = callback.unrecorded_text()
            self.journal.update(eid, summary, parts)
            log.info("experiment %s %s after %d epochs", eid, status, summary["epochs_done"])
        except Exception as failure:  # the run is over; its record must not say "running"
            log.exception("could not record the end of experiment %s", eid)
            self._end_unrecorded(summary, callback, failure)
            return summary
        if callback.unrecorded:
            self.show(f"Kepler: experiment {eid} is recorded without {callback.unrecorded_text()}.")
        return summary

    def _end_unrecorded(self, summary: dict[str, Any], callback: Any, failure: BaseException) -> None:
        """The end could not be written: try its few summary fields alone, else keep them for later."""
        eid = self.experiment_id
        lacking = [callback.unrecorded_text()] if callback.unrecorded else []
        small = {k: summary[k] for k in ("status", "finished", "epochs_done", "final", "error") if k in summary}
        small["unrecorded"] = "; ".join([*lacking, f"its training findings and model details ({_one_line(failure)})"])
        try:
            self.journal.update(eid, small)
            lacking.append("its training findings and model details")
            later = ""
        except Exception:  # noqa: BLE001 - kept: written by the next write of this journal, or at exit
            lacking.append(f"how it ended ({summary.get('status')}; {_one_line(failure)})")
            small["unrecorded"] = "; ".join(lacking)
            self.journal.update_later(eid, small)
            later = " It is written when the journal can be written again (or when this kernel exits)."
        self.show(f"Kepler: experiment {eid} is recorded without {' and '.join(lacking)}.{later}")

    def _push_soon(self) -> None:
        """With ``[sync] mlflow`` configured: push the journal in a process of its own; say if runs are queued."""
        from ..journal import mlflow_sync, team

        try:
            server = team.configured_server(self.journal.home)
            if not server:
                return
            note = mlflow_sync.queued_note(self.journal.home, server)
            if note:
                self.show(note)
            mlflow_sync.push_soon(self.journal.home, server)
        except Exception:
            log.exception("could not start the push to the team server")

    def _skip(self, summary: dict[str, Any], parts: dict[str, Any], verdict: Verdict) -> Any:
        """Not trained: record a skipped run (or note the earlier run reused); return a History."""
        self.output.close()
        if verdict.reused is not None:
            self.experiment_id, self.reused = verdict.reused, True
            return self._skip_history(verdict.curves)
        summary.update(status="skipped", finished=record.now(), reason=verdict.reason, epochs_done=0, **verdict.link)
        try:
            self.experiment_id = self.journal.start(summary, parts)
        except Exception as error:  # not training stands, recorded or not
            log.exception("could not record a run not trained")
            self.show(f"Kepler: not trained; this can't be recorded ({_one_line(error)}).")
        else:
            self.show(f"Kepler: not trained; recorded as experiment {self.experiment_id} (skipped).")
        return self._skip_history(verdict.curves)

    def _skip_history(self, curves: dict[str, list[float]]) -> Any:
        """A History of no training, or of an earlier run's curves so the cell's following code keeps working."""
        import keras

        history = keras.callbacks.History()
        history.set_model(self.model)
        history.history = {k: list(v) for k, v in curves.items()}
        history.epoch = list(range(len(next(iter(curves.values()), []))))
        self.history = history
        return history

    def _save_weights(self, model: Any) -> None:
        """Keep the trained weights beside the journal (``--save-weights``) and note where."""
        folder = self.journal.home / "artifacts" / str(self.experiment_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "model.weights.h5"
            model.save_weights(str(path))
            self.journal.update(self.experiment_id, {"weights": str(path)})
            self.show(f"Kepler: weights of experiment {self.experiment_id} saved to {path}")
        except Exception:
            log.exception("could not save the weights of experiment %s", self.experiment_id)

    def _emit(self, findings: list[Finding], name_skipped: bool = False) -> None:
        """Show findings as the user's ``warnings`` filters say: shown, ignored, raised, or shown once.

        The filters are read, not entered (see ``warning_action``). Shown
        findings go to the fit's summary; skipped checks are recorded, and
        the summary names them. Training findings show at once where no live
        view shows them (it does, while it trains).
        """
        shown = self.summary.findings if name_skipped else self.summary.training
        for finding in findings:
            if finding.skipped:
                continue
            warning = KeplerWarning(finding)
            action = warning_action(warning)
            if action == "error":
                raise warning
            if action == "ignore" or (action == "once" and _seen_once(finding)):
                continue
            shown.append(finding)  # as with no registry: the same finding shows on every run
        if name_skipped:
            self.summary.skipped = sorted({f.code for f in findings if f.skipped})
        elif not (self.live is not None and self.live.shows_findings()):
            self.output.publish()


class _Ready:
    """A run checked, asked about and (unless the journal refused) recorded: ready to train."""

    __slots__ = ("call", "selection")

    def __init__(self, call: FitCall, selection: Selection) -> None:
        self.call, self.selection = call, selection


def _terminal_safe(show: Callable[[str], Any]) -> Callable[[str], Any]:
    """``show`` with control characters and bidi overrides in its text made visible escapes."""
    if getattr(show, "terminal_safe", False):
        return show

    def safe(text: Any, *args: Any, **kwargs: Any) -> Any:
        return show(terminal_safe(text) if isinstance(text, str) else text, *args, **kwargs)

    safe.terminal_safe = True  # type: ignore[attr-defined]
    return safe


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:300] if text.strip() else type(error).__name__


_shown_once: set[str] = set()
# The last experiment each model object (alive) trained in: a model fitted again continues it.
_last_runs: dict[int, tuple[weakref.ref, int | None]] = {}


def _seen_once(finding: Finding) -> bool:
    """True when this finding's text was shown before in this process (the ``once`` filter action)."""
    line = finding.line()
    seen = line in _shown_once
    _shown_once.add(line)
    return seen


def _live_view(inspector: ModelInspector, call: FitCall, callback: Any) -> Any:
    """The live view of this fit (a Keras callback), or None outside a notebook kernel."""
    from ..presentation.live import LiveView

    return LiveView.start(inspector, call, callback)
