"""What Kepler says about earlier runs before training: duplicates, similar models, transfer.

Text for the messages and the dialog's table, and the inline plot of the
similar runs' curves (the "show" answer of the similar-models dialog).
Figures are built with ``matplotlib.figure.Figure``: the user's pyplot state
and backend are never touched.

Answers (see :mod:`.prompts`): the duplicate question's default, taken when
nobody can answer (a headless run, a script), is ``continue``: the run is
trained again, since a rerun may be meant (another seed, a check of the
variance). ``skip`` (``KEPLER_ANSWER=skip`` or ``--answer skip``) trains
nothing, leaves the model untouched, records a ``skipped`` run with
``duplicate_of`` set, and returns a History holding the earlier run's curves.
The similar-models question also defaults to ``continue``; ``skip`` cancels
the run (recorded as ``skipped``); a person may first ask to see the curves.
"""

from __future__ import annotations

import calendar
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..journal import similarity
from ..journal.similarity import primary_metric
from . import chart_style, charts, frontend

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..journal.journal import Journal

COLUMNS = ("id", "name", "how it relates", "what differs", "best")
MAX_DIFFERENCES = 3  # per row of the table; the rest is counted
PALETTE = chart_style.PALETTE
HPARAM_NAMES = {"learning_rate": "learning rate", "batch_size": "batch size", "validation_split": "validation split"}
HYPERPARAMETER_KINDS = (
    similarity.HYPERPARAMETER,
    similarity.SETTING,
    similarity.OTHER_SETTINGS,
    similarity.OPTIMIZER_STEPS,
)


# -- a match in words ---------------------------------------------------------------
def relation_text(match: dict[str, Any]) -> str:
    """How a similar run relates to this one: "same model, different data", "nearby architecture, same data"."""
    relation, same_data = match.get("relation"), match.get("same_data")
    if relation == similarity.SAME_EXPERIMENT:
        return "the same experiment"
    if relation == similarity.SAME_MODEL:
        kinds = {d.get("kind") for d in match.get("differences") or []}
        parts = [
            part
            for part, differ in (("data", same_data is False), ("hyperparameters", kinds & set(HYPERPARAMETER_KINDS)))
            if differ
        ]
        return "same model, different " + " and ".join(parts) if parts else "same model"
    if relation == similarity.NEARBY_ARCHITECTURE:
        return "nearby architecture" + {True: ", same data", False: ", different data"}.get(same_data, "")
    return str(relation or "similar")


def difference_text(difference: dict[str, Any]) -> str:
    """One difference, from the earlier run's side: ``learning rate 0.01 (this run: 0.001)``."""
    kind, theirs, ours = difference.get("kind"), difference.get("theirs"), difference.get("ours")
    index, name = difference.get("index"), str(difference.get("name") or "")
    if kind == similarity.LAYER_CHANGED:
        return _layer_change(index, theirs, ours)
    if kind == similarity.LAYER_REMOVED:
        return f"layer {index} {_layer_text(theirs)} (not in this run)"
    if kind == similarity.LAYER_ADDED:
        return f"no layer {_layer_text(ours)} (this run has it as layer {index})"
    if kind == similarity.DATA:
        if theirs is not None and ours is not None and theirs != ours:
            return f"other training data ({theirs} samples; this run: {ours})"
        return "other training data (same size, different content)"
    if kind == similarity.HYPERPARAMETER:
        return f"{HPARAM_NAMES.get(name, name)} {_show(theirs)} (this run: {_show(ours)})"
    if kind == similarity.SETTING:
        return f"{name} {_show(theirs)} (this run: {_show(ours)})"
    if kind == similarity.OPTIMIZER_STEPS:
        return _steps_text(theirs, ours)
    return "other compile or fit settings"


def _steps_text(theirs: int, ours: int) -> str:
    """A model fitted again without being rebuilt starts where its optimizer stopped: say so, with the steps."""
    if not theirs:
        return f"a fresh model (this run continues training one: its optimizer has already taken {ours} steps)"
    if not ours:
        return f"continued training a fitted model, {theirs} optimizer steps in (this run: a fresh model)"
    return f"continued training after {theirs} optimizer steps (this run: after {ours})"


def in_words(match: dict[str, Any]) -> dict[str, Any]:
    """A match with its relation and differences as the text Kepler shows."""
    return {
        **match,
        "relation": relation_text(match),
        "differences": [difference_text(d) for d in match.get("differences") or []],
    }


def _layer_change(index: int | None, a: list, b: list) -> str:
    if a[0] != b[0]:
        return f"layer {index} {_layer_text(a)} (this run: {_layer_text(b)})"
    changes = []
    if a[1] != b[1]:
        changes.append(f"{_show(a[1])} {_size_word(a[0])} (this run: {_show(b[1])})")
    if a[2] != b[2]:
        changes.append(f"{_show(a[2])} activation (this run: {_show(b[2])})")
    return f"layer {index} {a[0]}: " + (", ".join(changes) if changes else "other layer settings")


