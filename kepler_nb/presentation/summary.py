"""The summary of one fit, shown in one place, and the line that says what was recorded.

A fit's findings (before and during training), the notes about earlier runs
(a model fitted again, a transfer candidate, teammates' runs, where to
compare curves) and the checks that were skipped are gathered in one
``FitSummary``. In a notebook kernel it is one output, updated in place as
the fit goes on: HTML with a badge per severity and every finding's fix
behind a ``<details>`` (user-written text escaped), and a plain-text form
for terminals and the saved notebook's text. A finding already shown in
full earlier in this process is named in one line, not repeated: a cell
fitting 20 variants says "K303 ... as above" 19 times, not 40 lines.
Outside a kernel (a terminal IPython, a script) each part is printed once,
as it comes. Every run ends with one line (:func:`end_line`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..journal.similarity import primary_metric
from . import frontend
from .text import finding_counts, format_finding, number, terminal_safe

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..checks.finding import Finding

# Finding lines shown in full in this process, and the checks whose fix was shown: later
# summaries name the same finding in one line, and give another finding of a check without its fix.
_shown_in_full: set[str] = set()
_fix_shown: set[str] = set()

# Severity colours are JupyterLab's own (--jp-error-color1 and the like), so they follow its theme;
# the fallbacks are for renderers without them (nbviewer, saved HTML, VS Code). A badge's text is
# the severity colour mixed 60/40 with the theme's strongest text colour (black in a light theme,
# white in a dark one) on a tint of the page's background: at least 4.5:1 in JupyterLab Light and
# Dark alike, where the plain severity colours on white or white on them are not (orange, cyan).
SEVERITY_COLOURS = {
    "error": "var(--jp-error-color1,#d32f2f)",
    "warning": "var(--jp-warn-color1,#f57c00)",
    "info": "var(--jp-info-color1,#0097a7)",
}
OTHER_COLOUR = "var(--jp-ui-font-color2,#757575)"
_MIX = "color-mix(in srgb,var(--kepler-sev) {}%,{})"
CSS = (
    "<style>.kepler-summary{font:13px/1.45 var(--jp-ui-font-family,sans-serif);margin:2px 0}"
    ".kepler-summary summary{cursor:pointer}.kepler-summary ul{margin:2px 0 2px 18px;padding:0}"
    ".kepler-summary li{list-style:none;margin:1px 0;padding-left:7px;border-left:3px solid transparent}"
    + "".join(f".kepler-summary .kepler-sev-{k}{{--kepler-sev:{v}}}" for k, v in SEVERITY_COLOURS.items())
    + f".kepler-summary .kepler-sev-other{{--kepler-sev:{OTHER_COLOUR}}}"
    + ".kepler-summary-badge{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;"
    "font-size:11px;font-weight:600;padding:0 4px;margin-right:4px;line-height:1.45;"
    "color:var(--kepler-sev);border:1px solid var(--kepler-sev);background:transparent;"
    f"color:{_MIX.format(60, 'var(--jp-content-font-color0,#000)')};"
    f"background:{_MIX.format(14, 'var(--jp-layout-color0,#fff)')}}}"
    ".kepler-summary li.kepler-error{border-left-color:var(--kepler-sev);"
    f"background:{_MIX.format(8, 'transparent')}}}"
    ".kepler-fix{color:var(--jp-content-font-color1,#333);margin-left:5.2em}</style>"
)


def reset_shown() -> None:
    """Forget which findings were shown in full (tests)."""
    _shown_in_full.clear()
    _fix_shown.clear()


@dataclass
class FitSummary:
    """What Kepler has to say about one fit, gathered so it is said once."""

    findings: list[Finding] = field(default_factory=list)  # before training
    training: list[Finding] = field(default_factory=list)  # found while training
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # codes of checks that could not judge

    def is_empty(self) -> bool:
        return not (self.findings or self.training or self.notes or self.skipped)

    def heading(self) -> str:
        """``Kepler: 1 warning, 2 infos before training; 1 info during training; 3 checks skipped (K502, ...)``."""
        parts = []
        for found, when in ((self.findings, "before training"), (self.training, "during training")):
            counts = finding_counts(_counts(found))
            if counts:
                parts.append(f"{counts} {when}")
        if not parts:
            parts.append("no findings" + (" so far" if not self.training else ""))
        if self.skipped:
            parts.append(self.skipped_text())
        return "Kepler: " + "; ".join(parts)

    def skipped_text(self) -> str:
        checks = "check" if len(self.skipped) == 1 else "checks"
        return f"{len(self.skipped)} {checks} skipped ({', '.join(self.skipped)}; `%kepler findings` says why)"

    def text(self) -> str:
        """The plain-text form: the heading, new findings in full, repeated ones in one line, the notes."""
        found = finding_lines(self.findings + self.training)
        lines = [self.heading()] + ["  " + line.replace("\n", "\n  ") for line in found]
        lines += [f"  {note}" for note in self.notes]
        return terminal_safe("\n".join(lines))

    def html(self) -> str:
        """The HTML form: a badge per finding, its fix behind ``<details>``; notes and skipped checks below."""
        items = [_finding_html(f) for f in self.findings + self.training]
        items += [f"<li>{_rich(note)}</li>" for note in self.notes]
        body = f"<ul>{''.join(items)}</ul>" if items else ""
        return f'{CSS}<div class="kepler-summary"><b>{_rich(self.heading())}</b>{body}</div>'

    def bundle(self) -> dict[str, str]:
        """The mimebundle: HTML for notebooks, text for terminals and the saved notebook's text."""
        return {"text/html": self.html(), "text/plain": self.text()}

    def mark_shown(self) -> None:
        """Remember these findings as shown in full: the next summaries name them in one line."""
        _shown_in_full.update(f.line() for f in self.findings + self.training)
        _fix_shown.update(f.code for f in self.findings + self.training if f.fix)


