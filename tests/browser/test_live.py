"""The live training view in JupyterLab: curves per epoch, earlier runs behind, one progress line,
values under the pointer, and a static picture that reads in the dark theme too."""

from __future__ import annotations

import pytest
from ipykernels import CURRENT, OLD

from kepler_nb.journal.journal import Journal

from .theme import contrast, dark_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """
import os, time, numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8)).astype("float32")
labels = (x[:, 0] + x[:, 1] > 0).astype("int64")
def model(lr):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
class HoldBeforeLastEpoch(keras.callbacks.Callback):
    "Keeps the fit at the end of its third epoch until the test has looked (or a minute has passed)."
    def __init__(self, flag):
        super().__init__()
        self.flag = flag
    def on_epoch_end(self, epoch, logs=None):
        deadline = time.monotonic() + 60
        while epoch == 2 and not os.path.exists(self.flag) and time.monotonic() < deadline:
            time.sleep(0.05)
"""
EARLIER = """%%kepler_fit --project live --name earlier --answer continue
model(0.01).fit(x, labels, epochs=4, validation_split=0.25)"""
FINDINGS = """%%kepler_fit --project badges --name mixed --answer continue --no-similar
m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"),
                      keras.layers.Dense(2, activation="sigmoid")])  # K201, an error
m.compile(optimizer="adam", loss="categorical_crossentropy")
m.fit(x * 40 + 100, keras.utils.to_categorical(labels, 2), epochs=1, verbose=0)  # K303 warning, K104 info"""


