"""Line charts of training curves, laid out in Python and drawn by whoever shows them.

A chart is plain data: its size, its ticks and its lines as SVG point lists,
already scaled. The widgets' JavaScript only draws it; :func:`charts_svg`
draws the same charts as a static SVG image (what a saved notebook keeps).
One chart per metric: the run's training and validation curves, and the
curves of earlier runs drawn faintly behind them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

WIDTH, HEIGHT = 300, 190
MARGIN = {"left": 46, "right": 10, "top": 22, "bottom": 26}
# Earlier runs may reach far beyond this run's values; the vertical range
# follows this run, extended by at most this many of its own spans.
GHOST_REACH = 2.0
COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "ghost": "#7f7f7f"}
# Colours of the runs compared in the journal (one per run, cycling).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def metric_names(history: dict[str, Sequence[float]]) -> list[str]:
    """The metrics in ``history`` (``loss``, ``accuracy``...), each once, without the ``val_`` prefix."""
    names: list[str] = []
    for key in history:
        name = key[4:] if key.startswith("val_") else key
        if name not in names:
            names.append(name)
    return names


def metric_charts(
    history: dict[str, Sequence[float]],
    ghosts: Iterable[tuple[str, dict[str, Sequence[float]]]] = (),
    epochs: int | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> list[dict[str, Any]]:
    """One chart per metric of ``history``: training and validation, earlier runs behind."""
    ghosts = list(ghosts)
    charts = []
    for name in metric_names(history):
        lines = [
            {"kind": "train", "label": name, "values": history.get(name) or [], "dashed": False},
            {"kind": "val", "label": f"val_{name}", "values": history.get(f"val_{name}") or [], "dashed": True},
        ]
        behind = []
        for label, curves in ghosts:
            for key, dashed in ((name, False), (f"val_{name}", True)):
                if curves.get(key):
                    behind.append({"kind": "ghost", "label": f"{label} {key}", "values": curves[key], "dashed": dashed})
        charts.append(line_chart(name, [line for line in lines if line["values"]], behind, epochs, width, height))
    return charts


def comparison_charts(
    runs: Iterable[tuple[str, dict[str, Sequence[float]]]], width: int = WIDTH, height: int = HEIGHT
) -> list[dict[str, Any]]:
    """One chart per metric with every run's curves in its own colour (validation dashed)."""
    runs = list(runs)
    names: list[str] = []
    for _, history in runs:
        names += [n for n in metric_names(history) if n not in names]
    charts = []
    for name in names:
        lines = []
        for i, (label, history) in enumerate(runs):
            color = PALETTE[i % len(PALETTE)]
            for key, dashed in ((name, False), (f"val_{name}", True)):
                if history.get(key):
                    lines.append(
                        {
                            "kind": "run",
                            "label": f"{label} {key}",
                            "values": history[key],
                            "dashed": dashed,
                            "color": color,
                        }
                    )
        charts.append(line_chart(name, lines, [], None, width, height))
    return charts


def line_chart(
    title: str,
    lines: list[dict[str, Any]],
    behind: list[dict[str, Any]],
    epochs: int | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """Lay out one chart: epochs along x (1..n), values along y; ``behind`` is drawn faintly."""
    left, top = MARGIN["left"], MARGIN["top"]
    right, bottom = width - MARGIN["right"], height - MARGIN["bottom"]
    n = max([epochs or 0] + [len(line["values"]) for line in lines + behind] + [2])
    low, high = _value_range(lines, behind)
    y_ticks = nice_ticks(low, high)
    low, high = min(low, y_ticks[0]), max(high, y_ticks[-1])

    def x(epoch: int) -> float:
        return left + (right - left) * (epoch - 1) / (n - 1)

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return bottom - (bottom - top) * (clipped - low) / ((high - low) or 1.0)

    def drawn(line: dict[str, Any]) -> dict[str, Any]:
        segments = [
            " ".join(f"{x(i + 1):.1f},{y(v):.1f}" for i, v in segment) for segment in _finite_segments(line["values"])
        ]
        out = {k: line[k] for k in ("kind", "label", "dashed") if k in line}
        out["color"] = line.get("color") or COLORS.get(line["kind"], "#333")
        out["segments"] = segments
        out["last"] = _last(line["values"])
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
        "behind": [drawn(line) for line in behind],
        "lines": [drawn(line) for line in lines],
    }


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