class SummaryOutput:
    """Where one fit's summary appears: a display updated in place in a kernel, else printed part by part."""

    def __init__(self, summary: FitSummary, show: Callable[[str], Any] = print) -> None:
        self.summary = summary
        self.show = show
        self.handle: Any = None
        self.printed: set[str] = set()  # parts already printed, outside a kernel

    def publish(self) -> None:
        """Show what the summary holds now (nothing while it is empty)."""
        summary = self.summary
        if summary.is_empty():
            return
        if frontend.kernel() is not None:
            self._display(summary.bundle())
            return
        for part in self._parts():
            if part not in self.printed:
                self.printed.add(part)
                self.show(part)

    def close(self) -> None:
        """The fit is over: its findings count as shown."""
        self.publish()
        self.summary.mark_shown()

    def _display(self, bundle: dict[str, str]) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def _parts(self) -> list[str]:
        """The summary as separate lines for a terminal, in the order they came."""
        summary = self.summary
        parts = [_kepler(line) for line in finding_lines(summary.findings)]
        if summary.skipped:
            parts.append(f"Kepler: {summary.skipped_text()}")
        parts += [_kepler(line) for line in finding_lines(summary.training)]
        return parts + [f"Kepler: {note}" for note in summary.notes]


def finding_lines(findings: list[Finding]) -> list[str]:
    """Each finding in full (with its fix), but those shown in full before: named together in one line."""
    lines, repeated = [], []
    for finding in findings:
        if finding.line() in _shown_in_full:
            repeated.append(f"{finding.code} {finding.name}")
        elif finding.code in _fix_shown:
            lines.append(finding.line())  # its fix was shown with an earlier finding of this check
        else:
            lines.append(format_finding(finding))
    if repeated:
        lines.append(f"again (shown in full above): {', '.join(repeated)}")
    return lines


def end_line(experiment: Any, status: str, done: str, seconds: float, final: dict[str, Any]) -> str:
    """``Kepler: experiment 12 finished: 30/30 epochs in 3.2 s; val_accuracy 0.958``: what was recorded.

    ``done`` says how far it got (:func:`epochs_done`, or ``"SVC fitted"``); the metric quoted is the
    one a reader compares first.
    """
    metric = primary_metric(final or {})
    quoted = f"; {metric[0]} {number(metric[1])}" if metric else ""
    return f"Kepler: experiment {experiment} {status}: {done} in {seconds_text(seconds)}{quoted}"


def epochs_done(done: int | None, planned: int | None) -> str:
    """``30/30 epochs`` (``2 epochs`` when the plan is unknown)."""
    count = done or 0
    return f"{count}/{planned} epochs" if planned else f"{count} epoch{'s' if count != 1 else ''}"


def seconds_text(seconds: float) -> str:
    """``3.2 s``, ``45 s``, ``4 min``, ``1.5 h``."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10:
        return f"{seconds:.0f} s"
    return f"{seconds:.2g} s" if seconds < 0.1 else f"{seconds:.1f} s"


def _kepler(line: str) -> str:
    return line if line[:1] == "K" and line[1:2].isdigit() else f"Kepler: {line}"


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def _finding_html(finding: Finding) -> str:
    severity = finding.severity if finding.severity in SEVERITY_COLOURS else "other"
    badge = f'<span class="kepler-summary-badge">{_escape(finding.severity)}</span>'
    head = f"{badge}<b>{_escape(finding.code)}</b> {_escape(finding.name)}: {_rich(finding.message)}"
    fix = f"→ {_rich(finding.fix)} " if finding.fix else ""
    more = f'<div class="kepler-fix">{fix}(<code>%kepler explain {_escape(finding.code)}</code>)</div>'
    css = f"kepler-sev-{severity}" + (" kepler-error" if finding.severity == "error" else "")
    return f'<li class="{css}"><details><summary>{head}</summary>{more}</details></li>'


def _escape(text: str) -> str:
    return html.escape(terminal_safe(str(text)))


def _rich(text: str) -> str:
    """Escaped, with `code` in backticks shown as code (the backticks are for the text form)."""
    parts = _escape(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: not code spans
        return "`".join(parts)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
