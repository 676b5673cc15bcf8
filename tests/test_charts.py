"""Chart layout: one chart per metric, earlier runs behind, scaled points; a static SVG of the same."""

from __future__ import annotations

import math

from kepler_nb.presentation.chart_style import NEUTRAL_INK, PALETTE, metric_order
from kepler_nb.presentation.charts import (
    charts_html,
    charts_svg,
    comparison_charts,
    legend_for,
    metric_charts,
    metric_names,
    nice_ticks,
)
from kepler_nb.presentation.report.plots import metric_groups

HISTORY = {
    "loss": [0.9, 0.6, 0.5],
    "accuracy": [0.5, 0.7, 0.8],
    "val_loss": [1.0, 0.7, 0.65],
    "val_accuracy": [0.4, 0.6, 0.7],
}


def points(segment: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in segment.split()]


def test_one_chart_per_metric_with_training_and_validation():
    assert metric_names(HISTORY) == ["loss", "accuracy"]
    charts = metric_charts(HISTORY, epochs=5)
    assert [c["title"] for c in charts] == ["loss", "accuracy"]
    loss = charts[0]
    assert [(line["kind"], line["dashed"]) for line in loss["lines"]] == [("train", False), ("val", True)]
    assert [t["label"] for t in loss["x_ticks"]] == ["1", "2", "3", "4", "5"], "the axis spans the planned epochs"
    xs = [x for x, _ in points(loss["lines"][0]["segments"][0])]
    assert len(xs) == 3 and xs == sorted(xs) and xs[-1] < loss["frame"]["right"]
    ys = [y for _, y in points(loss["lines"][0]["segments"][0])]
    assert ys[0] < ys[1] < ys[2], "a falling loss is drawn going down (SVG y grows downwards)"
    assert loss["lines"][0]["last"] == "0.5"


def test_earlier_runs_lie_inside_the_range_each_in_its_colour_on_a_log_axis_when_they_span_decades():
    ghost = {"loss": [50.0, 40.0, 0.4], "val_loss": [60.0, 30.0, 0.45]}
    other = {"loss": [2.0, 1.5, 1.2]}
    loss = metric_charts(HISTORY, [("#3 baseline", ghost), ("#4 wider", other)])[0]
    assert [line["label"] for line in loss["behind"]] == ["#3 baseline loss", "#3 baseline val_loss", "#4 wider loss"]
    frame = loss["frame"]
    for line in loss["behind"] + loss["lines"]:
        for segment in line["segments"]:
            assert all(frame["top"] <= y <= frame["bottom"] for _, y in points(segment))
    baseline = [y for _, y in points(loss["behind"][0]["segments"][0])]
    assert baseline[0] < baseline[1] < baseline[2], "an earlier run keeps its shape (50 > 40 > 0.4), never clamped flat"
    assert loss["log"] and loss["y_label"] == "loss (log scale)", "0.4 to 60 spans two decades"
    assert [t["label"] for t in loss["y_ticks"]] == ["0.1", "1", "10", "100"]
    own = [y for _, y in points(loss["lines"][0]["segments"][0])]
    assert max(own) - min(own) > 5, "this run still shows its fall"
    colors = [line["color"] for line in loss["lines"]] + [line["color"] for line in loss["behind"]]
    assert colors[0] == colors[1] == PALETTE[0] and colors[2] == colors[3] == PALETTE[1] and colors[4] == PALETTE[2], (
        "one colour per run: this run's training and validation share one, each earlier run has its own"
    )
    legend = legend_for([loss])
    assert [(i["label"], i["color"]) for i in legend] == [
        ("training", PALETTE[0]),
        ("validation", PALETTE[0]),
        ("#3 baseline", PALETTE[1]),
        ("#4 wider", PALETTE[2]),
    ]
    assert not metric_charts(HISTORY)[0]["log"], "a loss from 0.5 to 1 stays on a linear axis"


def test_charts_carry_axis_titles_and_the_values_to_show_under_the_pointer():
    loss = metric_charts(HISTORY, epochs=5)[0]
    assert (loss["x_label"], loss["y_label"]) == ("epoch", "loss")
    assert len(loss["epoch_x"]) == 5 and loss["epoch_x"] == sorted(loss["epoch_x"])
    assert loss["lines"][1]["values"] == ["1", "0.7", "0.65"]
    assert metric_charts({"loss": [1.0, math.nan]})[0]["lines"][0]["values"] == ["1", None]


def test_metrics_come_loss_first_everywhere():
    history = {"accuracy": [0.5], "val_accuracy": [0.4], "loss": [1.0], "val_loss": [1.1]}
    assert metric_names(history) == ["loss", "accuracy"] == metric_order(history)
    assert [c["title"] for c in comparison_charts([("a", history)])] == ["loss", "accuracy"]
    assert [base for base, _, _ in metric_groups(list(history))] == ["loss", "accuracy"]


def test_a_nan_epoch_breaks_the_line():
    chart = metric_charts({"loss": [1.0, math.nan, 0.5, 0.4]})[0]
    segments = chart["lines"][0]["segments"]
    assert [len(points(s)) for s in segments] == [1, 2]


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(0, 1) == [0.0, 0.25, 0.5, 0.75, 1.0]
    ticks = nice_ticks(0.31, 0.87)
    assert ticks[0] <= 0.31 and ticks[-1] >= 0.87
    assert nice_ticks(2.0, 2.0)[0] < 2.0 < nice_ticks(2.0, 2.0)[-1]


def test_comparison_gives_each_run_its_colour():
    charts = comparison_charts([("#1 a", HISTORY), ("#2 b", {"loss": [0.8, 0.7]})])
    loss = charts[0]
    colors = {line["label"]: line["color"] for line in loss["lines"]}
    assert colors["#1 a loss"] == colors["#1 a val_loss"] != colors["#2 b loss"]
    assert [c["title"] for c in charts] == ["loss", "accuracy"]


def test_the_static_svg_escapes_every_label():
    charts = metric_charts({"loss": [1.0, 0.5]}, [("<script>alert(1)</script>", {"loss": [2.0, 1.0]})])
    charts[0]["title"] = "<b>loss</b>"
    svg = charts_svg(charts, legend_for(charts))
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "<b>" not in svg and "&lt;b&gt;loss&lt;/b&gt;" in svg
    assert "<script" not in svg


def test_the_static_picture_is_transparent_and_takes_the_pages_text_colour():
    charts = metric_charts({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    svg = charts_svg(charts, legend_for(charts))
    assert "#fff" not in svg and "<rect" not in svg, "no white panel behind the chart"
    assert 'fill="currentColor"' in svg and "kepler-legend-text" in svg
    assert 'fill="#7c7c7c"' in charts_svg(charts, legend_for(charts), ink=NEUTRAL_INK)
    assert charts_html(charts, legend_for(charts)).startswith('<div class="kepler-chart-static"')
