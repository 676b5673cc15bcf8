"""Kepler's dialogs in JupyterLab: each blocks its cell, and "Run All", until a button is clicked."""

from __future__ import annotations

import pytest
from ipykernels import CURRENT, OLD

from kepler_nb.journal.journal import Journal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATA = """
import numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
labels = (x[:, 0] > 0).astype("int64")
y = keras.utils.to_categorical(labels, 2)
"""

SIGMOID = (
    DATA
    + """
def sigmoid_model():  # sigmoid outputs with categorical cross-entropy: K201, an error
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model
sigmoid_model().fit(x, y, epochs=1, verbose=0)  # the kernel has trained a model before the dialog
import ipykernel
print("ipykernel", ipykernel.__version__)
"""
)


def errors_fit(epochs: int) -> str:
    return (
        f"%%kepler_fit --project dialogs --name sigmoid-{epochs}\n"
        f"h = sigmoid_model().fit(x, y, epochs={epochs}, validation_split=0.25, verbose=0)\n"
        "print('epochs trained:', len(h.history.get('loss', [])))"
    )


def wait_for_a_tick(page) -> None:
    """Let the dialog's countdown move on (about a second), so a queued cell had time to run."""
    status = page.locator(".kepler-dialog-status")
    before = status.inner_text()
    page.wait_for_function(
        "(t) => { const s = document.querySelector('.kepler-dialog-status'); return s && s.textContent !== t; }",
        arg=before,
        timeout=10_000,
    )


@pytest.mark.parametrize("kernel", [CURRENT, OLD])
def test_errors_dialog_blocks_run_all_until_answered(notebook, kernel, artifacts):
    cells = [SIGMOID, errors_fit(2), "print('after the first')", errors_fit(3), "print('after the second')"]
    nb, home = notebook(cells, kernel)
    nb.run_all()
    page = nb.page
    train = page.locator(".kepler-dialog").get_by_role("button", name="Train anyway")
    train.wait_for(timeout=120_000)
    assert f"ipykernel {kernel.removeprefix('ipykernel')}" in nb.cell_text(1)
    assert "K201 error" in nb.cell_text(2)
    assert page.locator(".kepler-dialog").get_by_role("button", name="Stop").is_visible()
    wait_for_a_tick(page)
    assert nb.execution_count(3) is None and nb.cell_text(3) == "", "the next cell ran before the answer"
    nb.screenshot(artifacts / f"dialog-errors-waiting-{kernel}.png", page.locator(".kepler-dialog"))

    train.click()
    first = nb.wait_for_text(2, "epochs trained: 2")
    assert "Train anyway? -> Train anyway (clicked)" in first
    assert nb.wait_for_text(3, "after the first")

    stop = page.locator(".kepler-dialog").get_by_role("button", name="Stop")
    stop.wait_for(timeout=60_000)
    wait_for_a_tick(page)
    assert nb.execution_count(5) is None and nb.cell_text(5) == "", "the next cell ran before the answer"
    stop.click()
    second = nb.wait_for_text(4, "epochs trained: 0")
    assert "Train anyway? -> Stop (clicked)" in second
    assert nb.wait_for_text(5, "after the second")
    assert page.locator(".kepler-dialog").count() == 0, "an answered dialog collapses into one line"
    nb.screenshot(artifacts / f"dialog-errors-answered-{kernel}.png", nb.cell(4))

    runs = Journal(home).experiments(project="dialogs")
    assert [(r["name"], r["status"]) for r in runs] == [("sigmoid-2", "finished"), ("sigmoid-3", "skipped")]
    assert runs[0]["epochs_done"] == 2
    assert runs[1]["reason"].startswith("stopped before training")


GOOD = (
    DATA
    + """
def softmax_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""
)
SAME_FIT = """%%kepler_fit --project duplicates --name again
h = softmax_model().fit(x, labels, epochs=2, validation_split=0.25, verbose=0)"""


def test_duplicate_dialog_run_again_and_skip(notebook, artifacts):
    nb, home = notebook(
        [GOOD, SAME_FIT, "print('after 1')", SAME_FIT, "print('after 2')", SAME_FIT, "print('after 3')"]
    )
    nb.run_all()
    page = nb.page
    nb.wait_for_text(3, "after 1")
    again = page.locator(".kepler-dialog").get_by_role("button", name="Run again")
    again.wait_for(timeout=120_000)
    assert "This exact experiment ran" in page.locator(".kepler-dialog-text").inner_text()
    wait_for_a_tick(page)
    assert nb.execution_count(5) is None, "the next cell ran before the answer"
    nb.screenshot(artifacts / "dialog-duplicate-waiting.png", page.locator(".kepler-dialog"))
    again.click()
    assert "-> Run again (clicked)" in nb.wait_for_text(4, "(clicked)")
    nb.wait_for_text(5, "after 2")

    skip = page.locator(".kepler-dialog").get_by_role("button", name="Skip")
    skip.wait_for(timeout=60_000)
    wait_for_a_tick(page)
    assert nb.execution_count(7) is None, "the next cell ran before the answer"
    skip.click()
    assert "(clicked)" in nb.wait_for_text(6, "(clicked)")
    nb.wait_for_text(7, "after 3")
    nb.screenshot(artifacts / "dialog-duplicate-answered.png", nb.cell(6))

    runs = Journal(home).experiments(project="duplicates")
    assert [r["status"] for r in runs] == ["finished", "finished", "skipped"]
    assert runs[2]["duplicate_of"] in (runs[0]["id"], runs[1]["id"])
    assert runs[2].get("epochs_done") == 0
