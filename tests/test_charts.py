"""Chart layout: one chart per metric, earlier runs behind, scaled points; a static SVG of the same."""

from __future__ import annotations

import math

from kepler_nb.presentation.charts import (
    charts_svg,
    comparison_charts,
    legend_for,
    metric_charts,
    metric_names,
    nice_ticks,
)

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


def test_earlier_runs_are_drawn_behind_and_cannot_squash_this_run():
    ghost = {"loss": [50.0, 40.0, 0.4], "val_loss": [60.0, 30.0, 0.45]}
    loss = metric_charts(HISTORY, [("#3 baseline", ghost)])[0]
    assert [line["label"] for line in loss["behind"]] == ["#3 baseline loss", "#3 baseline val_loss"]
    frame = loss["frame"]
    for line in loss["behind"] + loss["lines"]:
        for segment in line["segments"]:
            assert all(frame["top"] <= y <= frame["bottom"] for _, y in points(segment))
    own = [y for _, y in points(loss["lines"][0]["segments"][0])]
    assert max(own) - min(own) > (frame["bottom"] - frame["top"]) / 5, "this run keeps a readable share of the height"
    assert {item["label"] for item in legend_for([loss])} == {"training", "validation", "similar earlier runs"}


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
