"""The journal as a widget: a sortable, filterable table of experiments, their details and curves.

``%kepler journal`` opens it in JupyterLab's right sidebar (through
``sidecar``), elsewhere in the cell's output. The table lists the
experiments of one project, newest first, one page at a time; the filter
box takes the search language of ``Journal.search`` (``val_accuracy > 0.9
and optimizer = adam``). It fits the sidebar's default width: name, status,
the project's primary metric, findings and when it ran ("3 min ago", the
full time on hover) are shown, every other column (id, model, epochs, other
metrics) is one click away in the column picker; skipped runs are hidden
unless asked for. A scikit-learn run shows its estimator class and scores,
no epochs. Selecting rows shows each run's settings, data, findings and
curves; with two or more, "what differs" (the comparison report's own
table, each run in its chart colour) and their curves together. Export
writes the report, and its notice ("Report written to ...") is a link that
opens it in a JupyterLab tab.

Everything is computed here, from the journal's public API; the widget's
JavaScript only draws what it is sent and reports clicks and typing. After
each cell, and when a fit starts and ends, the table is refreshed, so runs
recorded in this kernel appear. On ipykernel 7 the widget answers while a
cell is training (its messages are handled on Kepler's own thread, see
:mod:`kepler_nb.presentation.waiting`); on ipykernel 6, between cells.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

from ..checks.finding import Finding
from ..journal.similarity import primary_metric
from . import assets, chart_style, charts, frontend, waiting
from .text import finding_counts, format_table

log = logging.getLogger("kepler")

PAGE_SIZE = 50
MAX_SELECTED = 8  # runs shown side by side
# Every column the table can show; ``default`` ones fit JupyterLab's default sidebar width (250 px),
# with when a run ran written under its name.
# The primary metric's column (the metric most runs are judged by) goes after "status".
LEADING_COLUMNS = (
    {"key": "name", "label": "name", "numeric": False, "default": True},
    {"key": "status", "label": "status", "numeric": False, "default": True},
)
TRAILING_COLUMNS = (
    {"key": "findings", "label": "findings", "numeric": True, "default": True},
    {"key": "created", "label": "when", "numeric": False, "default": False, "time": True},  # also under the name
    {"key": "id", "label": "id", "numeric": True, "default": False},
    {"key": "model", "label": "model", "numeric": False, "default": False},
    {"key": "epochs", "label": "epochs", "numeric": True, "default": False},
)
# The metric a reader compares first, in this order of preference (the journal's own choice).
PRIMARY_PREFERENCE = ("val_accuracy", "accuracy", "val_loss", "loss")
# The sidebar's narrow column shows "1E 2W"; its hover title, the one spelling everywhere else ("1 error, 2 warnings").
SEVERITY_LETTERS = (("error", "E"), ("warning", "W"), ("info", "I"))

_open: weakref.WeakSet[JournalWidget] = weakref.WeakSet()


class JournalWidget(anywidget.AnyWidget):
    """The journal table; its state says what the front end shows and what it asked for."""

    _esm = assets.module("charts.js", "journal.js")
    _css = assets.css()

    title = traitlets.Unicode().tag(sync=True)
    # asked by the front end
    query = traitlets.Unicode().tag(sync=True)
    sort = traitlets.Unicode("id").tag(sync=True)  # "" keeps the query's own order
    descending = traitlets.Bool(True).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    # shown by the front end
    columns = traitlets.List().tag(sync=True)
    rows = traitlets.List().tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    error = traitlets.Unicode().tag(sync=True)
    details = traitlets.List().tag(sync=True)
    comparison = traitlets.Dict().tag(sync=True)
    export_requests = traitlets.Int(0).tag(sync=True)  # the Export button counts its clicks
    notice = traitlets.Unicode().tag(sync=True)
    # The exported report, relative to the kernel's folder (the notebook's): the notice links to it.
    report = traitlets.Unicode().tag(sync=True)
    shown_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)  # chosen in the column picker
    show_skipped = traitlets.Bool(False).tag(sync=True)
    skipped = traitlets.Int(0).tag(sync=True)  # how many skipped runs the filter found

    def __init__(self, journal: Any, project: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sidecar: Any = None
        self.journal = journal
        self.project = project
        self.title = f"Kepler journal — {project}" if project else "Kepler journal — all projects"
        self._found: list[dict[str, Any]] = []
        self._signature: tuple = ()
        # The front end's requests may be handled on Kepler's own thread (see waiting.py) while
        # the main thread refreshes after a cell: one at a time.
        self._lock = threading.RLock()
        self.observe(self._query_changed, names=["query", "show_skipped"])
        self.observe(self._order_changed, names=["sort", "descending", "page"])
        self.observe(self._selection_changed, names=["selected"])
        self.observe(self._export, names=["export_requests"])
        self.refresh()
        _open.add(self)

    # -- what the front end asked for ----------------------------------------------------
    def _query_changed(self, _change: Any = None) -> None:
        self.refresh(keep_page=False)

    def _order_changed(self, _change: Any = None) -> None:
        with self._lock:
            self._show_page()

    def _selection_changed(self, _change: Any = None) -> None:
        with self._lock:
            self._show_details()

    def _export(self, _change: Any = None) -> None:
        """Write the selected runs' report (one: an experiment, several: a comparison), else the project's."""
        from .report import export_html

        ids = list(dict.fromkeys(self.selected))
        try:
            if ids:
                path = export_html(ids if len(ids) > 1 else ids[0], journal=self.journal)
            elif self.project is not None:
                path = export_html(project=self.project, journal=self.journal)
            else:
                self._say("Select runs to export them (or open the journal of one project to export all of it).")
                return
        except (OSError, LookupError, ValueError) as error:
            self._say(f"Could not export: {error}")
            return
        href = _relative_link(Path(path))
        shown = path if href.startswith("../") or Path(href).is_absolute() else href
        self._say(f"Report written to {shown}", report=href)

    def _say(self, notice: str, report: str = "") -> None:
        """The notice below the tool bar; with ``report``, it is a link that opens the report."""
        with self.hold_sync():
            self.report = report
            self.notice = notice

    # -- computing what it shows -------------------------------------------------------
    def refresh(self, keep_page: bool = True) -> None:
        """Read the journal again (new runs, changed statuses) and redraw."""
        with self._lock:
            self._refresh(keep_page)

    def _refresh(self, keep_page: bool) -> None:
        try:
            found = self._search(self.query)
        except ValueError as error:  # a malformed query says where and what was expected
            self.error = str(error)
            return
        self.error = ""
        signature = tuple((s["id"], s.get("status"), s.get("epochs_done")) for s in found)
        if signature == self._signature and keep_page:
            return
        self._signature = signature
        self._found = found
        if not keep_page:
            self.page = 0
        self._show_page()
        if self.selected:
            self._show_details()

    def _search(self, query: str) -> list[dict[str, Any]]:
        found = self.journal.search(query) if query.strip() else self.journal.experiments()
        if self.project is not None:
            found = [s for s in found if s.get("project") == self.project]
        skipped = sum(1 for s in found if s.get("status") == "skipped")
        if self.skipped != skipped:
            self.skipped = skipped
        if not self.show_skipped and not _asks_for_skipped(query):
            found = [s for s in found if s.get("status") != "skipped"]
        return found

    def _show_page(self) -> None:
        found = list(self._found)
        if self.sort:
            key = self.sort
            present = [s for s in found if _sort_value(s, key) is not None]
            missing = [s for s in found if _sort_value(s, key) is None]
            present.sort(key=lambda s: _sort_value(s, key), reverse=self.descending)
            found = present + missing
        pages = max(1, -(-len(found) // self.page_size))
        page = min(max(self.page, 0), pages - 1)
        shown = found[page * self.page_size : (page + 1) * self.page_size]
        primary, metrics = _metric_columns(self._found)
        with self.hold_sync():
            self.columns = [
                *LEADING_COLUMNS,
                *({"key": m, "label": m, "numeric": True, "default": m == primary} for m in [primary] if m),
                *TRAILING_COLUMNS,
                *({"key": m, "label": m, "numeric": True, "default": False} for m in metrics if m != primary),
            ]
            self.rows = [_row(s, [primary, *metrics] if primary else metrics) for s in shown]
            self.total = len(found)
            if page != self.page:
                self.page = page

    def _show_details(self) -> None:
        ids = list(dict.fromkeys(self.selected))[:MAX_SELECTED]
        records = []
        for experiment_id in ids:
            try:
                records.append(self.journal.get(experiment_id))
            except LookupError:
                continue
        runs = [(f"#{r['id']} {r.get('name') or ''}".strip(), r.get("history") or {}) for r in records]
        comparison: dict[str, Any] = {}
        if len(runs) >= 2:
            comparison = {
                "title": f"{len(runs)} runs compared",
                "diff": _diff_table(records),
                "charts": charts.comparison_charts(runs),
                "legend": charts.run_legend([label for label, _ in runs]),
            }
        with self.hold_sync():
            self.details = [_detail(r) for r in records]
            self.comparison = comparison

    def panel(self) -> ipywidgets.VBox:
        """The journal in a box as wide as the sidebar."""
        return _Panel([self], layout={"width": "100%"})

    def as_text(self) -> str:
        """The newest runs as a table: what a saved notebook or a terminal shows instead of the widget."""
        newest = sorted(self._found, key=lambda s: s["id"], reverse=True)[: self.page_size]
        hidden = f"\n({self.skipped} skipped, not shown)" if self.skipped and not self.show_skipped else ""
        return f"{self.title}\n{format_table(newest)}{hidden}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            bundle[0]["text/plain"] = self.as_text()
        return bundle


class _Panel(ipywidgets.VBox):
    """The journal's panel; its text form is the journal's table, not the widgets' repr."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        journals = [c for c in self.children if isinstance(c, JournalWidget)]
        if bundle and journals:
            data = bundle[0] if isinstance(bundle, tuple) else bundle  # ipywidgets gives a dict, anywidget a pair
            data["text/plain"] = journals[0].as_text()
        return bundle


