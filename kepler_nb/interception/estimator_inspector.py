"""One intercepted scikit-learn estimator fit, from checks to journal record.

The flow mirrors a Keras fit's: bind the call and look at the data; run the
K7xx and data checks and show the findings; ask before fitting when some
are errors; look for the same experiment in the journal (and, for a grid
search, how many of its candidates already ran on this data); record the
run (status ``running``); fit, catching scikit-learn's warnings (shown to
the user as scikit-learn shows them, a ``ConvergenceWarning`` also becoming
K703); record how it ended, with ``cv_results_`` for a search. Scores the
cell computes afterwards are added to the record as they come.

The estimator is only read: the checks never fit it, and nothing is set on
it. Only a skipped duplicate whose fitted estimator was saved
(``--save-model``) changes it: it receives the saved fitted state, as if fitted.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks.context import CheckContext
from ..checks.estimator_results import EvaluationContext
from ..checks.finding import Finding, KeplerWarning, sort_findings
from ..checks.runner import run_checks
from ..checks.selection import Selection, load_selection, noqa_codes
from ..fit import estimator as est
from ..fit.estimator_call import (
    bind_estimator_call,
    candidate_key,
    candidate_keys,
    estimator_signature,
    fit_parameters,
    search_candidates,
)
from ..fit.fingerprint import data_statistics
from ..fit.outcome import FitOutcome, Score
from ..fit.rows import row_hashes, share_in
from ..presentation import prompts
from ..presentation.questions import Question
from ..presentation.summary import FitSummary, SummaryOutput, end_line
from . import notebook

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..journal.journal import Journal
    from ..presentation.questions import Asker
    from .estimator_routing import Watch
    from .options import RunOptions

log = logging.getLogger("kepler")

# Metrics whose value is better when lower.
LOWER_IS_BETTER = ("_error", "_loss", "_deviance")
_background: ThreadPoolExecutor | None = None


class EstimatorInspector:
    """Inspect, record and fit one scikit-learn estimator (``ModelInspector`` hands estimators to it)."""

    def __init__(
        self,
        model: Any,
        *,
        options: RunOptions,
        journal: Journal | None = None,
        show: Callable[[str], Any] = print,
        ask: Asker | None = None,
    ) -> None:
        self.model = model
        self.options = options
        self.journal = journal
        self.show = show
        self.ask: Asker = ask or functools.partial(prompts.ask, cell_answer=options.answer, show=show)
        self.findings: list[Finding] = []
        self.experiment_id: int | None = None
        self.similar: list[dict[str, Any]] = []
        self.reused = False
        self.history = None
        self.outcome = FitOutcome()
        self._context: CheckContext | None = None
        self._train_hashes: Any = None
        self._shown: set[tuple[str, str]] = set()
        self._selection = Selection()
        self._data_signature: str | None = None
        self.candidates_done = 0
        self.summary = FitSummary()  # what is said about this fit, in one place
        self.output = SummaryOutput(self.summary, show)
        self.end_line_later = False  # in a cell: the line saying what was recorded comes after the cell's scores
        self._earlier_final: dict[str, Any] | None = None  # a reused run's recorded metrics
        self.fitted = False  # True once the fit returned (False for a skipped or failed run)

    # -- the flow of one fit --------------------------------------------------------------
    def run(self, fit: Any, estimator: Any, args: tuple, kwargs: dict) -> Any:
        from .journals import shared_journal

        self.model = estimator
        try:
            journal = self.journal = self.journal or shared_journal()
        except OSError as error:
            self._unrecorded(error)
            return fit(estimator, *args, **kwargs)
        environment = _environment_soon()
        call = bind_estimator_call(fit, estimator, args, kwargs)
        options = self.options
        project = options.project or _project(options.user_ns)
        selection = load_selection(journal.home, project).merge(options.selection)
        self._selection = selection = selection.merge(Selection(ignore=noqa_codes(options.cell)))
        self._context = context = CheckContext(call)
        if options.checks:
            self.findings = run_checks(context, selection)
            self._emit(self.findings, name_skipped=True)
        self.output.publish()
        data = data_statistics(call.train)
        summary, parts = self._describe(call, project, data)
        parts["environment"] = None
        errors = [f for f in self.findings if f.severity == "error" and not f.skipped]
        if errors:
            question = Question(
                f"{len(errors)} check{'s' if len(errors) > 1 else ''} failed with errors "
                f"({', '.join(f.code for f in errors)}). Fit anyway?",
                continue_label="Fit anyway",
                skip_label="Stop",
            )
            if not self.ask(question).train:
                return self._skip(summary, parts, "stopped before fitting: " + question.text)
        skipped = self._before_fitting(call, summary, parts)
        if skipped is not None:
            return skipped
        summary["status"] = "running"
        try:
            self.experiment_id = journal.start(summary, parts)
        except OSError as error:
            self._unrecorded(error)
            return fit(estimator, *args, **kwargs)
        self._train_hashes = row_hashes(call.arguments.get("x"))
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fit(estimator, *args, **kwargs)
        except BaseException as error:
            self.outcome.seconds = time.perf_counter() - start
            _replay(caught)
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            self._finish(status, environment, error=_error_summary(error))
            self.output.close()
            self.show(self.end_line(status))
            raise
        self.outcome.seconds = time.perf_counter() - start
        self.outcome.convergence_warnings = [
            str(w.message) for w in caught if type(w.message).__name__ == "ConvergenceWarning"
        ]
        _replay(caught)
        self.fitted = True
        self._finish("finished", environment)
        if options.save_model:
            self._save_model()
        if not self.end_line_later:
            self.end()
        return result

    def end(self) -> None:
        """The run is over (its fit, or the cell that scored it): close its summary, say what was recorded."""
        self.output.close()
        if self.fitted and self.experiment_id is not None:
            self.show(self.end_line("finished"))

    def end_line(self, status: str) -> str:
        """``Kepler: experiment 5 finished: SVC fitted in 0.02 s; val_accuracy 0.958``."""
        done = f"{type(self.model).__name__} {'fitted' if status == 'finished' else 'stopped'}"
        return end_line(self.experiment_id, status, done, self.outcome.seconds or 0.0, self.metrics)

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Fit ``model`` as ``model.fit(*args, **kwargs)`` would, inspected and recorded."""
        return self.run(type(self.model).fit, self.model, args, kwargs)

    # -- the record ----------------------------------------------------------------------------
    def _describe(self, call: Any, project: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        estimator, options = call.model, self.options
        description = est.describe_estimator(estimator)
        path = notebook.notebook_path(options.user_ns)
        inputs = notebook.kernel_history(options.user_ns)
        summary = {
            "project": project,
            "name": options.name or _short_name(estimator, description),
            "tags": list(options.tags),
            "hypothesis": options.hypothesis,
            "notebook_path": path,
            "framework": description["framework"],
            "framework_version": description["framework_version"],
            "model_class": description["class"],
            "estimator": description["estimator"],
            "estimators": description["classes"],
            "kind": description["kind"],
            "architecture": description["architecture"],
            "params": est.hyperparameters(estimator),
            "n_samples": data.get("n_samples"),
            "n_features": data.get("n_features"),
            "data_fingerprint": data.get("fingerprint"),
            "findings": _counts(self.findings),
            "codes": sorted({f.code for f in self.findings if not f.skipped}),
        }
        summary.update({k: v for k, v in options.extra.items()})
        parts = {
            "estimator_description": description,
            "fit": fit_parameters(call),
            "data": data,
            "findings": [f.to_dict() for f in self.findings],
            "cell": options.cell,
            "notebook": notebook.saved_notebook(path),
            "inputs": notebook.history_notebook(inputs) if inputs else None,
        }
        return summary, parts

    def _finish(self, status: str, environment: Future, error: str | None = None) -> None:
        estimator = self.model
        if status == "finished" and self.options.checks:
            after = self._evaluate()
            self._emit(after)
            self.findings = sort_findings(self.findings + after)
        facts = est.fitted_facts(estimator) if status == "finished" else {}
        candidates = est.cv_candidates(estimator) if status == "finished" else []
        summary: dict[str, Any] = {
            "status": status,
            "finished": _now(),
            "fit_seconds": round(self.outcome.seconds or 0.0, 4),
            "epochs_done": 0,
            "findings": _counts(self.findings),
            "codes": sorted({f.code for f in self.findings if not f.skipped}),
            "final": self._metrics(facts),
        }
        if "best_params" in facts:
            summary["best_params"] = facts["best_params"]
        if candidates:
            summary["n_candidates"] = len(candidates)
            data_signature = self._data_signature
            summary["candidate_keys"] = candidate_keys(estimator, data_signature, [c["params"] for c in candidates])[
                :5000
            ]
        if error:
            summary["error"] = error
        parts: dict[str, Any] = {
            "findings": [f.to_dict() for f in self.findings],
            "fitted": facts,
            "scores": [s.to_dict() for s in self.outcome.scores],
            "environment": _result(environment),
        }
        if candidates:
            parts["cv_results"] = candidates
        try:
            self.journal.update(self.experiment_id, summary, parts)
        except Exception:
            log.exception("could not record the end of experiment %s", self.experiment_id)

    @property
    def metrics(self) -> dict[str, float]:
        """The run's numbers: cross-validation and out-of-bag scores, and every score computed after the fit."""
        if self._earlier_final is not None:
            return self._earlier_final
        return self._metrics(est.fitted_facts(self.model)) if self.fitted or self.reused else {}

    def _metrics(self, facts: dict[str, Any]) -> dict[str, float]:
        final: dict[str, float] = {}
        if facts.get("best_score") is not None:
            final["cv_score"] = facts["best_score"]
        if facts.get("oob_score") is not None:
            final["oob_score"] = facts["oob_score"]
        # Named as Keras names them, so runs of both compare: "accuracy" on the training rows,
        # "val_accuracy" on rows the estimator did not train on.
        for score in self.outcome.scores:
            final[score.metric if score.on_training_data else f"val_{score.metric}"] = score.value
        return final

    # -- scores computed after the fit ---------------------------------------------------------------
    def scored(self, source: str, value: Any, x: Any, y: Any, watch: Watch) -> None:
        """The cell computed ``value`` (``score`` or a metrics function) on rows ``x``: record it, check it."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        try:
            score = self._score(source, number, x, y, watch)
        except Exception:
            log.exception("could not describe a score")
            return
        self.outcome.scores.append(score)
        if self.experiment_id is None or self.journal is None:
            return
        new: list[Finding] = []
        if self.options.checks and self._context is not None:
            known = {(f.code, f.message) for f in self.findings}
            new = [f for f in self._evaluate() if (f.code, f.message) not in known and not f.skipped]
            self._emit(new)
            self.findings = sort_findings(self.findings + new)
        try:
            self.journal.update(
                self.experiment_id,
                {
                    "final": self._metrics(est.fitted_facts(self.model)),
                    "findings": _counts(self.findings),
                    "codes": sorted({f.code for f in self.findings if not f.skipped}),
                },
                {
                    "scores": [s.to_dict() for s in self.outcome.scores],
                    "findings": [f.to_dict() for f in self.findings],
                },
            )
        except Exception:
            log.exception("could not record a score of experiment %s", self.experiment_id)

    def _score(self, source: str, value: float, x: Any, y: Any, watch: Watch) -> Score:
        from ..fit.data import view_arrays
        from ..fit.fingerprint import fingerprint

        metric = source
        if source == "score":
            kind = est.kind(self.model)
            scoring = est.flat_params(self.model).get("scoring")
            metric = (
                scoring
                if isinstance(scoring, str)
                else {"classifier": "accuracy", "regressor": "r2"}.get(kind, "score")
            )
        hashes = row_hashes(x)
        view = view_arrays(x, y)
        on_training = (
            hashes is not None
            and self._train_hashes is not None
            and len(hashes) == len(self._train_hashes)
            and bool(np.array_equal(hashes, self._train_hashes))
        )
        seen_by, seen_share = None, 0.0
        for name, known in [*watch.leaked_rows, *watch.seen_rows]:
            share = share_in(hashes, known)
            if share > seen_share:
                seen_by, seen_share = name, share
        if seen_share and self._train_hashes is not None and share_in(hashes, self._train_hashes) > 0.5:
            seen_by, seen_share = None, 0.0  # the model trained on these rows too: not a split
        baseline = _baseline(metric, y)
        return Score(
            metric=metric,
            value=value,
            source=source,
            data_fingerprint=fingerprint(view),
            n_rows=view.n_samples,
            on_training_data=on_training,
            baseline=baseline,
            higher_is_better=not metric.endswith(LOWER_IS_BETTER),
            seen_by=seen_by,
            seen_share=round(seen_share, 4),
        )

    def _evaluate(self) -> list[Finding]:
        context = EvaluationContext(self._context, self.outcome)
        return run_checks(context, self._selection, stages=("evaluation",))

    # -- earlier runs ------------------------------------------------------------------------------
    def _before_fitting(self, call: Any, summary: dict[str, Any], parts: dict[str, Any]) -> Any:
        """Sign the run; say what already ran (a duplicate, candidates of a grid); maybe skip."""
        options = self.options
        try:
            signature = estimator_signature(call, parts.get("data") or {})
            summary.update(signature.summary_fields())
            self._data_signature = signature.data
            summary["candidate_key"] = candidate_key(est.hyperparameters(call.model), signature.data)
            if options.duplicates == "off":
                return None
            found = self.journal.lookup(summary, k=5)
        except Exception:
            log.exception("could not look for earlier runs like this one")
            return None
        self.similar = [m.to_dict() for m in found.similar if m.experiment.get("framework") == summary["framework"]]
        if est.is_search(call.model):
            self._candidates_already_run(call.model, signature.data)
        if found.duplicate is not None:
            return self._duplicate(found.duplicate, summary, parts)
        return None

    def _candidates_already_run(self, search: Any, data_signature: str | None) -> None:
        candidates = search_candidates(search)
        if not candidates or data_signature is None:
            return
        keys = candidate_keys(search, data_signature, candidates)
        earlier: dict[str, int] = {}
        for doc in self.journal.experiments():
            if doc.get("status") != "finished":
                continue
            for key in [doc.get("candidate_key"), *(doc.get("candidate_keys") or [])]:
                if key:
                    earlier.setdefault(key, doc["id"])
        done = [(c, earlier[k]) for c, k in zip(candidates, keys) if k in earlier]
        if done:
            ids = ", ".join(str(i) for i in sorted({i for _c, i in done}))
            examples = "; ".join(", ".join(f"{k}={v!r}" for k, v in c.items()) for c, _i in done[:3])
            self.show(
                f"Kepler: {len(done)} of the {len(candidates)} candidates of this search already ran on the same "
                f"data (experiment {ids}): {examples}{' ...' if len(done) > 3 else ''}."
            )
        self.candidates_done = len(done)

    def _duplicate(self, earlier: dict[str, Any], summary: dict[str, Any], parts: dict[str, Any]) -> Any:
        from ..presentation.similar import duplicate_text

        text = duplicate_text(earlier)
        saved = earlier.get("model_path")
        question = Question(
            f"{text} Fit it again?",
            continue_label="Fit again",
            skip_label="Skip (reuse the saved fitted estimator)",
            default="continue",
        )
        if self.options.duplicates != "reuse":
            answer = self.ask(question)
            if answer.train:
                return None
        if (not saved or not Path(saved).exists()) and self.options.duplicates == "reuse":
            # A grid resuming: the recorded result stands; the estimator stays unfitted, as nothing was saved.
            self.experiment_id, self.reused, self._earlier_final = earlier["id"], True, dict(earlier.get("final") or {})
            self.show(f"Kepler: {text} Its result is reused; nothing fitted.")
            return self.model
        if not saved or not Path(saved).exists():
            self.show(
                f"Kepler: experiment {earlier['id']}'s fitted estimator was not saved (fit with --save-model to "
                "keep it), so this one is fitted again."
            )
            return None
        import joblib

        fitted = joblib.load(saved)
        if type(fitted) is not type(self.model):
            self.show(
                f"Kepler: the saved estimator is a {type(fitted).__name__}, not a {type(self.model).__name__}; fitting."
            )
            return None
        self.model.__dict__.update(fitted.__dict__)
        self.reused, self._earlier_final = True, dict(earlier.get("final") or {})
        self.show(f"Kepler: not fitted; the fitted estimator of experiment {earlier['id']} is reused ({saved}).")
        self._skip(summary, parts, f"the same experiment as {earlier['id']}", {"duplicate_of": earlier["id"]})
        return self.model

    def _skip(
        self, summary: dict[str, Any], parts: dict[str, Any], reason: str, link: dict[str, Any] | None = None
    ) -> Any:
        summary.update(status="skipped", finished=_now(), reason=reason, epochs_done=0, **(link or {}))
        self.experiment_id = self.journal.start(summary, parts)
        if not self.reused:
            self.show(f"Kepler: not fitted; recorded as experiment {self.experiment_id} (skipped).")
        return self.model

    def _save_model(self) -> None:
        import joblib

        folder = self.journal.home / "artifacts" / str(self.experiment_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "model.joblib"
            joblib.dump(self.model, path)
            self.journal.update(self.experiment_id, {"model_path": str(path)})
        except Exception as error:  # noqa: BLE001 - a model that can't be pickled is still fitted
            self.show(f"Kepler: the fitted estimator could not be saved ({type(error).__name__}: {error}).")

    # -- showing ----------------------------------------------------------------------------------
    def _unrecorded(self, error: OSError) -> None:
        self.show(
            f"Kepler: this run can't be recorded ({error}), so it fits unrecorded. "
            "Point KEPLER_HOME at a writable folder to record the next ones."
        )

    def _emit(self, findings: list[Finding], name_skipped: bool = False) -> None:
        """Findings through the user's ``warnings`` filters into the fit's summary (checks after the fit: shown)."""
        shown = self.summary.findings if name_skipped else self.summary.training
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, *args, **kwargs: shown.append(message.finding)
            for finding in findings:
                if not finding.skipped:
                    warnings.warn_explicit(KeplerWarning(finding), KeplerWarning, "kepler", 0, module="kepler")
        if name_skipped:
            self.summary.skipped = sorted({f.code for f in findings if f.skipped})
        else:
            self.output.publish()


def _short_name(estimator: Any, description: dict[str, Any]) -> str:
    if est.is_search(estimator):
        return f"{description['class']}({description['estimator']})"
    line = description["architecture"]
    return line if len(line) <= 80 else line[:77] + "..."


def _replay(caught: list[warnings.WarningMessage]) -> None:
    """Show the warnings the fit raised, through the user's filters, as they would have been shown."""
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _baseline(metric: str, y: Any) -> float | None:
    """What a trivial model scores on targets ``y`` for ``metric``, when known."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1 or not len(y):
        return None
    if metric in ("accuracy", "accuracy_score"):
        _values, counts = np.unique(y, return_counts=True)
        return float(counts.max() / len(y))
    if metric in ("balanced_accuracy", "balanced_accuracy_score"):
        return 1.0 / len(np.unique(y))
    if metric in ("r2", "r2_score", "explained_variance_score"):
        return 0.0
    if metric in ("roc_auc", "roc_auc_score"):
        return 0.5
    if metric == "mean_squared_error" and y.dtype.kind in "biuf":
        return float(np.var(y))
    return None


def _environment_soon() -> Future:
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kepler-environment")
    return _background.submit(estimator_environment)


def estimator_environment() -> dict[str, Any]:
    """Versions (those of the libraries already imported), host, working directory and git state."""
    versions = {}
    for name in ("sklearn", "numpy", "scipy", "pandas", "xgboost", "lightgbm", "keras", "tensorflow"):
        module = sys.modules.get(name)
        if module is not None:
            versions["scikit-learn" if name == "sklearn" else name] = getattr(module, "__version__", None)
    env: dict[str, Any] = {
        "python": platform.python_version(),
        **versions,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "executable": sys.executable,
        "cwd": os.getcwd(),
    }
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        env["git_commit"] = done.stdout.strip() if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        env["git_commit"] = None
    return env


def _result(future: Future) -> Any:
    try:
        return future.result(timeout=10)
    except Exception:  # noqa: BLE001 - an environment we can't describe is left out
        return None


def _project(user_ns: dict[str, Any]) -> str:
    path = notebook.notebook_path(user_ns)
    return Path(path).stem if path else "default"


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        if not f.skipped:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def _error_summary(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
