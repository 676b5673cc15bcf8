"""The ``kepler`` command (and ``%kepler``, which shares it)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import warnings

from ..journal.journal import Journal, UnknownExperimentError
from .text import format_record, format_table, terminal_safe, to_json

log = logging.getLogger("kepler")
# `kepler list` shows this many of the newest experiments unless told otherwise: a screenful, not 50,000 lines.
LIST_NEWEST = 50


def build_parser(prog: str = "kepler") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Kepler: a lab journal for deep-learning experiments.")
    parser.add_argument("--home", help="Journal folder (default: $KEPLER_HOME or ~/.kepler).")
    parser.set_defaults(prog=prog)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("init", help="Create the journal and say where it is.")
    listing = commands.add_parser("list", help="List experiments.")
    listing.add_argument("--project", "-p", help="Only this project's experiments.")
    listing.add_argument("--json", action="store_true", help="Print JSON instead of a table (every experiment).")
    listing.add_argument(
        "--limit", "-n", type=_positive, metavar="N", help=f"Only the newest N (the table shows {LIST_NEWEST})."
    )
    listing.add_argument("--all", "-a", action="store_true", help="Every experiment, however many.")
    show = commands.add_parser("show", help="Show one experiment's full record.")
    show.add_argument("id", help="The experiment's id (from `kepler list`).")
    show.add_argument("--json", action="store_true", help="Print the record as JSON.")
    search = commands.add_parser(
        "search",
        help="Find experiments with a query, e.g. 'val_accuracy > 0.9 and optimizer = adam sort val_accuracy desc'.",
        description="Fields compare with = != > >= < <= ~ (val_accuracy > 0.9, optimizer = adam, epochs >= 10, "
        'status = finished, layer = Conv2D, layers > 4, project = x, since = 2026-11-01); a word or "quoted text" '
        "is looked for in names, tags, hypotheses and cell sources; combine with and / or / not and parentheses; "
        "end with sort FIELD [asc|desc] and limit N.",
    )
    search.add_argument("query", nargs="+", help="The query; quote it in a shell: 'val_accuracy > 0.9'.")
    search.add_argument("--json", action="store_true", help="Print JSON instead of a table (every match).")
    search.add_argument("--all", "-a", action="store_true", help=f"Every match in the table, not only {LIST_NEWEST}.")
    commands.add_parser("checks", help="List every check Kepler runs.")
    explain_parser = commands.add_parser("explain", help="Explain one check, e.g. `kepler explain K303`.")
    explain_parser.add_argument("code")
    export = commands.add_parser(
        "export", help="Write an HTML report: one id, several ids (a comparison), or --project P (a summary)."
    )
    export.add_argument("ids", nargs="*", metavar="ID", help="Experiment ids (from `kepler list`).")
    export.add_argument("--project", "-p", help="Summarise every experiment of this project instead.")
    export.add_argument("-o", "--output", help="The HTML file to write (default: kepler-<id>.html here).")
    export.add_argument(
        "--with-notebook",
        action="store_true",
        help="Include the notebook's other cells as saved when the run started (left out by default).",
    )
    note = commands.add_parser("note", help='Write the conclusion of an experiment: kepler note ID "what it showed".')
    note.add_argument("id", help="The experiment's id.")
    note.add_argument("text", nargs="*", help="The conclusion (replaces any earlier one); none prints the current one.")
    sync = commands.add_parser(
        "sync",
        help="Push the journal's ended runs to an MLflow tracking server (again: only what changed).",
        description="One MLflow experiment per project, one run per experiment (tagged kepler.id and "
        "kepler.signature; params, per-epoch metrics, findings; the cell, notebook and HTML report as artifacts). "
        "Pushing twice creates nothing new; a push that was interrupted completes. Needs mlflow "
        "(pip install 'kepler-nb[team]').",
    )
    sync.add_argument(
        "--mlflow", metavar="URI", help='The tracking server (default: [sync] mlflow = "URI" in config.toml).'
    )
    sync.add_argument("--project", "-p", help="Only this project's experiments.")
    sync.add_argument("--quiet", "-q", action="store_true", help="Print only the summary line (and errors).")
    return parser


def main(argv: list[str] | None = None, prog: str = "kepler") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        # A recovered journal says so in one line, not with the source line warnings would quote.
        warnings.showwarning = lambda message, *_, **__: _err(f"{prog}: warning: {message}")
        try:
            return COMMANDS[args.command](args)
        except (UnknownExperimentError, KeyError, ValueError) as error:
            message = error.args[0] if error.args else str(error)
            code = 2
        except OSError as error:
            message, code = os_error_message(error), 1
        except Exception as error:  # a damaged or unusual home gets one line, never a traceback
            log.exception("`%s %s` failed", prog, args.command)
            message, code = f"{type(error).__name__}: {error} (unexpected; the event log kepler.log has the details)", 1
    _err(f"{prog}: {message}")
    raise SystemExit(code)


def os_error_message(error: OSError) -> str:
    """One line naming the file that could not be used, why, and what to do."""
    path = error.filename if error.filename is not None else "the journal folder"
    why = error.strerror or str(error)
    number = error.errno
    if number == errno.EISDIR:
        advice = f"a folder is where Kepler keeps a file: move it aside (mv '{path}' '{path}.aside') and run again"
    elif number == errno.ENOTDIR:
        advice = "a file is where Kepler keeps a folder, on the way to it: move that file aside and run again"
    elif number in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "the journal folder can't be written here: make it writable, or point --home (KEPLER_HOME) elsewhere"
    elif number in (errno.ENOSPC, errno.EDQUOT):
        advice = "the disk is full: free some space and run again"
    elif number == errno.EEXIST and os.path.isfile(path):
        return f"{path} is a file, where Kepler expects its journal folder: point --home (KEPLER_HOME) at a folder"
    elif number == errno.ENAMETOOLONG:
        advice = "the file name is too long: give a shorter one (-o FILE.html)"
    else:
        advice = "check that file, then run again"
    return f"can't use {path}: {why}; {advice}"


def _out(text: str) -> None:
    print(terminal_safe(text))


def _err(text: str) -> None:
    print(terminal_safe(text), file=sys.stderr)


def _init(args: argparse.Namespace) -> int:
    journal = Journal(args.home)
    _out(f"Kepler journal: {journal.path} ({journal.count()} experiments)")
    _out(f"Event log: {journal.home / 'kepler.log'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    journal = Journal(args.home)
    newest = None if args.all or (args.json and args.limit is None) else args.limit or LIST_NEWEST
    experiments = journal.experiments(project=args.project, newest=newest)
    _out(to_json(experiments) if args.json else format_table(experiments))
    if newest is not None:
        total = journal.count(project=args.project)
        if total > len(experiments):
            _err(
                f"The newest {len(experiments):,} of {total:,} experiments; "
                f"`{args.prog} list --all` lists every one, `--limit N` the newest N."
            )
    return 0


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"needs a number of experiments, 1 or more; got {text}")
    return number


def _show(args: argparse.Namespace) -> int:
    record = Journal(args.home).get(args.id)
    _out(to_json(record) if args.json else format_record(record))
    for part, why in (record.get("damaged") or {}).items():
        _err(f"kepler: experiment {record['id']}: its {part} is unreadable: {why}")
    return 1 if record.get("damaged") else 0


def _search(args: argparse.Namespace) -> int:
    from ..journal.query import parse

    query = parse(" ".join(args.query))  # a malformed query: its error says where
    journal = Journal(args.home)
    found = journal.search(query)
    shown = found
    if not args.json and not args.all and query.limit is None and len(found) > LIST_NEWEST:
        # A screenful, as `kepler list` prints: the first of the query's order, else the newest.
        shown = found[:LIST_NEWEST] if query.sort else found[-LIST_NEWEST:]
        which = "first" if query.sort else "newest"
        _err(
            f"The {which} {LIST_NEWEST} of {len(found):,} matches; `{args.prog} search ... --all` lists every one, "
            "`limit N` in the query the first N."
        )
    _out(to_json(found) if args.json else format_table(shown) if found else "No experiment matches.")
    if not found:
        unknown = query.unknown_fields(journal.experiments())
        if unknown:
            _err(f"No experiment has the field {', '.join(map(repr, unknown))}: a typo?")
    return 0


def _checks(args: argparse.Namespace) -> int:
    from ..checks.catalogue import all_checks  # the whole catalogue: only for the commands about checks

    for c in all_checks():
        _out(f"{c.code}  {c.severity:<7}  {c.stage:<11}  {c.name:<34}  {c.summary}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from ..checks.catalogue import explain

    _out(explain(args.code))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .report import export_html

    if not args.ids and not args.project:
        raise ValueError("export what? Give experiment ids (`kepler export 3 -o r.html`) or --project P")
    journal = Journal(args.home)
    path = export_html(
        args.ids or None, args.output, project=args.project, journal=journal, with_notebook=args.with_notebook
    )
    _out(f"Wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


def _note(args: argparse.Namespace) -> int:
    journal = Journal(args.home)
    if args.text:
        journal.note(args.id, " ".join(args.text))
    record = journal.get(args.id)
    conclusion = record.get("conclusion")
    _out(f"Conclusion of experiment {record['id']}: {conclusion}" if conclusion else "No conclusion yet.")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from ..journal import mlflow_sync, team
    from .report import export_html

    journal = Journal(args.home)
    server = args.mlflow or team.configured_server(journal.home)
    if not server:
        raise ValueError(
            f'sync where? Give --mlflow URI, or put [sync] mlflow = "URI" in {journal.home / "config.toml"}'
        )
    try:
        result = mlflow_sync.push(
            journal,
            server,
            args.project,
            report=lambda experiment_id, path: export_html(experiment_id, path, journal=journal),
            progress=None if args.quiet else print,
        )
    except mlflow_sync.SyncError as error:
        print(f"kepler sync: {error}. Nothing lost: the runs stay queued for the next push.", file=sys.stderr)
        return 1
    print(result.line())
    for experiment_id, why in result.failed.items():
        print(f"  experiment {experiment_id} not pushed: {why}", file=sys.stderr)
    return 1 if result.failed else 0


COMMANDS = {
    "init": _init,
    "list": _list,
    "show": _show,
    "search": _search,
    "checks": _checks,
    "explain": _explain,
    "export": _export,
    "note": _note,
    "sync": _sync,
}


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
