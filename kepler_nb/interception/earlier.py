"""The conversation about earlier runs, before a fit trains.

The journal is asked for runs like this one (by signature and similarity).
The same experiment finished before: say so and ask whether to run it again
(the default), or reuse its result without asking (grids resuming). Similar
models ran before: show them and ask whether to continue, cancel, or see
their curves first. A model that may already exist under another project:
say so. The outcome is a ``Verdict``; the inspector records and trains (or
not) accordingly. Questions go through the ``Asker`` the inspector is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..presentation import similar as text
from ..presentation.questions import Question

if TYPE_CHECKING:
    from collections.abc import Callable

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


class EarlierRuns:
    """Looks up earlier runs like one about to train, shows them and asks what to do."""

    def __init__(self, journal: Journal, options: RunOptions, ask: Asker, show: Callable[[str], Any]) -> None:
        self.journal = journal
        self.options = options
        self.ask = ask
        self.show = show
        self.similar: list[dict[str, Any]] = []  # earlier runs like this one, for live views

    def consider(self, summary: dict[str, Any]) -> Verdict:
        """Look up runs like ``summary`` (a signed summary); say what was found; maybe ask."""
        options = self.options
        if options.duplicates == "off" and not options.similar:
            return TRAIN
        try:
            found = self.journal.lookup(summary, k=SIMILAR_SHOWN)
        except Exception:
            log.exception("could not look for earlier runs like this one")
            return TRAIN
        self.similar = [m.to_dict() for m in found.similar]
        if found.duplicate is not None and options.duplicates != "off":
            return self._duplicate(found.duplicate, summary)
        verdict = self._ask_team(summary)
        if verdict is not None:
            return verdict
        if self.similar and options.similar and not self._similar_answer():
            ids = ", ".join(str(m["id"]) for m in self.similar)
            return Verdict(train=False, reason=f"cancelled after seeing similar experiments {ids}")
        if found.transfer is not None and options.similar:
            self.show("Kepler: " + text.transfer_text(found.transfer))
        return TRAIN

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
        question = Question(
            f"{said} Run it again?",
            continue_label="Run again",
            skip_label="Skip (reuse its result)",
            default="continue",
        )
        answer = self.ask(question)
        log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
        if answer.train:
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
        question = Question(
            f"{said} Run it again?",
            continue_label="Run again",
            skip_label="Skip (reuse its result)",
            default="continue",
        )
        answer = self.ask(question)
        log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
        if answer.train:
            return TRAIN
        return Verdict(
            train=False,
            reason=f"the same experiment as {earlier['id']}",
            link={"duplicate_of": earlier["id"]},
            curves=curves,
        )

    def _similar_answer(self) -> bool:
        """Show the similar runs; ask to continue (True), cancel, or see their curves first."""
        matches = self.similar
        histories = {m["id"]: self.journal.history(m["id"]) for m in matches}
        heading = text.similar_heading(matches)
        rows = text.similar_rows(matches, histories)  # shown once: in the dialog, or under the answer's line
        show_choice = {"show": "Show their curves"}
        while True:
            question = Question(
                f"{heading}. Continue training?",
                continue_label="Continue",
                skip_label="Cancel",
                details=rows,
                columns=text.COLUMNS,
                extra_choices=show_choice,
            )
            answer = self.ask(question)
            log.info("asked %r: %s (%s)", question.text, answer.choice, answer.why)
            if answer.choice != "show":
                self.show(f"  {text.tensorboard_hint(matches)}")
                return answer.train
            text.show_curves(self.journal, matches, show=self.show)
            show_choice = {}


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