def _layer_text(row: list) -> str:
    args = [str(v) for v in row[1:3] if v not in (None, "", "linear")]
    return f"{row[0]}({', '.join(args)})" if args else str(row[0])


def _size_word(layer_type: str) -> str:
    if "Conv" in layer_type:
        return "filters"
    if "Dropout" in layer_type:
        return "rate"
    if "Pool" in layer_type:
        return "pool size"
    return "units"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)


def ago(created: str | None, now: float | None = None) -> str:
    """``"2 h ago"`` for a journal timestamp (``2026-11-24T10:00:00+0000``)."""
    moment = _timestamp(created)
    if moment is None:
        return "earlier"
    seconds = max(0.0, (time.time() if now is None else now) - moment)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"


def where(summary: dict[str, Any]) -> str:
    """The notebook an experiment ran in (its file name), else its project."""
    notebook = summary.get("notebook_path") or summary.get("notebook")
    if notebook:
        return f"`{Path(str(notebook)).name}`"
    return f"project {summary.get('project') or 'default'}"


def quote_metric(summary: dict[str, Any]) -> str:
    """``"val_accuracy 0.93"``: the metric a reader compares first, or ''."""
    found = primary_metric(summary.get("final") or {})
    return f"{found[0]} {found[1]:.4g}" if found else ""


def duplicate_text(earlier: dict[str, Any]) -> str:
    """``This exact experiment ran 2 h ago in `digits.ipynb` (experiment 12): val_accuracy 0.93.``"""
    metric = quote_metric(earlier)
    return (
        f"This exact experiment ran {ago(earlier.get('created'))} in {where(earlier)} "
        f"(experiment {earlier.get('id')}){': ' + metric if metric else ''}."
    )


def team_duplicate_text(run: dict[str, Any]) -> str:
    """``This exact experiment ran yesterday on host gpu-2 by alice (MLflow run 1a2b3c4d): val_accuracy 0.93.``"""
    metric = quote_metric(run)
    when = ago(run.get("created"))
    when = "yesterday" if when == "1 day ago" else when
    return (
        f"This exact experiment ran {when} on host {run.get('host') or '?'} by {run.get('user') or 'someone'} "
        f"(MLflow run {str(run.get('mlflow_run'))[:8]}){': ' + metric if metric else ''}."
    )


def team_similar_text(matches: Sequence[dict[str, Any]], limit: int = 3) -> str:
    """One line naming teammates' similar runs on the server: who, where, how they relate, their result."""
    runs = "run" if len(matches) == 1 else "runs"
    parts = []
    for match in matches[:limit]:
        metric = quote_metric(match)
        parts.append(
            f"{match.get('user') or 'someone'} on {match.get('host') or '?'}, {match.get('name')!r} "
            f"({relation_text(match)}, {ago(match.get('created'))}){': ' + metric if metric else ''}"
        )
    more = f"; {len(matches) - limit} more" if len(matches) > limit else ""
    return f"{len(matches)} similar {runs} by the team on the MLflow server: " + "; ".join(parts) + more + "."


