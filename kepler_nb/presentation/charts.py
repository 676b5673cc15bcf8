"""Line charts of training curves, laid out in Python and drawn by whoever shows them.

A chart is plain data: its size, its ticks, its axis titles and its lines as
SVG point lists, already scaled, with each line's values per epoch for the
hover read-out. The widgets' JavaScript only draws it; :func:`charts_svg`
draws the same charts as a static SVG picture (what a saved notebook keeps).
One chart per metric, loss first: the run's training (solid) and validation
(dashed) curves in its colour, earlier runs behind it in theirs, every curve
inside the vertical range, on a log axis when the values span decades
(the rules of :mod:`.chart_style`, which the reports' figures follow too).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from . import chart_style

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

WIDTH, HEIGHT = 300, 190
MARGIN = {"left": 54, "right": 10, "top": 22, "bottom": 32}
PALETTE = chart_style.PALETTE


def metric_names(history: dict[str, Sequence[float]]) -> list[str]:
    """The metrics in ``history`` (``loss``, ``accuracy``...), each once, without ``val_``, loss first."""
    return chart_style.metric_order(history)


def metric_charts(
    history: dict[str, Sequence[float]],
    ghosts: Iterable[tuple[str, dict[str, Sequence[float]]]] = (),
    epochs: int | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> list[dict[str, Any]]:
    """One chart per metric of ``history``: training and validation, earlier runs behind, each in its colour."""
    ghosts = list(ghosts)
    color = chart_style.run_color(0)
    names = metric_names(history) or chart_style.metric_order(k for _, curves in ghosts for k in curves)
    charts = []
    for name in names:
        lines = [
            {"kind": "train", "label": name, "values": history.get(name) or [], "dashed": False, "color": color},
            {"kind": "val", "label": f"val_{name}", "values": history.get(f"val_{name}") or [], "dashed": True,
             "color": color},
        ]  # fmt: skip
        behind = []
        for index, (label, curves) in enumerate(ghosts, start=1):
            for key, dashed in ((name, False), (f"val_{name}", True)):
                if curves.get(key):
                    behind.append(
                        {"kind": "ghost", "label": f"{label} {key}", "values": curves[key], "dashed": dashed,
                         "color": chart_style.run_color(index), "run": label}
                    )  # fmt: skip
        charts.append(line_chart(name, [line for line in lines if line["values"]], behind, epochs, width, height))
    return charts


def comparison_charts(
    runs: Iterable[tuple[str, dict[str, Sequence[float]]]], width: int = WIDTH, height: int = HEIGHT
) -> list[dict[str, Any]]:
    """One chart per metric with every run's curves in its own colour (validation dashed)."""
    runs = list(runs)
    names = chart_style.metric_order(k for _, history in runs for k in history)
    charts = []
    for name in names:
        lines = []
        for i, (label, history) in enumerate(runs):
            for key, dashed in ((name, False), (f"val_{name}", True)):
                if history.get(key):
                    lines.append(
                        {"kind": "run", "label": f"{label} {key}", "values": history[key], "dashed": dashed,
                         "color": chart_style.run_color(i), "run": label}
                    )  # fmt: skip
        charts.append(line_chart(name, lines, [], None, width, height))
    return charts