def _relative_link(path: Path) -> str:
    """``path`` relative to the kernel's folder (the notebook's), as a link; JupyterLab resolves it from there."""
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive
        return path.as_posix()


def open_journal(
    journal: Any = None, project: str | None = None, inline: bool = False, shell: Any = None
) -> JournalWidget:
    """Show the journal: in JupyterLab's right sidebar, or in the cell's output elsewhere."""
    from IPython.display import display

    from ..journal.journal import Journal

    # Its own Journal object: the widget may read on another thread while a fit records.
    widget = JournalWidget(journal or Journal(), project=project)
    waiting.route_to_kepler_thread(widget)  # sorting and filtering work while a cell trains
    _refresh_after_cells(shell)
    if not inline and _in_jupyterlab(shell):
        try:
            from sidecar import Sidecar

            for previous in list(_open):  # one journal tab in the sidebar: the newest replaces the last
                if previous is not widget and getattr(previous, "sidecar", None) is not None:
                    previous.sidecar.close()
                    previous.close()
            sidecar = Sidecar(title="Kepler journal", anchor="right")
            with sidecar:
                display(widget.panel())
            widget.sidecar = sidecar
            return widget
        except Exception:
            log.exception("could not open the journal in the sidebar; showing it inline")
    if shell is None and frontend.shell() is None:  # plain Python: the table as text
        print(widget.as_text())
        return widget
    display(widget.panel())
    return widget


