"""ModelInspector: one intercepted fit, from checks to journal record.

The flow of a fit: bind its arguments and look at its data; run the
pre-training checks and show the findings; ask before training when some are
errors; record the experiment (status ``running``); train, with a callback
that appends each epoch and runs the training checks; record how it ended.
The model is only ever read: checks never change weights, optimizer state or
random state.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks.context import CheckContext
from ..checks.finding import Finding, KeplerWarning, sort_findings
from ..checks.runner import run_checks
from ..checks.selection import Selection, load_selection, noqa_codes
from ..checks.training import TrainingContext
from ..fit.call import FitCall
from ..fit.environment import describe_environment_soon
from ..fit.fingerprint import data_statistics
from ..fit.model import describe_compile, describe_layers, model_config, model_summary
from ..journal.journal import Journal
from ..presentation.prompts import Question, ask
from ..presentation.text import format_finding
from . import notebook

log = logging.getLogger("kepler")


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
    extra: dict[str, Any] = field(default_factory=dict)  # more summary fields (a grid's parameters)


class ModelInspector:
    """Inspect, record and train one model.

    ```python
    with ModelInspector(model=model, project="digits") as mi:
        history = mi.fit(x, y, epochs=5)
    mi.findings, mi.experiment_id
    ```
    """

    def __init__(
        self,
        model: Any = None,
        project: str | None = None,
        name: str | None = None,
        *,
        options: RunOptions | None = None,
        journal: Journal | None = None,
        show: Any = print,
    ) -> None:
        self.model = model
        self.options = options or RunOptions()
        self.options.project = project or self.options.project
        self.options.name = name or self.options.name
        self.journal = journal
        self.show = show
        self.findings: list[Finding] = []
        self.experiment_id: int | None = None
        self.history: Any = None
        self.similar: list[dict[str, Any]] = []  # earlier runs like this one, for live views
        self.reused = False  # True when an earlier run's result was returned instead of training

    def __enter__(self) -> ModelInspector:
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        return False

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Train ``model`` as ``model.fit(*args, **kwargs)`` would, inspected and recorded."""
        if self.model is None:
            raise ValueError("ModelInspector(model=...) needs the model to train; pass model=your_model")
        from .routing import original_fit

        return self.run(original_fit(), self.model, args, kwargs)

    # -- the flow of one fit ----------------------------------------------------
    def run(self, fit: Any, model: Any, args: tuple, kwargs: dict) -> Any:
        self.model = model
        try:
            journal = self.journal = self.journal or shared_journal()
        except OSError as error:  # no journal: the training still happens
            self._unrecorded(error)
            return fit(model, *args, **kwargs)
        self._environment = describe_environment_soon()  # its git calls overlap the checks
        call = FitCall.bind(fit, model, args, kwargs)
        options = self.options
        project = options.project or _default_project(options.user_ns)
        selection = load_selection(journal.home, project).merge(options.selection)
        selection = selection.merge(Selection(ignore=noqa_codes(options.cell)))

        log.info("fit of %s intercepted (project %s, %s data)", type(model).__name__, project, call.train.kind)
        if options.checks:
            from ..checks.environment import similar_experiments  # K502/K503 compare with it

            context = CheckContext(call, history=similar_experiments(journal, project, model))
            self.findings = run_checks(context, selection)
            log.info("pre-training findings: %s", [f"{f.code}:{f.severity}" for f in self.findings] or "none")
            self._emit(self.findings, name_skipped=True)

        summary, parts = self._describe(call, project)
        errors = [f for f in self.findings if f.severity == "error" and not f.skipped]
        if errors:
            question = Question(
                f"{len(errors)} check{'s' if len(errors) > 1 else ''} failed with errors "
                f"({', '.join(f.code for f in errors)}). Train anyway?",
                continue_label="Train anyway",
                skip_label="Stop",
            )
            answer = ask(question, options.answer, self.show)
            log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
            if not answer.train:
                return self._skip(summary, parts, reason="stopped before training: " + question.text)

        earlier = self._before_training(call, summary, parts)
        if earlier is not None:
            return earlier

        summary["status"] = "running"
        try:
            self.experiment_id = journal.start(summary, parts)
        except OSError as error:
            self._unrecorded(error)
            return call.call_fit(fit, [])
        callback = self._callback(call, selection)
        live = _live_view(self, call, callback)  # curves and progress in the notebook
        try:
            self.history = call.call_fit(fit, [callback] + ([live] if live else []))
        except BaseException as error:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            self._finish(model, callback, status, error=_error_summary(error))
            if live:
                live.end(status)
            raise
        self._finish(model, callback, "finished")
        if live:
            live.end("finished")
        if options.save_weights:
            self._save_weights(model)
        return self.history

    def _unrecorded(self, error: OSError) -> None:
        log.error("journal not writable, run not recorded: %s", error)
        self.show(
            f"Kepler: this run can't be recorded ({error}), so it trains unrecorded. "
            "Point KEPLER_HOME at a writable folder to record the next ones."
        )

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

    def _finish(self, model: Any, callback: Any, status: str, error: str | None = None) -> None:
        self.findings = sort_findings(self.findings + callback.findings)
        history = self.journal.history(self.experiment_id)
        layers = describe_layers(model)  # built by now: parameter counts are known
        summary = {
            "status": status,
            "finished": _now(),
            "epochs_done": len(next(iter(history.values()), [])),
            "final": {k: v[-1] for k, v in history.items() if v},
            "n_params": sum(row["params"] for row in layers),
            "architecture": model_summary(layers),
            "findings": _counts(self.findings),
            "codes": sorted({f.code for f in self.findings if not f.skipped}),
        }
        if error:
            summary["error"] = error
        parts = {
            "layers": layers,
            "model_config": model_config(model),
            "findings": [f.to_dict() for f in self.findings],
        }
        try:
            self.journal.update(self.experiment_id, summary, parts)
            log.info("experiment %s %s after %d epochs", self.experiment_id, status, summary["epochs_done"])
        except Exception:
            log.exception("could not record the end of experiment %s", self.experiment_id)

    def _skip(
        self,
        summary: dict[str, Any],
        parts: dict[str, Any],
        reason: str,
        link: dict[str, Any] | None = None,
        curves: dict[str, list[float]] | None = None,
    ) -> Any:
        summary.update(status="skipped", finished=_now(), reason=reason, epochs_done=0, **(link or {}))
        self.experiment_id = self.journal.start(summary, parts)
        self.show(f"Kepler: not trained; recorded as experiment {self.experiment_id} (skipped).")
        return self._skip_history(curves or {})

    # -- earlier runs like this one ------------------------------------------------------
    def _before_training(self, call: FitCall, summary: dict[str, Any], parts: dict[str, Any]) -> Any:
        """Sign the run; on a duplicate or similar earlier runs, say so and maybe ask.

        Returns a History when the run is not to be trained, else None. The
        signature fields go into ``summary`` either way.
        """
        from ..fit.signature import run_signature

        options = self.options
        try:
            summary.update(run_signature(call, parts.get("data") or {}).summary_fields())
            summary.update(options.extra)
            if options.duplicates == "off" and not options.similar:
                return None
            found = self.journal.lookup(summary, k=SIMILAR_SHOWN)
        except Exception:
            log.exception("could not look for earlier runs like this one")
            return None
        self.similar = [m.to_dict() for m in found.similar]
        if found.duplicate is not None and options.duplicates != "off":
            return self._duplicate(found.duplicate, summary, parts)
        if self.similar and options.similar and not self._similar_answer(summary, parts):
            ids = ", ".join(str(m["id"]) for m in self.similar)
            return self._skip(summary, parts, reason=f"cancelled after seeing similar experiments {ids}")
        if found.transfer is not None and options.similar:
            from ..presentation.similar import transfer_text

            self.show("Kepler: " + transfer_text(found.transfer))
        return None

    def _duplicate(self, earlier: dict[str, Any], summary: dict[str, Any], parts: dict[str, Any]) -> Any:
        """The same experiment ran before: run again (the default), or return its History."""
        from ..presentation.similar import duplicate_text

        text = duplicate_text(earlier)
        curves = self.journal.history(earlier["id"])
        log.info("experiment %s is a duplicate of %s", summary.get("signature"), earlier["id"])
        if self.options.duplicates == "reuse":
            self.show(f"Kepler: {text} Its result is reused; nothing trained.")
            self.experiment_id, self.reused = earlier["id"], True
            return self._skip_history(curves)
        question = Question(
            f"{text} Run it again?",
            continue_label="Run again",
            skip_label="Skip (reuse its result)",
            default="continue",
        )
        answer = ask(question, self.options.answer, self.show)
        log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
        if answer.train:
            return None
        return self._skip(
            summary,
            parts,
            reason=f"the same experiment as {earlier['id']}",
            link={"duplicate_of": earlier["id"]},
            curves=curves,
        )

    def _skip_history(self, curves: dict[str, list[float]]) -> Any:
        """A History of no training, or of an earlier run's curves so the cell's following code keeps working."""
        import keras

        history = keras.callbacks.History()
        history.set_model(self.model)
        history.history = {k: list(v) for k, v in curves.items()}
        history.epoch = list(range(len(next(iter(curves.values()), []))))
        self.history = history
        return history

    def _similar_answer(self, summary: dict[str, Any], parts: dict[str, Any]) -> bool:
        """Show the similar runs; ask to continue (True), cancel, or see their curves first."""
        from ..presentation import similar as text

        matches = self.similar
        histories = {m["id"]: self.journal.history(m["id"]) for m in matches}
        heading = text.similar_heading(matches)
        self.show(f"Kepler: {heading}:\n{text.format_similar(matches, histories)}\n  {text.tensorboard_hint(matches)}")
        # A terminal prompt would print the table a second time under the one just shown.
        rows = [] if _terminal() else text.similar_rows(matches, histories)
        show_choice = {"show": "Show their curves"}
        while True:
            question = _question(
                f"{heading}. Continue training?",
                continue_label="Continue",
                skip_label="Cancel",
                details=rows,
                columns=text.COLUMNS,
                extra_choices=show_choice,
            )
            answer = ask(question, self.options.answer, self.show)
            log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
            if answer.choice != "show":
                return answer.train
            text.show_curves(self.journal, matches, show=self.show)
            show_choice = {}

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

    # -- describing the run -----------------------------------------------------------
    def _describe(self, call: FitCall, project: str) -> tuple[dict[str, Any], dict[str, Any]]:
        model, options = call.model, self.options
        layers = describe_layers(model)
        compile_info = describe_compile(model)
        data = data_statistics(call.train)
        if call.validation is not None:
            data["validation"] = data_statistics(call.validation)
        path = notebook.notebook_path(options.user_ns)
        inputs = notebook.kernel_history(options.user_ns)
        summary = {
            "project": project,
            "name": options.name or getattr(model, "name", None) or type(model).__name__,
            "tags": list(options.tags),
            "hypothesis": options.hypothesis,
            "notebook_path": path,
            "model_class": type(model).__name__,
            "architecture": model_summary(layers),
            "n_layers": len(layers),
            "n_params": sum(row["params"] for row in layers),
            "optimizer": compile_info["optimizer"],
            "learning_rate": compile_info["learning_rate"],
            "loss": compile_info["loss"] if isinstance(compile_info["loss"], str) else str(compile_info["loss"]),
            "epochs": call["epochs"],
            "batch_size": call["batch_size"],
            "n_samples": data.get("n_samples"),
            "data_fingerprint": data.get("fingerprint"),
            "findings": _counts(self.findings),
            "codes": sorted({f.code for f in self.findings if not f.skipped}),
        }
        parts = {
            "model_config": model_config(model),
            "layers": layers,
            "compile": compile_info,
            "fit": call.parameters(),
            "data": data,
            "findings": [f.to_dict() for f in self.findings],
            "cell": options.cell,
            "notebook": notebook.saved_notebook(path),
            "inputs": notebook.history_notebook(inputs) if inputs else None,
            "environment": self._environment.result(),
        }
        return summary, parts

    def _emit(self, findings: list[Finding], name_skipped: bool = False) -> None:
        """Show findings through ``warnings``, so the user's filters apply.

        Skipped checks are recorded, not shown one by one: a line names them.
        """
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, *args, **kwargs: self.show(format_finding(message.finding))
            for finding in findings:
                if not finding.skipped:
                    # warn_explicit with no registry: the same finding shows on every run.
                    warnings.warn_explicit(KeplerWarning(finding), KeplerWarning, "kepler", 0, module="kepler")
        skipped = sorted({f.code for f in findings if f.skipped})
        if skipped and name_skipped:
            checks = "check" if len(skipped) == 1 else "checks"
            self.show(f"Kepler: {len(skipped)} {checks} skipped ({', '.join(skipped)}); `%kepler findings` says why.")


