"""Self-contained HTML reports: one experiment, a comparison, or a whole project.

A report is one HTML file that needs nothing else to be read: CSS inline,
curves as ``data:`` SVG images, no script at all (a Content-Security-Policy
forbids any, and every request but ``data:`` images). Everything the user
wrote (names, tags, hypothesis, cell source, layer and metric names) goes
through Jinja2's autoescaping or Pygments, which escapes as it highlights.

Records are read through :meth:`Journal.get` and :meth:`Journal.experiments`
only. From the records up:

- :mod:`.views`: records into plain values the templates show
  (:mod:`.estimator` for a scikit-learn run's parameters, candidates and scores);
- :mod:`.plots`: learning curves as SVG images;
- :mod:`.markup`: numbers as short text, highlighted source, check docs as HTML;
- :mod:`.rendering`: the views through the templates (``templates/``) into a file.
"""

from .markup import doc_html, fmt, highlight
from .rendering import (
    comparison_html,
    default_filename,
    experiment_html,
    export_html,
    project_html,
    render,
    report_html,
)
from .views import comparison_view, experiment_view, project_view

__all__ = [
    "comparison_html",
    "comparison_view",
    "default_filename",
    "doc_html",
    "experiment_html",
    "experiment_view",
    "export_html",
    "fmt",
    "highlight",
    "project_html",
    "project_view",
    "render",
    "report_html",
]