def refresh_open_journals() -> None:
    """Redraw every journal widget open in this kernel (a run was recorded or changed)."""
    for widget in list(_open):
        try:
            widget.refresh()
        except Exception:
            log.debug("could not refresh a journal widget", exc_info=True)


def _refresh_after_cells(shell: Any) -> None:
    shell = shell or frontend.shell()
    events = getattr(shell, "events", None)
    if events is None:
        return
    callbacks = events.callbacks.get("post_run_cell", [])
    if not any(getattr(c, "__name__", "") == "_kepler_refresh_journals" for c in callbacks):
        events.register("post_run_cell", _kepler_refresh_journals)


def _kepler_refresh_journals(*_args: Any) -> None:
    refresh_open_journals()


def _in_jupyterlab(shell: Any) -> bool:
    """JupyterLab (or Notebook 7) names the notebook in ``__session__``; VS Code has its own variable."""
    namespace = getattr(shell, "user_ns", None) or {}
    if "__vsc_ipynb_file__" in namespace:
        return False
    return bool(namespace.get("__session__"))


# -- rows and details ------------------------------------------------------------------
def _metric_columns(summaries: list[dict[str, Any]]) -> tuple[str | None, list[str]]:
    """The project's primary metric (the one most of its runs are judged by), and every other final metric."""
    counts = Counter(k for s in summaries for k, v in (s.get("final") or {}).items() if isinstance(v, (int, float)))
    judged = Counter(name for s in summaries if (name := _primary_name(s.get("final") or {})))
    primary = None
    if judged:
        top = max(judged.values())
        tied = [m for m, c in judged.items() if c == top]
        primary = min(tied, key=lambda m: PRIMARY_PREFERENCE.index(m) if m in PRIMARY_PREFERENCE else len(tied) + 9)
    others = sorted(counts, key=lambda k: (k not in ("loss", "val_loss"), not k.startswith("val_"), -counts[k], k))
    return primary, [k for k in others if k != primary]


