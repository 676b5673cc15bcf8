"""One question per fit in JupyterLab, by Run All and by Shift+Enter: errors+duplicate merged, a loop asks once."""

from __future__ import annotations

import pytest
from ipykernels import CURRENT

from kepler_nb.journal.journal import Journal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """
import numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
labels = (x[:, 0] > 0).astype("int64")
def build(units=8, output="softmax"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(2, activation=output)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""
EARLIER = """%%kepler_fit --project one --answer continue
build(output="sigmoid").fit(x, labels, epochs=2, validation_split=0.25, verbose=0)
build(units=4).fit(x, labels, epochs=2, validation_split=0.25, verbose=0)"""
MERGED = """%%kepler_fit --project one
h = build(output="sigmoid").fit(x, labels, epochs=2, validation_split=0.25, verbose=0)
print('epochs in the history:', len(h.epoch))"""
LOOP = """%%kepler_fit --project one
for units in (6, 10, 12, 14, 16):
    build(units).fit(x, labels, epochs=2, validation_split=0.25, verbose=0)
print('loop done')"""


@pytest.mark.parametrize("how", ["run-all", "shift-enter"])
def test_errors_and_a_duplicate_are_one_dialog_and_a_loop_asks_once(notebook, how, artifacts):
    nb, home = notebook([SETUP, EARLIER, MERGED, LOOP, "print('after the loop')"], CURRENT)
    page = nb.page
    if how == "run-all":
        nb.run_all()
    else:  # one cell after the other, each started when the one before has finished
        for index in range(4):
            nb.shift_enter(index)
            if index < 3:
                nb.wait_executed(index)

    dialog = page.locator(".kepler-dialog")
    reuse = dialog.get_by_role("button", name="Skip (reuse its result)")
    reuse.wait_for(timeout=240_000)
    text = dialog.locator(".kepler-dialog-text").inner_text()
    assert text.startswith("1 check failed with errors (K201) · This exact experiment ran"), text
    assert text.endswith("Train anyway?") and dialog.count() == 1
    nb.screenshot(artifacts / f"dialog-merged-errors-duplicate-{how}.png", dialog)
    reuse.click()
    shown = nb.wait_for_text(3, "epochs in the history: 2")
    assert "Train anyway? -> Skip (reuse its result) (clicked)" in shown
    if how == "shift-enter":
        nb.shift_enter(4)

    similar = page.locator(".kepler-dialog")
    similar.get_by_role("button", name="Show their curves").wait_for(timeout=120_000)
    assert "similar model" in similar.locator(".kepler-dialog-text").inner_text()
    nb.screenshot(artifacts / f"dialog-loop-asks-once-{how}.png", similar)
    similar.get_by_role("button", name="Continue").click()
    shown = nb.wait_for_text(4, "loop done", timeout=240_000)
    assert shown.count("Continue training? -> Continue (clicked)") == 1
    assert shown.count("(as answered for an earlier fit of this cell)") == 4
    if how == "shift-enter":
        nb.shift_enter(5)
    nb.wait_for_text(5, "after the loop")
    nb.screenshot(artifacts / f"dialog-loop-answered-{how}.png", nb.cell(4))

    runs = Journal(home).experiments(project="one")
    assert [r["status"] for r in runs] == ["finished", "finished", "skipped"] + ["finished"] * 5