def run_legend(labels: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per run (its colour), then the dashed line's meaning."""
    legend = [{"label": label, "color": chart_style.run_color(i), "kind": "run"} for i, label in enumerate(labels)]
    return legend + [{"label": "validation", "color": chart_style.NEUTRAL_INK, "dashed": True, "kind": "val"}]


def line_chart(
    title: str,
    lines: list[dict[str, Any]],
    behind: list[dict[str, Any]],
    epochs: int | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """Lay out one chart: epochs along x (1..n), values along y; ``behind`` is drawn faintly.

    Every curve, earlier runs' too, lies inside the vertical range; when the
    values span decades the axis is logarithmic, so a far-off earlier run
    doesn't flatten this one.
    """
    left, top = MARGIN["left"], MARGIN["top"]
    right, bottom = width - MARGIN["right"], height - MARGIN["bottom"]
    n = max([epochs or 0] + [len(line["values"]) for line in lines + behind] + [2])
    values = chart_style.finite(v for line in lines + behind for v in line["values"])
    log = chart_style.log_scale(values)
    if log:
        y_ticks = log_ticks(min(values), max(values))
        low, high = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    else:
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        y_ticks = nice_ticks(low, high)
        low, high = min(low, y_ticks[0]), max(high, y_ticks[-1])

    def x(epoch: int) -> float:
        return left + (right - left) * (epoch - 1) / (n - 1)

    def y(value: float) -> float:
        at = math.log10(value) if log else value
        return bottom - (bottom - top) * (at - low) / ((high - low) or 1.0)

    def drawn(line: dict[str, Any]) -> dict[str, Any]:
        segments = [
            " ".join(f"{x(i + 1):.1f},{y(v):.1f}" for i, v in segment) for segment in _finite_segments(line["values"])
        ]
        out = {k: line[k] for k in ("kind", "label", "dashed", "run") if k in line}
        out["color"] = line.get("color") or chart_style.run_color(0)
        out["segments"] = segments
        out["last"] = _last(line["values"])
        out["values"] = [format_number(float(v)) if _finite(v) else None for v in line["values"]]
        return out

    x_ticks = [e for e in nice_ticks(1, n, count=6) if e == int(e) and 1 <= e <= n]
    return {
        "title": title,
        "width": width,
        "height": height,
        "frame": {"left": left, "top": top, "right": right, "bottom": bottom},
        "x_ticks": [{"at": round(x(int(e)), 1), "label": str(int(e))} for e in x_ticks],
        "y_ticks": [{"at": round(y(v), 1), "label": format_number(v)} for v in y_ticks],
        "x_label": "epoch",
        "y_label": f"{title} (log scale)" if log else title,
        "log": log,
        "epoch_x": [round(x(e), 1) for e in range(1, n + 1)],
        "behind": [drawn(line) for line in behind],
        "lines": [drawn(line) for line in lines],
    }


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten around ``low``..``high`` (with 2 and 5 between them when the range is short)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    last = max(last, first + 1)
    ticks = [10.0**e for e in range(first, last + 1)]
    if last - first <= 2:
        ticks = sorted(t * m for t in ticks for m in (1, 2, 5))
        ticks = [t for t in ticks if t <= 10.0**last]
        while len(ticks) > 2 and ticks[1] <= low:
            ticks.pop(0)
        while len(ticks) > 2 and ticks[-2] >= high:
            ticks.pop()
    return [float(f"{t:.6g}") for t in ticks]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values from ``low`` to ``high`` (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def format_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


def charts_svg(
    charts: list[dict[str, Any]], legend: list[dict[str, Any]] | None = None, ink: str = "currentColor"
) -> str:
    """The charts side by side as one SVG document (every label escaped), on a transparent background.

    ``ink`` colours the text and, faintly, the axes and grid: ``currentColor``
    (the default) follows the page's text colour where the SVG is part of the
    page (inline HTML), so it reads in light and dark themes; a picture shown
    as an image can't see the page, and takes :data:`chart_style.NEUTRAL_INK`.
    """
    gap = 8
    total = sum(c["width"] for c in charts) + gap * max(len(charts) - 1, 0)
    rows = _legend_rows(legend or [], max(total, 1))
    height = max((c["height"] for c in charts), default=0) + 16 * len(rows) + (4 if rows else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kepler-chart-picture" width="{max(total, 1)}" '
        f'height="{max(height, 1)}" viewBox="0 0 {max(total, 1)} {max(height, 1)}" font-family="sans-serif" '
        f'font-size="10" color="{escape(ink)}" fill="{escape(ink)}">'
    ]
    offset = 0
    for chart in charts:
        parts.append(f'<g transform="translate({offset},0)">{_chart_svg(chart)}</g>')
        offset += chart["width"] + gap
    base = max((c["height"] for c in charts), default=0) + 12
    for row in rows:
        for x, item in row:
            dash = ' stroke-dasharray="5 3"' if item.get("dashed") else ""
            opacity = f' opacity="{chart_style.EARLIER_OPACITY}"' if item.get("kind") == "ghost" else ""
            parts.append(
                f'<line x1="{x}" y1="{base - 3}" x2="{x + 16}" y2="{base - 3}" stroke="{item["color"]}" '
                f'stroke-width="2"{dash}{opacity}/>'
            )
            parts.append(f'<text class="kepler-legend-text" x="{x + 20}" y="{base}">{escape(item["label"])}</text>')
        base += 16
    parts.append("</svg>")
    return "".join(parts)


def charts_html(charts: list[dict[str, Any]], legend: list[dict[str, Any]] | None = None) -> str:
    """The static charts as HTML holding the SVG inline, so its text takes the notebook theme's colour."""
    style = "color: var(--jp-ui-font-color1, #333)"
    return f'<div class="kepler-chart-static" style="{style}">{charts_svg(charts, legend)}</div>'


def picture_bundle(charts: list[dict[str, Any]], legend: list[dict[str, Any]] | None, text: str) -> dict[str, str]:
    """A static picture of the charts as a display bundle: inline SVG (follows the theme), the SVG as an
    image for viewers that show no HTML, and ``text`` where no picture shows."""
    bundle = {"text/plain": text}
    if charts:
        bundle["text/html"] = charts_html(charts, legend)
        bundle["image/svg+xml"] = charts_svg(charts, legend, ink=chart_style.NEUTRAL_INK)
    return bundle


def legend_for(charts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The legend of a run's charts: training and validation in its colour, then each earlier run in its own."""
    seen: dict[str, dict[str, Any]] = {}
    names = {"train": "training", "val": "validation"}
    for chart in charts:
        for line in chart["lines"] + chart["behind"]:
            key = line["kind"] if line["kind"] in names else line.get("run", line["label"])
            if key not in seen:
                label = names.get(line["kind"], key)
                seen[key] = {"label": label, "color": line["color"], "dashed": line["kind"] == "val",
                             "kind": line["kind"]}  # fmt: skip
    return list(seen.values())


def _legend_rows(legend: list[dict[str, Any]], width: int) -> list[list[tuple[int, dict[str, Any]]]]:
    rows: list[list[tuple[int, dict[str, Any]]]] = []
    x = width
    for item in legend:
        size = 28 + 6 * len(item["label"])
        if x + size > width and (not rows or rows[-1]):
            rows.append([])
            x = 4
        rows[-1].append((x, item))
        x += size
    return rows


def _chart_svg(chart: dict[str, Any]) -> str:
    f = chart["frame"]
    left, right, top, bottom = f["left"], f["right"], f["top"], f["bottom"]
    middle = (top + bottom) / 2
    out = [
        f'<text x="{left}" y="14" font-size="11" font-weight="600">{escape(chart["title"])}</text>',
        f'<text x="{(left + right) / 2}" y="{bottom + 26}" text-anchor="middle" opacity="0.8">'
        f"{escape(chart.get('x_label', 'epoch'))}</text>",
        f'<text transform="translate(11,{middle}) rotate(-90)" text-anchor="middle" opacity="0.8">'
        f"{escape(chart.get('y_label', chart['title']))}</text>",
    ]
    for tick in chart["y_ticks"]:
        at, label = tick["at"], escape(tick["label"])
        out.append(f'<line x1="{left}" x2="{right}" y1="{at}" y2="{at}" stroke="currentColor" stroke-opacity="0.12"/>')
        out.append(f'<text x="{left - 4}" y="{at + 3}" text-anchor="end" opacity="0.8">{label}</text>')
    for tick in chart["x_ticks"]:
        at, label = tick["at"], escape(tick["label"])
        out.append(f'<text x="{at}" y="{bottom + 13}" text-anchor="middle" opacity="0.8">{label}</text>')
    axis = 'stroke="currentColor" stroke-opacity="0.45"'
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" {axis}/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" {axis}/>')
    for line in chart["behind"]:
        out += _polylines(line, f'stroke-width="1.5" opacity="{chart_style.EARLIER_OPACITY}"')
    for line in chart["lines"]:
        out += _polylines(line, 'stroke-width="2"')
    return "".join(out)


def _polylines(line: dict[str, Any], style: str) -> list[str]:
    dash = ' stroke-dasharray="5 3"' if line.get("dashed") else ""
    return [
        f'<polyline points="{points}" fill="none" stroke="{line["color"]}" {style}{dash}/>'
        if " " in points
        else f'<circle cx="{points.split(",")[0]}" cy="{points.split(",")[1]}" r="2.5" fill="{line["color"]}"/>'
        for points in line["segments"]
        if points
    ]


def _finite_segments(values: Sequence[float]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if _finite(v):
            segments[-1].append((i, float(v)))
        elif segments[-1]:
            segments.append([])
    return [s for s in segments if s]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _last(values: Sequence[float]) -> str:
    for v in reversed(values):
        if _finite(v):
            return format_number(float(v))
    return ""