def best_of(history: dict[str, list[float]], final: dict[str, Any]) -> str:
    """The best value of the primary metric over the epochs (``val_accuracy 0.95 @3``)."""
    found = primary_metric(final or {})
    if not found:
        return ""
    name = found[0]
    values = [v for v in (history or {}).get(name, []) if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return f"{name} {found[1]:.4g}"
    best = max(values) if "accuracy" in name else min(values)
    return f"{name} {best:.4g} @{values.index(best) + 1}"


def similar_rows(matches: Sequence[dict[str, Any]], histories: dict[Any, dict] | None = None) -> list[list[str]]:
    """One row per similar experiment: id, name, relation, differences, best metric."""
    rows = []
    for match in matches:
        differences = [difference_text(d) for d in match.get("differences") or []]
        shown = "; ".join(differences[:MAX_DIFFERENCES])
        if len(differences) > MAX_DIFFERENCES:
            shown += f"; {len(differences) - MAX_DIFFERENCES} more"
        history = (histories or {}).get(match.get("id"), {})
        rows.append(
            [
                str(match.get("id")),
                str(match.get("name") or ""),
                relation_text(match),
                shown or "nothing recorded",
                best_of(history, match.get("final") or {}),
            ]
        )
    return rows


def similar_heading(matches: Sequence[dict[str, Any]]) -> str:
    count = len(matches)
    return f"{count} similar model{'s' if count != 1 else ''} found"


def tensorboard_hint(matches: Sequence[dict[str, Any]]) -> str:
    ids = " ".join(str(m.get("id")) for m in matches)
    return f"`%kepler tensorboard {ids}` writes their curves for TensorBoard."


def transfer_text(candidate: dict[str, Any]) -> str:
    """The suggestion that a trained model for this problem may already exist."""
    shape = "x".join(str(s) for s in candidate.get("input_shape") or []) or "?"
    classes = candidate.get("n_classes")
    metric = quote_metric(candidate)
    outputs = f" with {classes} output{'s' if classes != 1 else ''}" if classes else ""
    text = (
        f"A trained model for this problem may already exist: experiment {candidate.get('id')} "
        f"({candidate.get('name')}, {where(candidate)}) learnt inputs of shape ({shape}){outputs} on other data"
        f"{', ' + metric if metric else ''}; consider starting from it (transfer learning)."
    )
    weights = candidate.get("weights")
    if weights:
        text += f" Its weights: {weights} (model.load_weights(...))."
    else:
        text += " Its weights were not saved (`%%kepler_fit --save-weights` keeps them)."
    return text


# -- curves ---------------------------------------------------------------------------
def curves_figure(runs: Sequence[tuple[str, dict[str, list[float]]]]) -> Any:
    """One panel per metric (loss first), one colour per run; validation dashed. None if nothing to draw."""
    from matplotlib.figure import Figure

    bases = chart_style.metric_order(k for _, history in runs for k in history or {})
    bases = bases[:4]
    if not bases:
        return None
    fig = Figure(figsize=(4.2 * len(bases), 3.0), layout="constrained")
    fig.patch.set_alpha(0)  # transparent: the page's own background shows through
    for panel, base in enumerate(bases):
        ax = fig.add_subplot(1, len(bases), panel + 1)
        for index, (label, history) in enumerate(runs):
            color = PALETTE[index % len(PALETTE)]
            for key, style in ((base, "-"), ("val_" + base, "--")):
                values = (history or {}).get(key) or []
                points = [(i + 1, v) for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(
                        xs, ys, style, color=color, lw=1.6, label=f"{label} ({'val' if style == '--' else 'train'})"
                    )
        ax.set_title(base, loc="left", fontsize=10)
        ax.set_xlabel("epoch")
        ax.patch.set_alpha(0)
        if chart_style.log_scale([y for line in ax.get_lines() for y in line.get_ydata()]):
            ax.set_yscale("log")
        ax.set_ylabel(f"{base} (log scale)" if ax.get_yscale() == "log" else base)
        ax.grid(True, color="#e4e7eb", lw=0.8)
        if panel == 0:
            ax.legend(fontsize=7, frameon=False)
    return fig


def show_curves(
    journal: Journal,
    experiments: Sequence[dict[str, Any]],
    current: tuple[str, dict] | None = None,
    show: Callable[[str], Any] = print,
) -> Any:
    """Draw the curves of ``experiments`` (summaries; and the current run's, if any) inline; return the figure."""
    ids = [e.get("id") for e in experiments]
    runs = [(f"#{e.get('id')} {e.get('name') or ''}"[:30], journal.history(e.get("id"))) for e in experiments]
    if current is not None:
        runs.append(current)
    fig = curves_figure(runs)
    if fig is None:
        show("Kepler: no curves were recorded for these experiments.")
        return None
    names = ", ".join(map(str, ids))
    which = f"experiment{'s' if len(ids) > 1 else ''} {names}"
    if frontend.kernel() is not None:
        from IPython.display import display

        # The charts the live view draws, inline, in the theme's colours (a PNG would be a white block).
        drawn = charts.comparison_charts(runs)
        legend = charts.run_legend([label for label, _ in runs])
        display(charts.picture_bundle(drawn, legend, f"[curves of {which}]"), raw=True)
        show(f"Kepler: the curves of {which} are drawn below (solid: training; dashed: validation).")
        return fig
    # A terminal or a script shows no picture: the curves as text, and the picture saved beside the journal.
    path = Path(journal.home) / "artifacts" / f"curves-{'-'.join(map(str, ids))}.png"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=96)
        saved = f"the picture: {path}"
    except OSError as error:
        saved = f"the picture could not be saved: {error.strerror or error}"
    show(f"Kepler: the curves of {which} as text ({saved})\n" + text_chart(runs))
    return fig


SPARKS = "▁▂▃▄▅▆▇█"


def text_chart(runs: Sequence[tuple[str, dict[str, list[float]]]]) -> str:
    """One line per run and metric (validation first): its values as a sparkline, first and last value."""
    lines = []
    for label, history in runs:
        for key in _chart_keys(history or {}):
            values = [v for v in history[key] if isinstance(v, (int, float)) and math.isfinite(v)]
            if not values:
                continue
            low, high = min(values), max(values)
            span = (high - low) or 1.0
            spark = "".join(SPARKS[round((v - low) / span * (len(SPARKS) - 1))] for v in values)
            lines.append(f"  {label[:24]:<24} {key:<14} {spark}  {values[0]:.4g} → {values[-1]:.4g}")
    return "\n".join(lines) or "  (no values to draw)"


def _chart_keys(history: dict[str, list[float]]) -> list[str]:
    """The primary metric and the loss, validation first: what a reader compares."""
    keys = [k for k in ("val_accuracy", "accuracy", "val_loss", "loss") if history.get(k)]
    return keys[:2] if keys else list(history)[:2]


def _timestamp(created: str | None) -> float | None:
    if not created:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            parsed = time.strptime(created, pattern)
        except ValueError:
            continue
        if parsed.tm_gmtoff is not None and "%z" in pattern:
            return calendar.timegm(parsed) - parsed.tm_gmtoff
        return time.mktime(parsed)
    return None