def _primary_name(final: dict[str, Any]) -> str | None:
    """The metric to quote for a run: accuracy or loss (validation first), else an estimator's held-out score."""
    found = primary_metric(final)
    if found:
        return found[0]
    numbers = [k for k, v in final.items() if isinstance(v, (int, float))]
    for name in [k for k in numbers if k.startswith("val_")] + [k for k in ("cv_score", "oob_score") if k in numbers]:
        return name
    return numbers[0] if numbers else None


def _is_estimator(summary: dict[str, Any]) -> bool:
    return bool(summary.get("model_class")) and summary.get("framework") not in (None, "keras", "tensorflow")


def _row(summary: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
    final = summary.get("final") or {}
    counts = summary.get("findings") or {}
    done = summary.get("epochs_done")
    estimator = _is_estimator(summary)
    name = str(summary.get("name") or "")
    model = str(summary.get("model_class") if estimator else summary.get("architecture") or "")
    cells = {
        "id": str(summary["id"]),
        "name": name,
        "status": str(summary.get("status") or ""),
        "created": str(summary.get("created") or ""),  # the front end says "3 min ago"
        "model": model,
        "epochs": "—" if estimator else ("" if done is None else f"{done}/{summary.get('epochs') or '?'}"),
        "findings": " ".join(f"{counts[s]}{letter}" for s, letter in SEVERITY_LETTERS if counts.get(s)),
    }
    titles = {
        "name": f"#{summary['id']} {name}" + (f" · {model} ({summary.get('framework')})" if estimator else ""),
        "findings": finding_counts(counts),
        "epochs": "an estimator: fitted once, no epochs" if estimator else "",
    }  # fmt: skip
    for metric in metrics:
        value = final.get(metric)
        cells[metric] = charts.format_number(float(value)) if isinstance(value, (int, float)) else ""
    if estimator and summary.get("fit_seconds") is not None:
        titles["status"] = f"fitted in {charts.format_number(float(summary['fit_seconds']))} s"
    return {"id": int(summary["id"]), "cells": cells, "titles": {k: v for k, v in titles.items() if v},
            "status": cells["status"]}  # fmt: skip


def _sort_value(summary: dict[str, Any], key: str) -> Any:
    if key == "findings":
        return sum((summary.get("findings") or {}).values())
    if key == "epochs":
        return summary.get("epochs_done")
    if key == "model":
        value = summary.get("model_class") if _is_estimator(summary) else summary.get("architecture")
        return str(value).lower() if value else None
    if key in ("id", "name", "status", "created"):
        value = summary.get(key)
        return value.lower() if isinstance(value, str) else value
    value = (summary.get("final") or {}).get(key)
    return value if isinstance(value, (int, float)) else None


def _asks_for_skipped(query: str) -> bool:
    """A filter that names the skipped status shows skipped runs without the checkbox."""
    return "skipped" in query.lower()


def _diff_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What differs between the runs: the HTML comparison report's own table, each run in its chart colour."""
    from .report.views import differences

    differing, same = differences(records)
    runs = [{"id": r["id"], "label": f"#{r['id']}", "name": str(r.get("name") or ""),
             "color": chart_style.run_color(i)} for i, r in enumerate(records)]  # fmt: skip
    return {"runs": runs, "rows": differing, "same": len(same), "first": records[0]["id"]}


def _detail(record: dict[str, Any]) -> dict[str, Any]:
    """One run's settings, data, findings and curves, all as text and chart data."""
    compile_info = record.get("compile") or {}
    fit = record.get("fit") or {}
    data = record.get("data") or {}
    facts = [
        ("project", record.get("project")),
        ("status", record.get("status")),
        ("created", record.get("created")),
        ("finished", record.get("finished")),
        ("hypothesis", record.get("hypothesis")),
        ("conclusion", record.get("conclusion")),
        ("tags", ", ".join(record.get("tags") or [])),
        ("reason", record.get("reason")),
        ("same as", record.get("duplicate_of")),
        ("error", record.get("error")),
        ("notebook", record.get("notebook_path")),
        *_model_facts(record, compile_info),
        ("fit", ", ".join(f"{k}={v}" for k, v in fit.items() if v not in (None, False, [], 0.0, ""))),
        ("data", _data_text(data)),
        ("classes", data.get("class_counts")),
        ("final", ", ".join(f"{k} {charts.format_number(v)}" for k, v in (record.get("final") or {}).items())),
    ]
    findings = []
    for raw in record.get("findings") or []:
        try:
            finding = Finding.from_dict(raw)
        except Exception:  # noqa: BLE001 - an old record's odd finding still shows as text
            findings.append({"severity": str(raw.get("severity", "")), "text": str(raw)})
            continue
        if not finding.skipped:
            findings.append({"severity": finding.severity, "text": finding.line()})
    history = record.get("history") or {}
    drawn = charts.metric_charts(history, epochs=record.get("epochs"), width=260, height=170)
    return {
        "id": record["id"],
        "title": f"#{record['id']} {record.get('name') or ''}".strip(),
        "facts": [[k, _text(v)] for k, v in facts if v not in (None, "", [], {})],
        "findings": findings,
        "charts": drawn,
        "legend": charts.legend_for(drawn),
    }


def _model_facts(record: dict[str, Any], compile_info: dict[str, Any]) -> list[tuple[str, Any]]:
    if _is_estimator(record):
        version = f"{record.get('framework')} {record.get('framework_version') or ''}".strip()
        seconds = record.get("fit_seconds")
        return [
            ("estimator", f"{record.get('model_class')} ({version})"),
            ("parameters", ", ".join(f"{k}={v}" for k, v in (record.get("params") or {}).items())),
            ("fit time", f"{charts.format_number(float(seconds))} s" if seconds else None),
        ]
    return [
        ("model", f"{record.get('architecture')} ({record.get('n_params')} parameters)"),
        ("optimizer", f"{compile_info.get('optimizer')} (learning rate {_text(compile_info.get('learning_rate'))})"),
        ("loss", compile_info.get("loss")),
        ("metrics", compile_info.get("metrics")),
    ]


def _data_text(data: dict[str, Any]) -> str:
    if not data:
        return ""
    parts = [f"{data.get('n_samples')} samples", f"{data.get('n_features')} features"]
    if data.get("fingerprint"):
        parts.append(f"fingerprint {str(data['fingerprint'])[:12]}")
    return ", ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return charts.format_number(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