def charts_svg(charts: list[dict[str, Any]], legend: list[dict[str, Any]] | None = None) -> str:
    """The charts side by side as one SVG document (every label escaped)."""
    gap = 8
    total = sum(c["width"] for c in charts) + gap * max(len(charts) - 1, 0)
    legend_height = 18 if legend else 0
    height = max((c["height"] for c in charts), default=0) + legend_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(total, 1)}" height="{max(height, 1)}" '
        'font-family="sans-serif" font-size="10">'
    ]
    offset = 0
    for chart in charts:
        parts.append(f'<g transform="translate({offset},0)">{_chart_svg(chart)}</g>')
        offset += chart["width"] + gap
    if legend:
        x = 4
        base = height - 5
        for item in legend:
            dash = ' stroke-dasharray="5 3"' if item.get("dashed") else ""
            opacity = ' opacity="0.35"' if item.get("kind") == "ghost" else ""
            parts.append(
                f'<line x1="{x}" y1="{base - 3}" x2="{x + 16}" y2="{base - 3}" stroke="{item["color"]}" '
                f'stroke-width="2"{dash}{opacity}/>'
            )
            parts.append(f'<text x="{x + 20}" y="{base}" fill="#555">{escape(item["label"])}</text>')
            x += 28 + 6 * len(item["label"])
    parts.append("</svg>")
    return "".join(parts)


def legend_for(charts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One legend entry per kind of line drawn (training, validation, earlier runs)."""
    seen: dict[str, dict[str, Any]] = {}
    names = {"train": "training", "val": "validation", "ghost": "similar earlier runs"}
    for chart in charts:
        for line in chart["lines"] + chart["behind"]:
            key = line["kind"] if line["kind"] in names else line["label"]
            if key not in seen:
                label = names.get(line["kind"], line["label"])
                seen[key] = {"label": label, "color": line["color"], "dashed": line.get("dashed"), "kind": line["kind"]}
    return list(seen.values())


def _chart_svg(chart: dict[str, Any]) -> str:
    f = chart["frame"]
    left, right, bottom = f["left"], f["right"], f["bottom"]
    out = [
        f'<rect x="0.5" y="0.5" width="{chart["width"] - 1}" height="{chart["height"] - 1}" '
        'fill="#fff" stroke="#e0e0e0"/>',
        f'<text x="{left}" y="14" font-size="11" font-weight="600" fill="#222">{escape(chart["title"])}</text>',
    ]
    for tick in chart["y_ticks"]:
        at, label = tick["at"], escape(tick["label"])
        out.append(f'<line x1="{left}" x2="{right}" y1="{at}" y2="{at}" stroke="#eee"/>')
        out.append(f'<text x="{left - 4}" y="{at + 3}" text-anchor="end" fill="#555">{label}</text>')
    for tick in chart["x_ticks"]:
        at, label = tick["at"], escape(tick["label"])
        out.append(f'<text x="{at}" y="{bottom + 13}" text-anchor="middle" fill="#555">{label}</text>')
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#bbb"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{f["top"]}" y2="{bottom}" stroke="#bbb"/>')
    for line in chart["behind"]:
        out += _polylines(line, 'stroke-width="1.5" opacity="0.22"')
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


def _value_range(lines: list[dict[str, Any]], behind: list[dict[str, Any]]) -> tuple[float, float]:
    own = [v for line in lines for v in line["values"] if _finite(v)]
    others = [v for line in behind for v in line["values"] if _finite(v)]
    if not own and not others:
        return 0.0, 1.0
    if not own:
        return min(others), max(others)
    low, high = min(own), max(own)
    if others:
        span = (high - low) or abs(high) * 0.1 or 1.0
        low = max(min(low, min(others)), low - GHOST_REACH * span)
        high = min(max(high, max(others)), high + GHOST_REACH * span)
    return low, high


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
