"""The one question before a fit trains: errors found, earlier runs like this one, or both.

The journal is asked for runs like this one (by signature and similarity),
then at most one question is asked, about what matters most:

1. the same experiment ran before: the user may not want to train at all;
   run it again (the default) or reuse its result (grids resuming reuse it
   without asking);
2. similar models ran before: continue (the default), cancel, or see their
   curves first;
3. neither: errors the pre-training checks found, train anyway (the
   default) or stop.

Errors found are merged into the question about earlier runs ("1 check
failed with errors (K201) · This exact experiment ran 2 min ago ... Train
anyway?"), so the answer covers both and the output never contradicts
itself. In a cell that fits in a loop, a question on the same topic is
asked once: the answer holds for the cell's later fits (``CellAnswers``),
and similar runs this very cell recorded are no reason to ask. A model that
may already exist under another project: said, not asked. The outcome is a
``Verdict``; the inspector records and trains (or not) accordingly.
Questions go through the ``Asker`` the inspector is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..presentation import similar as text
from ..presentation.questions import WAIT_DUPLICATE, WAIT_ERRORS, WAIT_SIMILAR, Answer, Question, answer_line

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..checks.finding import Finding
    from ..journal.journal import Journal
    from ..presentation.questions import Asker
    from .options import RunOptions

log = logging.getLogger("kepler")

# Similar runs shown before training, at most.
SIMILAR_SHOWN = 5


@dataclass(frozen=True)
class Verdict:
    """What the conversation decided.

    ``train`` False: don't train, and return a History of ``curves``; the
    run is recorded as skipped with ``reason`` and ``link``, unless
    ``reused`` names the earlier run whose result is reused unrecorded.
    """

    train: bool = True
    reason: str = ""
    link: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    reused: int | None = None


TRAIN = Verdict()


def errors_text(errors: Sequence[Finding]) -> str:
    """``1 check failed with errors (K201)``: the errors part of a question."""
    count = len(errors)
    return f"{count} check{'s' if count > 1 else ''} failed with errors ({', '.join(f.code for f in errors)})"


class EarlierRuns:
    """Looks up earlier runs like one about to train, says what was found, and asks one question at most."""

    def __init__(self, journal: Journal, options: RunOptions, ask: Asker, show: Callable[[str], Any]) -> None:
        self.journal = journal
        self.options = options
        self.ask = ask
        self.show = show
        self.similar: list[dict[str, Any]] = []  # earlier runs like this one, for live views
        self.errors: list[Finding] = []

    def consider(self, summary: dict[str, Any] | None, errors: Sequence[Finding] = ()) -> Verdict:
        """Look up runs like ``summary`` (a signed summary, or None when it can't be signed); ask once.

        ``errors`` are the pre-training findings of severity error: asked
        about alone, or merged into the question about earlier runs.
        """
        self.errors = list(errors)
        self.options.answers.fits += 1
        verdict = self._about_earlier_runs(summary) if summary is not None else None
        if verdict is not None:
            return verdict
        if not self.errors:
            return TRAIN
        question = Question(
            f"{errors_text(self.errors)}. Train anyway?",
            continue_label="Train anyway",
            skip_label="Stop",
            kind="error",
            wait=WAIT_ERRORS,
        )
        if self._asked(question, self._topic()).train:
            return TRAIN
        return Verdict(train=False, reason="stopped before training: " + question.text)

    def _about_earlier_runs(self, summary: dict[str, Any]) -> Verdict | None:
        """The Verdict of the question about earlier runs, or None when there is none to ask."""
        options = self.options
        if options.duplicates == "off" and not options.similar:
            return None
        try:
            found = self.journal.lookup(summary, k=SIMILAR_SHOWN)
        except Exception:
            log.exception("could not look for earlier runs like this one")
            return None
        self.similar = [m.to_dict() for m in found.similar]
        if found.duplicate is not None and options.duplicates != "off":
            return self._duplicate(found.duplicate, summary)
        verdict = self._ask_team(summary)
        if verdict is not None:
            return verdict
        news = [m for m in self.similar if m.get("id") not in options.answers.recorded]
        asked = bool(news and options.similar)
        if asked:
            verdict = self._similar(news)
            if not verdict.train:
                return verdict
        if found.transfer is not None and options.similar:
            self.show("Kepler: " + text.transfer_text(found.transfer))
        return TRAIN if asked or not self.errors else None

    def _topic(self, *about: str) -> str:
        """What a question is about, so the same question later in the cell takes the same answer."""
        parts = list(about)
        if self.errors:
            parts.insert(0, "errors " + ",".join(sorted({f.code for f in self.errors})))
        return " + ".join(parts)

    def _asked(self, question: Question, topic: str) -> Answer:
        """The cell's earlier answer on ``topic`` (one line says so), else the question asked."""
        answers = self.options.answers
        held = answers.held(topic)
        if held is not None:
            self.show(answer_line(question, held))
            return held
        if answers.fits > 1:  # a cell fitting in a loop: say the answer will hold
            question = _replace(question, title="Kepler · the answer holds for this cell's later fits")
        answer = self.ask(question)
        log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
        answers.remember(topic, answer)
        return answer

    def _question(
        self, said: str, alone: str, continue_label: str, skip_label: str, wait: float, **kw: Any
    ) -> Question:
        """The question about earlier runs, with the errors found merged in when there are some."""
        if not self.errors:
            return Question(f"{said} {alone}", continue_label=continue_label, skip_label=skip_label, wait=wait, **kw)
        return Question(
            f"{errors_text(self.errors)} · {said} Train anyway?",
            continue_label="Train anyway",
            skip_label=skip_label,
            kind="error",
            wait=max(wait, WAIT_ERRORS),
            **kw,
        )

    def _ask_team(self, summary: dict[str, Any]) -> Verdict | None:
        """With a team server configured: teammates' runs like this one (bounded); a Verdict if one is a duplicate."""
        from ..journal import team
        from ..journal.similarity import lookup

        try:
            server = team.configured_server(self.journal.home)
            if not server:
                return None
            home = self.journal.home
            found = team.team_runs(
                server, summary, own_journal=team.journal_identity(home), budget=team.lookup_budget(home)
            )
        except Exception:
            log.exception("could not ask the team server about earlier runs")
            return None
        log.info("team lookup on %s: %d runs in %.0f ms", server, len(found.runs), found.seconds * 1000)
        if found.note:
            self.show("Kepler: " + found.note)
            return None
        matches = lookup(found.runs, summary, k=SIMILAR_SHOWN)
        if matches.duplicate is not None and self.options.duplicates == "ask":
            return self._team_duplicate(server, matches.duplicate)
        similar = [m.to_dict() for m in matches.similar]
        if similar and self.options.similar:
            self.show("Kepler: " + text.team_similar_text(similar))
        return None

    def _team_duplicate(self, server: str, run: dict[str, Any]) -> Verdict:
        """A teammate ran this very experiment: run it again (the default), or take their curves."""
        from ..journal import team

        said = text.team_duplicate_text(run)
        log.info("experiment %s is a duplicate of MLflow run %s", run.get("signature"), run.get("mlflow_run"))
        question = self._question(said, "Run it again?", "Run again", "Skip (reuse its result)", WAIT_DUPLICATE)
        if self._asked(question, self._topic("duplicate")).train:
            return TRAIN
        curves = team.run_history(server, run["mlflow_run"], (run.get("final") or {}).keys())
        return Verdict(
            train=False,
            reason=f"the same experiment as MLflow run {run['mlflow_run']} ({run.get('user')} on {run.get('host')})",
            link={"duplicate_of_mlflow_run": run["mlflow_run"]},
            curves=curves,
        )

    def _duplicate(self, earlier: dict[str, Any], summary: dict[str, Any]) -> Verdict:
        """The same experiment ran before: run again (the default), or return its History."""
        said = text.duplicate_text(earlier)
        curves = self.journal.history(earlier["id"])
        log.info("experiment %s is a duplicate of %s", summary.get("signature"), earlier["id"])
        if self.options.duplicates == "reuse":
            self.show(f"Kepler: {said} Its result is reused; nothing trained.")
            return Verdict(train=False, curves=curves, reused=earlier["id"])
        question = self._question(said, "Run it again?", "Run again", "Skip (reuse its result)", WAIT_DUPLICATE)
        if self._asked(question, self._topic("duplicate")).train:
            return TRAIN
        return Verdict(
            train=False,
            reason=f"the same experiment as {earlier['id']}",
            link={"duplicate_of": earlier["id"]},
            curves=curves,
        )

    def _similar(self, matches: list[dict[str, Any]]) -> Verdict:
        """Show the similar runs; ask to continue, cancel, or see their curves first (then ask again)."""
        histories = {m["id"]: self.journal.history(m["id"]) for m in matches}
        heading = text.similar_heading(matches)
        rows = text.similar_rows(matches, histories)  # shown once: in the dialog, or under the answer's line
        show_choice = {"show": "Show their curves"}
        topic = self._topic("similar")
        while True:
            question = self._question(
                f"{heading}.",
                "Continue training?",
                "Continue",
                "Cancel" if not self.errors else "Stop",
                WAIT_SIMILAR,
                details=rows,
                columns=text.COLUMNS,
                extra_choices=show_choice,
            )
            answer = self._asked(question, topic)
            if answer.choice != "show":
                break
            text.show_curves(self.journal, matches, show=self.show)
            show_choice = {}
        if answer.source != "cell":
            self.show(f"  {text.tensorboard_hint(matches)}")
        if answer.train:
            return TRAIN
        ids = ", ".join(str(m["id"]) for m in matches)
        reason = f"cancelled after seeing similar experiments {ids}"
        if self.errors:
            reason = f"stopped before training: {errors_text(self.errors)}; similar experiments {ids}"
        return Verdict(train=False, reason=reason)


def _replace(question: Question, **changes: Any) -> Question:
    from dataclasses import replace

    return replace(question, **changes)


def similar_experiments(journal: Journal, project: str | None, model: Any) -> list[dict[str, Any]]:
    """The full record of the latest finished experiment of ``project`` with ``model``'s architecture.

    A list of at most one: the earlier run the environment checks (K502,
    K503) compare with. Never raises: a journal that can't be read gives no
    history.
    """
    from ..fit.model import describe_layers, model_summary

    try:
        architecture = model_summary(describe_layers(model))
        record = journal.latest(project=project, status="finished", architecture=architecture)
    except Exception:  # noqa: BLE001 - the history is a help, never a reason to fail
        return []
    return [record] if record else []
