"""``%%kepler_fit`` and ``%kepler``: the notebook's way into Kepler."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..checks.selection import Selection, parse_codes
from ..presentation.questions import validate_answer
from ..presentation.waiting import reads_busy
from .cell import execute_cell
from .inspector import ModelInspector
from .options import RunOptions
from .routing import route_fits


@magics_class
class KeplerMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.last_inspectors: list[ModelInspector] = []

    @magic_arguments()
    @argument("--project", "-p", help="Project the experiment belongs to (default: the notebook's name).")
    @argument("--name", "-n", help="A name for the experiment (default: the model's name).")
    @argument("--tags", "-t", default="", help="Comma-separated tags, e.g. 'baseline,sigmoid'.")
    @argument("--hypothesis", help="What this run is meant to show, in your words.")
    @argument("--no-checks", action="store_true", help="Record the run without checking it.")
    @argument("--select", default="", help="Only run these checks (codes or prefixes: 'K2,K303').")
    @argument("--ignore", default="", help="Don't run these checks ('K104,K3').")
    @argument("--answer", help="Answer every question Kepler would ask: 'continue' (train) or 'skip'.")
    @argument("--stop-on-error", action="store_true", help="Stop training when a training check finds an error.")
    @argument(
        "--preflight",
        action="store_true",
        help="Before training, probe a clone of the model: can it overfit one small batch (K601), does it learn "
        "as well from zeroed inputs (K602)? Up to 30 s per probe; the model is untouched.",
    )
    @argument(
        "--no-similar",
        action="store_true",
        help="Don't ask about similar earlier runs (the live view still draws them).",
    )
    @argument("--save-weights", action="store_true", help="Keep the trained weights in the journal (off by default).")
    @argument(
        "--save-model",
        action="store_true",
        help="Keep each fitted scikit-learn estimator in the journal (joblib), so a duplicate can reuse it.",
    )
    @argument("--grid", help='Run the cell once per combination: "lr=[1e-2,1e-3] units=[32,64]" (set as variables).')
    @argument("--random", type=int, metavar="N", help="With --grid: try N combinations drawn at random.")
    @argument("--seed", type=int, default=0, help="With --random: the seed of the draw (default 0).")
    @cell_magic
    def kepler_fit(self, line: str, cell: str) -> Any:
        """Run the cell; every Keras ``fit`` it makes is checked and recorded in the journal.

        Example::

            %%kepler_fit --project digits --name "sigmoid baseline"
            model.fit(X, y, epochs=5, validation_split=0.2)

        ``# kepler: noqa K302`` in the cell disables a check for this cell.
        """
        __tracebackhide__ = True
        args = parse_argstring(self.kepler_fit, line)
        options = self._options(args, cell)
        options.save_weights = args.save_weights
        options.save_model = args.save_model
        if args.grid or args.random is not None:
            with reads_busy():
                return self._grid(args, cell, options)
        with reads_busy():
            result, inspectors = self.run_routed(cell, options)
        if not inspectors:
            print("Kepler: no model.fit(...) ran in this cell, so nothing was recorded.")
        return result

    def run_routed(self, cell: str, options: RunOptions) -> tuple[Any, list[Any]]:
        """Run the cell with Keras and scikit-learn fits routed: its value, and one inspector per experiment."""
        __tracebackhide__ = True
        from .estimator_routing import route_estimator_fits

        if "sklearn" in cell or "sklearn" in sys.modules:
            import sklearn.base  # noqa: F401 - its estimator classes are routed from the start

        # Keras is routed when it can be used: a cell of estimators alone doesn't pay for importing it.
        keras_fits = "keras" in sys.modules or any(word in cell for word in ("keras", "tensorflow", "tf."))
        with (
            route_fits(lambda model: ModelInspector(model, options=_copy(options)))
            if keras_fits
            else contextlib.nullcontext([]) as inspectors,
            route_estimator_fits(
                lambda estimator: _estimator_inspector(estimator, options), self.shell.user_ns
            ) as watch,
        ):
            try:
                result = execute_cell(self.shell, cell)
            finally:
                self.last_inspectors = inspectors + watch.inspectors
                for inspector in watch.inspectors:
                    inspector.end()  # after the cell's scores: its line quotes them
        return result, self.last_inspectors

    @line_magic
    def kepler(self, line: str) -> None:
        """Kepler's journal and checks: ``%kepler list``, ``show ID``, ``search Q``,
        ``findings [ID]``, ``checks``, ``explain CODE``, ``export ID [ID ...] -o FILE.html``,
        ``export --project P -o FILE.html``, ``note ID "conclusion"``,
        ``tensorboard [ID ...] [--logdir DIR]`` (no ids: the last cell's run and its similar ones),
        ``journal [--project P | --all] [--inline]`` (the journal widget, in JupyterLab's right sidebar)."""
        from ..presentation import cli

        words = shlex.split(line)
        if words[:1] == ["findings"]:
            return self._findings(words[1:])
        if words[:1] == ["tensorboard"]:
            return self._tensorboard(words[1:])
        if words[:1] == ["journal"]:
            return self._journal(words[1:])
        if words[:1] == ["search"] and len(words) > 1:
            # The query as typed: its quotes belong to the search language.
            query = line.strip()[len("search") :].strip()
            as_json = query.endswith(" --json") or query.startswith("--json ")
            query = query.removesuffix(" --json").removeprefix("--json ").strip() if as_json else query
            words = ["search", _unquote_query(query)] + (["--json"] if as_json else [])
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                cli.main(words or ["--help"], prog="%kepler")
        except SystemExit as stop:
            if stop.code not in (0, None):
                raise UsageError(
                    _magic_words(said.getvalue().strip()) or f"%kepler {line}: see `%kepler --help`"
                ) from None
        if said.getvalue():
            print(_magic_words(said.getvalue()), end="", file=sys.stderr)

    # -- helpers -------------------------------------------------------------
    def _options(self, args: Any, cell: str) -> RunOptions:
        try:
            selection = Selection(parse_codes(args.select), parse_codes(args.ignore))
            answer = validate_answer(args.answer, "--answer")
        except ValueError as error:
            raise UsageError(str(error)) from None
        return RunOptions(
            project=_unquote(args.project),
            name=_unquote(args.name),
            tags=[t.strip() for t in _unquote(args.tags).split(",") if t.strip()],
            hypothesis=_unquote(args.hypothesis),
            checks=not args.no_checks,
            selection=selection,
            answer=answer,
            stop_on_error=args.stop_on_error,
            preflight=args.preflight,
            similar=not args.no_similar,
            cell=cell,
            user_ns=self.shell.user_ns,
        )

    def _grid(self, args: Any, cell: str, options: RunOptions) -> Any:
        """``--grid``: the cell once per combination; returns the table of results."""
        __tracebackhide__ = True
        from .grid import GridSpecError, run_cell_grid

        if not args.grid:
            raise UsageError('--random N draws from a grid: add --grid "lr=[1e-2,1e-3] units=[32,64]"')
        try:
            return run_cell_grid(self, cell, options, _unquote(args.grid), args.random, args.seed)
        except GridSpecError as error:
            raise UsageError(str(error)) from None

    def _journal(self, words: list[str]) -> None:
        """``%kepler journal``: the experiments of this notebook's project (``--project P``, ``--all``)."""
        from ..journal.journal import Journal
        from ..presentation.journal_widget import open_journal
        from .journals import shared_journal
        from .record import default_project

        unknown = [w for w in words if w.startswith("-") and w not in ("--project", "-p", "--all", "--inline")]
        if unknown or words[-1:] in (["--project"], ["-p"]):
            raise UsageError("Usage: %kepler journal [--project P | --all] [--inline]")
        project = None
        for flag in ("--project", "-p"):
            if flag in words:
                project = words[words.index(flag) + 1]
        if project is None and "--all" not in words:
            last = self.last_inspectors[-1].options.project if self.last_inspectors else None
            project = last or default_project(self.shell.user_ns)
        open_journal(Journal(shared_journal().home), project=project, inline="--inline" in words, shell=self.shell)

    def _tensorboard(self, words: list[str]) -> None:
        """``%kepler tensorboard ID ID ... [--logdir DIR]``: their curves, side by side in TensorBoard."""
        from ..journal.journal import UnknownExperimentError
        from ..presentation.tensorboard import compare_in_tensorboard
        from .journals import shared_journal

        logdir = None
        if "--logdir" in words:
            at = words.index("--logdir")
            if at + 1 >= len(words):
                raise UsageError("--logdir needs a folder: %kepler tensorboard 3 7 --logdir runs/")
            logdir = words[at + 1]
            words = words[:at] + words[at + 2 :]
        if not words and self.last_inspectors:
            words = [str(m["id"]) for i in self.last_inspectors for m in i.similar]
            words += [str(i.experiment_id) for i in self.last_inspectors if i.experiment_id is not None]
        if not words:
            raise UsageError("Which experiments? %kepler tensorboard 3 7 12 (ids from %kepler list)")
        try:
            compare_in_tensorboard(shared_journal(), words, logdir)
        except (UnknownExperimentError, ValueError) as error:
            raise UsageError(str(error.args[0] if error.args else error)) from None

    def _findings(self, words: list[str]) -> None:
        from ..checks.finding import Finding
        from ..journal.journal import Journal
        from ..presentation.text import format_finding

        if words:
            record = Journal().get(words[0])
            findings = [Finding.from_dict(f) for f in record.get("findings") or []]
            title = f"experiment {record['id']}"
        elif self.last_inspectors:
            findings = [f for i in self.last_inspectors for f in i.findings]
            title = "the last %%kepler_fit cell"
        else:
            raise UsageError("No %%kepler_fit cell has run in this kernel yet; give an id: %kepler findings ID")
        print(f"Findings of {title}:" if findings else f"No findings for {title}.")
        for finding in findings:
            print(format_finding(finding))


def _magic_words(text: str) -> str:
    """The CLI's message in ``%kepler`` words: ``%kepler list``, not ``kepler list``; no argparse usage block."""
    text = re.sub(r"(?<![%\w])`kepler ", "`%kepler ", text)
    lines = text.splitlines()
    if lines and lines[0].startswith("usage: "):  # argparse: the usage, then "%kepler ...: error: ..."
        usage = " ".join(line.strip() for line in lines if not line.startswith("%kepler"))
        errors = [line.split("error: ", 1)[-1] for line in lines if line.startswith("%kepler")]
        return f"{'; '.join(errors)} ({usage.removeprefix('usage: ')})"
    return text


def _unquote_query(query: str) -> str:
    """``"project = digits"`` typed with the quotes the CLI needs in a shell: the query inside them.

    A quoted phrase alone (``"sigmoid baseline"``) stays a phrase: only a quoted comparison is unwrapped.
    """
    if len(query) >= 2 and query[0] == query[-1] and query[0] in "'\"" and query[0] not in query[1:-1]:
        inner = query[1:-1]
        if re.search(r"[=<>~]|\b(sort|limit)\b", inner):
            return inner
    return query


def _unquote(value: str | None) -> str | None:
    """magic_arguments keeps quotes around values with spaces: ``"sigmoid baseline"``."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _estimator_inspector(estimator: Any, options: RunOptions) -> Any:
    from .estimator_inspector import EstimatorInspector

    inspector = EstimatorInspector(estimator, options=_copy(options))
    inspector.end_line_later = True
    return inspector


def _copy(options: RunOptions) -> RunOptions:
    from dataclasses import replace

    return replace(options, tags=list(options.tags))
