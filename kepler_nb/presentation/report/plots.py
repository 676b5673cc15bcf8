"""Learning curves for the HTML reports, drawn by matplotlib as SVG images.

Each metric gets one small figure (training solid, validation dashed), so the
report can lay them out in a grid that folds to one column on a narrow
screen. Figures are built with ``matplotlib.figure.Figure`` directly: the
user's pyplot state and backend are never touched. Text is drawn as paths and
math parsing is off, so a metric or run name is only ever pixels; the SVG is
embedded as a ``data:`` image, which a browser never runs scripts in.
"""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING, Any

from .. import chart_style

if TYPE_CHECKING:
    from collections.abc import Sequence

# One colour per run in a comparison, as in the notebook's charts (chart_style.py).
PALETTE = chart_style.PALETTE
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
FIGSIZE = (4.6, 2.9)  # inches; rendered at up to ~440 px wide
MAX_POINTS = 2000  # longer curves are thinned, the last point always kept

RC = {
    "text.parse_math": False,
    "svg.fonttype": "path",
    "svg.hashsalt": "kepler",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": MUTED,
    "axes.titlecolor": INK,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


def metric_groups(names: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """Pair each metric with its validation twin: ``[(base, train_key, val_key), ...]``, loss first."""
    names = list(names)
    bases = chart_style.metric_order(names)
    return [(b, b if b in names else None, "val_" + b if "val_" + b in names else None) for b in bases]


def curve_images(runs: Sequence[tuple[str, dict[str, list[float]]]]) -> list[dict[str, Any]]:
    """One SVG image per metric, every run on the same axes.

    ``runs`` is ``[(label, history), ...]``; with one run the legend only tells
    training from validation. Returns ``[{"metric", "uri", "alt"}, ...]``.
    """
    names: list[str] = []
    for _, history in runs:
        names += [k for k, v in (history or {}).items() if k not in names and _finite(v)]
    images = []
    for base, train_key, val_key in metric_groups(names):
        uri = _figure(base, runs, train_key, val_key)
        if uri:
            images.append({"metric": base, "uri": uri, "alt": f"{base} per epoch"})
    return images


def _figure(base: str, runs: Sequence[tuple[str, dict]], train_key: str | None, val_key: str | None) -> str | None:
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    several = len(runs) > 1
    legend_rows = math.ceil((len(runs) + 2) / 3) if several else 0
    with rc_context(RC):
        # Fixed margins: a quarter of the time a constrained layout takes, and every figure aligned alike.
        width, height = FIGSIZE[0], FIGSIZE[1] + 0.2 * legend_rows
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=0.78 / width, right=1 - 0.15 / width, top=1 - 0.3 / height)
        fig.subplots_adjust(bottom=(0.48 + 0.2 * legend_rows + (0.1 if legend_rows else 0)) / height)
        ax = fig.add_subplot()
        drawn, shown_runs, styles = 0, [], set()
        for index, (label, history) in enumerate(runs):
            color = PALETTE[index % len(PALETTE)]
            for key, style, part in ((train_key, "-", "train"), (val_key, "--", "validation")):
                values = (history or {}).get(key) if key else None
                xs, ys = _points(values or [])
                if not xs:
                    continue
                marker = "o" if len(xs) == 1 else None
                ax.plot(xs, ys, style, color=color, lw=1.8, label=part, marker=marker, ms=4)
                drawn += 1
                styles.add(part)
                if label not in [r[0] for r in shown_runs]:
                    shown_runs.append((label, color))
        if not drawn:
            return None
        if several:
            # One entry per run (its colour), then one per line style: short enough to read.
            handles = [Line2D([], [], color=c, lw=2, label=_short(label, 22)) for label, c in shown_runs]
            handles += [
                Line2D([], [], color=MUTED, lw=1.5, ls=ls, label=part)
                for part, ls in (("train", "-"), ("validation", "--"))
                if part in styles
            ]
            fig.legend(handles=handles, loc="lower center", ncol=min(3, len(handles)), bbox_to_anchor=(0.5, 0.0))
        else:
            ax.legend(loc="best")
        ax.set_title(_short(base, 48), loc="left")
        ax.set_xlabel("epoch")
        log = _spans_decades(ax)
        ax.set_ylabel(f"{_short(base, 30)} (log scale)" if log else _short(base, 30))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color=GRID, lw=0.8)
        ax.spines[["top", "right"]].set_visible(False)
        if log:
            ax.set_yscale("log")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _points(values: Sequence[Any]) -> tuple[list[int], list[float]]:
    pairs = [(i + 1, float(v)) for i, v in enumerate(values) if _is_finite(v)]
    if len(pairs) > MAX_POINTS:
        step = math.ceil(len(pairs) / MAX_POINTS)
        pairs = pairs[::step] + ([pairs[-1]] if (len(pairs) - 1) % step else [])
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _spans_decades(ax: Any) -> bool:
    """The curves drawn span decades: a log axis, by the rule every Kepler chart follows."""
    return chart_style.log_scale([y for line in ax.get_lines() for y in line.get_ydata()])


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _finite(values: Any) -> bool:
    return isinstance(values, list) and any(_is_finite(v) for v in values)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
