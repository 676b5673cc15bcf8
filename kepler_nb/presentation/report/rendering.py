"""Rendering: views through the Jinja2 templates into one self-contained HTML file.

The templates live in ``templates/`` beside this module and autoescape
everything; :func:`render` adds what every page shows (when it was generated,
by which Kepler version, the highlighting CSS).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from ...fit.environment import kepler_version
from ...journal.journal import Journal
from .markup import fmt, shape_text
from .views import comparison_view, experiment_view, project_view

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence


# -- public ------------------------------------------------------------------------
def export_html(
    experiment_id: int | str | Sequence[int | str] | None = None,
    path: str | os.PathLike | None = None,
    *,
    project: str | None = None,
    journal: Journal | None = None,
    with_notebook: bool = False,
) -> Path:
    """Write an HTML report and return its path.

    One id gives an experiment report, several a comparison; ``project=``
    (and no id) a summary of every experiment of that project, each with its
    own section. Without ``path`` (or with a folder) the file is named
    ``kepler-<id>.html``, ``kepler-compare-<ids>.html`` or
    ``kepler-<project>.html``. A report is meant to be shared: it shows the
    run's own cell, and the rest of the notebook only ``with_notebook``.
    """
    html = report_html(experiment_id, project=project, journal=journal, with_notebook=with_notebook)
    default = default_filename(experiment_id, project)
    target = Path(path) if path is not None else Path(default)
    if target.is_dir():
        target = target / default
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


def report_html(
    experiment_id: int | str | Sequence[int | str] | None = None,
    *,
    project: str | None = None,
    journal: Journal | None = None,
    with_notebook: bool = False,
) -> str:
    """The report :func:`export_html` would write, as a string (for a widget to offer as a download)."""
    journal = journal or Journal()
    ids = _as_ids(experiment_id)
    if project is not None and ids:
        raise ValueError("export either experiment ids or a project, not both")
    if project is not None:
        return project_html(project, journal)
    if len(ids) == 1:
        return experiment_html(ids[0], journal, with_notebook=with_notebook)
    if ids:
        return comparison_html(ids, journal)
    raise ValueError("export needs an experiment id (or several, to compare them), or project=")


def default_filename(experiment_id: int | str | Sequence[int | str] | None = None, project: str | None = None) -> str:
    """``kepler-3.html``, ``kepler-compare-1-2-3.html`` or ``kepler-<project>.html``."""
    ids = _as_ids(experiment_id)
    if project is not None:
        return f"kepler-{_slug(project)}.html"
    if len(ids) == 1:
        return f"kepler-{_slug(str(ids[0]))}.html"
    return f"kepler-compare-{'-'.join(_slug(str(i)) for i in ids)}.html"


def experiment_html(experiment_id: int | str, journal: Journal | None = None, with_notebook: bool = False) -> str:
    """The report of one experiment, as an HTML string (the notebook's other cells only ``with_notebook``)."""
    journal = journal or Journal()
    record = journal.get(experiment_id)
    view = experiment_view(record, journal, summaries=journal.experiments(), with_notebook=with_notebook)
    return render("experiment.html.j2", title=f"#{record['id']} {record.get('name') or ''}", e=view)


def comparison_html(experiment_ids: Sequence[int | str], journal: Journal | None = None) -> str:
    """Several experiments side by side: what differs, their metrics, their curves on shared axes."""
    journal = journal or Journal()
    records = [journal.get(i) for i in experiment_ids]
    title = "Comparison of " + ", ".join(f"#{r['id']}" for r in records)
    return render("comparison.html.j2", title=title, c=comparison_view(records))


def project_html(project: str, journal: Journal | None = None) -> str:
    """Every experiment of ``project``: a table of key metrics, then one section per experiment."""
    journal = journal or Journal()
    return render("project.html.j2", title=f"Project {project}", p=project_view(project, journal))


def render(template: str, **context: Any) -> str:
    """One of the report templates, filled with ``context`` and what every page shows."""
    from pygments.formatters import HtmlFormatter

    return (
        _environment()
        .get_template(template)
        .render(
            generated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z"),
            version=kepler_version(),
            pygments_css=Markup(HtmlFormatter(style="default").get_style_defs(".kp-hl")),
            **context,
        )
    )


# -- helpers ----------------------------------------------------------------------
_ENVIRONMENT: Environment | None = None


def _environment() -> Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        env = Environment(
            loader=PackageLoader("kepler_nb.presentation.report", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["num"] = fmt
        env.filters["pct"] = lambda v: f"{v:.1f}%"
        env.filters["shape"] = shape_text
        _ENVIRONMENT = env
    return _ENVIRONMENT


def _as_ids(value: Any) -> list[int | str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _slug(text: str) -> str:
    """A file-name part: safe characters only, short enough for any file system (names stop at 255 bytes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80].strip("-") or "project"