def summary_reads(summary, dark: bool) -> None:
    """The fit's summary: its heading, each severity's badge and a finding's fix read at 4.5:1 or more,
    on the theme's own background; an error's badge is not an info's."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    badges = {}
    for badge in summary.locator(".kepler-summary-badge").all():
        badges.setdefault(badge.inner_text().lower(), contrast(badge))
    assert {"error", "warning", "info"} <= set(badges), badges
    for severity, seen in badges.items():
        assert seen["ratio"] >= 4.5, f"the {severity} badge reads in {theme}: {seen}"
        assert (sum(seen["background"]) < 3 * 128) == dark, f"on {theme}'s background: {seen}"
    assert badges["error"]["text"] != badges["info"]["text"], "an error does not look like an info line"
    for part in (
        summary.locator("b").first,
        summary.locator("li summary").first,
        summary.locator("li.kepler-error .kepler-fix"),
    ):
        seen = contrast(part)
        assert seen["ratio"] >= 4.5, f"{part} reads in {theme}: {seen}"


@pytest.mark.parametrize("kernel", [CURRENT, OLD])
def test_live_view_draws_curves_per_epoch_with_earlier_runs_behind(notebook, kernel, artifacts, tmp_path):
    flag = tmp_path / "looked"
    watched = (
        "%%kepler_fit --project live --name watched --answer continue\n"
        f"hold = HoldBeforeLastEpoch({str(flag)!r})\n"
        "h = model(0.003).fit(x, labels, epochs=4, validation_split=0.25, callbacks=[hold])"
    )
    nb, home = notebook([SETUP, EARLIER, watched, "print('after the fit')", FINDINGS], kernel)
    nb.run_all()
    page = nb.page
    live = nb.cell(3).locator(".kepler-live")
    live.wait_for(timeout=120_000)
    progress = live.locator(".kepler-live-progress")
    page.wait_for_function(
        "(el) => el.textContent.startsWith('epoch 2/4')", arg=progress.element_handle(), timeout=60_000
    )
    text = progress.inner_text()
    assert "/epoch" in text and "val_loss" in text and "left" in text
    charts = live.locator("svg.kepler-chart")
    assert sorted(charts.nth(i).get_attribute("data-metric") for i in range(charts.count())) == ["accuracy", "loss"]
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.locator("polyline.kepler-line").count() == 2, "training and validation curves"
        assert chart.locator("polyline.kepler-line-ghost").count() == 2, "the earlier run's curves, behind"
        assert chart.locator("text.kepler-axis-title").all_text_contents()[0] == "epoch"
    own = charts.first.locator("polyline.kepler-line").first.get_attribute("stroke")
    earlier = charts.first.locator("polyline.kepler-line-ghost").first.get_attribute("stroke")
    assert own != earlier, "the earlier run has its own colour"
    assert "similar earlier experiments (#1 earlier)" in live.inner_text()
    page.wait_for_timeout(1000)  # the fit is held at the end of epoch 3 by now: no redraw under the pointer
    loss = live.locator("svg.kepler-chart[data-metric=loss]")
    box = loss.bounding_box()
    frame = loss.evaluate("(svg) => svg.viewBox.baseVal.width")
    loss.hover(position={"x": box["width"] * 0.35, "y": box["height"] / 2})  # scrolled into view first
    loss.hover(position={"x": box["width"] * 0.4, "y": box["height"] / 2})  # near epoch 2 of 4
    tip = live.locator(".kepler-chart-box:has(svg[data-metric=loss]) .kepler-tooltip")
    tip.wait_for(state="visible", timeout=10_000)
    shown = tip.inner_text()
    assert "epoch" in shown and "val_loss" in shown and "#1 earlier loss" in shown, shown
    assert frame and live.locator("line.kepler-guide[visibility=visible]").count() == 1
    # Without a mouse: the chart takes focus (Tab), the arrow keys move the guide from epoch to epoch.
    loss.focus()
    loss.press("ArrowLeft")
    assert tip.inner_text().startswith("epoch 1"), tip.inner_text()
    loss.press("End")
    assert tip.inner_text().startswith("epoch 4"), tip.inner_text()  # the last any curve has: the earlier run's
    nb.screenshot(artifacts / f"live-view-training-{kernel}.png", live)

    flag.write_text("seen")
    shown = nb.wait_for_text(3, "finished: 4/4 epochs")
    assert "Kepler: experiment 2 finished: 4/4 epochs in" in shown
    assert "━" not in shown and "/step" not in shown, "Keras' progress bar is replaced by the progress line"
    assert "Kepler: epoch" not in shown, "where the widget shows, the progress line is not printed as well"
    picture = nb.cell(3).locator(".jp-OutputArea-output .kepler-chart-static svg")
    picture.wait_for(timeout=30_000)
    assert picture.locator("rect").count() == 0, "no white panel: the notebook's background shows through"
    assert nb.cell(3).locator(".kepler-live").count() == 0, "the widget leaves a static picture behind"
    nb.wait_for_text(4, "after the fit")
    nb.screenshot(artifacts / f"live-view-finished-{kernel}.png", picture)
    legend = picture.locator("text.kepler-legend-text")
    assert legend.all_text_contents()[:3] == ["training", "validation", "#1 earlier"]
    assert contrast(legend, "fill")["ratio"] >= 4.5
    if kernel == CURRENT:  # the theme is the front end's: one kernel is enough
        with dark_theme(page):
            seen = contrast(legend, "fill")
            assert seen["ratio"] >= 4.5 and sum(seen["background"]) < 3 * 128, (
                f"the legend reads on JupyterLab Dark's background: {seen}"
            )
            title = contrast(picture.locator("text").first, "fill")
            assert title["ratio"] >= 4.5, title
            nb.screenshot(artifacts / "live-view-finished-dark.png", picture)

        nb.wait_for_text(5, "Kepler: experiment 3 finished")
        summary = nb.cell(5).locator(".kepler-summary")
        summary.locator("li.kepler-error summary").first.click()  # the error's fix, shown
        summary_reads(summary, dark=False)
        nb.screenshot(artifacts / "summary-light.png", summary)
        with dark_theme(page):
            summary_reads(summary, dark=True)
            nb.screenshot(artifacts / "summary-dark.png", summary)

    runs = Journal(home).experiments(project="live")
    assert [(r["name"], r["status"], r["epochs_done"]) for r in runs] == [
        ("earlier", "finished", 4),
        ("watched", "finished", 4),
    ]