# Similar runs shown before training, at most.
SIMILAR_SHOWN = 5
_journals: dict[Path, Journal] = {}


def shared_journal() -> Journal:
    """One open Journal per journal folder in this process: it rereads only what other kernels appended."""
    from ..journal.home import kepler_home

    home = kepler_home(None).resolve()
    if home not in _journals:
        _journals[home] = Journal(home)
    return _journals[home]


def _live_view(inspector: ModelInspector, call: FitCall, callback: Any) -> Any:
    """The live view of this fit (a Keras callback), or None outside a notebook kernel."""
    from ..presentation.live import LiveView

    return LiveView.start(inspector, call, callback)


def _terminal() -> bool:
    try:
        from ..presentation.frontend import is_terminal
    except ImportError:  # pragma: no cover - an older presentation layer
        return False
    return is_terminal()


def _question(text: str, **kwargs: Any) -> Question:
    """A Question with the details and extra choices this version of Question supports."""
    supported = getattr(Question, "__dataclass_fields__", {})
    return Question(text, **{k: v for k, v in kwargs.items() if k in supported})


def _default_project(user_ns: dict[str, Any]) -> str:
    path = notebook.notebook_path(user_ns)
    return Path(path).stem if path else "default"


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        if not f.skipped:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def _error_summary(error: BaseException) -> str:
    lines = traceback.format_exception_only(type(error), error)
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    return "".join(lines).strip() + (f" (at {where})" if where else "")


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
