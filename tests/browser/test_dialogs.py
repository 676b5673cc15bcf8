"""Kepler's dialogs in JupyterLab: each blocks its cell, and "Run All", until a button is clicked."""

from __future__ import annotations

import pytest
from ipykernels import CURRENT, OLD

from kepler_nb.journal.journal import Journal

from .lab import SOFTMAX_MODEL
from .theme import contrast, dark_theme

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


SHIFT_SETUP = SIGMOID + SOFTMAX_MODEL


def softmax_fit(name: str, units: int, option: str = "") -> str:
    return (
        f"%%kepler_fit --project shift --name {name}{option}\n"
        f"h = softmax_model({units}).fit(x, labels, epochs=3, validation_split=0.25, verbose=0)\n"
        "print('epochs in the history:', len(h.epoch))"
    )


@pytest.mark.parametrize("kernel", [CURRENT, OLD])
def test_errors_duplicate_and_similar_dialogs_under_shift_enter(notebook, kernel, artifacts):
    """Each kind of dialog in a cell started with Shift+Enter: it draws, the kernel reads busy while it
    waits, and the answer holds (Run All is covered above and in test_similar_dialog.py)."""
    cells = [
        SHIFT_SETUP,
        errors_fit(2),  # K201: the errors dialog, answered "Train anyway"
        softmax_fit("first", 8, " --answer continue"),
        softmax_fit("again", 8),  # the same experiment: the duplicate dialog, answered "Skip"
        softmax_fit("wider", 12),  # like "first": the similar dialog, "Show their curves" then "Continue"
    ]
    nb, home = notebook(cells, kernel)
    page = nb.page
    dialog = page.locator(".kepler-dialog")

    def waiting(answer: str, kind: str):
        """The dialog shows ``answer``, the kernel reads busy while it waits; a screenshot of it."""
        button = dialog.get_by_role("button", name=answer, exact=True)
        button.wait_for(timeout=120_000)
        wait_for_a_tick(page)  # the dialog has said it is shown, and waits
        assert nb.kernel_status() == "busy", f"the kernel reads busy while the {kind} dialog waits"
        assert "Busy" in nb.status_bar()
        nb.screenshot(artifacts / f"dialog-{kind}-shift-enter-{kernel}.png", dialog)
        return button

    for index in range(2):
        nb.shift_enter(index)
        nb.wait_executed(index)
    assert f"ipykernel {kernel.removeprefix('ipykernel')}" in nb.cell_text(1)

    nb.shift_enter(2)
    train = waiting("Train anyway", "errors")
    assert "K201 error" in nb.cell_text(2)
    for part in (dialog.locator(".kepler-badge-error"), dialog.locator(".kepler-dialog-text")):
        assert contrast(part)["ratio"] >= 4.5, contrast(part)
    if kernel == CURRENT:  # the theme is the front end's: one kernel is enough
        with dark_theme(page):
            for part in (dialog.locator(".kepler-badge-error"), dialog.locator(".kepler-dialog-text")):
                seen = contrast(part)
                assert seen["ratio"] >= 4.5 and sum(seen["background"]) < 3 * 128, f"reads in the dark: {seen}"
            nb.screenshot(artifacts / "dialog-errors-dark.png", dialog)
    train.click()
    assert "Train anyway? -> Train anyway (clicked)" in nb.wait_for_text(2, "epochs trained: 2")

    nb.shift_enter(3)
    nb.wait_for_text(3, "epochs in the history: 3")
    nb.shift_enter(4)
    skip = waiting("Skip (reuse its result)", "duplicate")
    assert "This exact experiment ran" in dialog.locator(".kepler-dialog-text").inner_text()
    skip.click()
    assert "-> Skip (reuse its result) (clicked)" in nb.wait_for_text(4, "epochs in the history: 3"), (
        "the earlier run's History"
    )

    nb.shift_enter(5)
    show = waiting("Show their curves", "similar")
    names = dialog.locator("table.kepler-dialog-details tbody td:nth-child(2)").all_inner_texts()
    assert names[0] == "first", f"the nearest earlier run first: {names}"
    edges = dialog.evaluate(
        "(d) => [d.getBoundingClientRect().right, d.querySelector('table').getBoundingClientRect().right]"
    )
    assert edges[1] <= edges[0], f"the table stays inside the dialog: {edges}"
    show.click()
    nb.cell(5).locator(".jp-OutputArea-output .kepler-chart-static svg").wait_for(timeout=60_000)
    waiting("Continue", "similar-curves").click()
    shown = nb.wait_for_text(5, "epochs in the history: 3")
    assert "Show their curves (clicked)" in shown and "Continue training? -> Continue (clicked)" in shown
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
    )

    assert [(r["name"], r["status"]) for r in Journal(home).experiments(project="dialogs")] == [
        ("sigmoid-2", "finished")
    ]
    runs = Journal(home).experiments(project="shift")
    assert [(r["name"], r["status"]) for r in runs] == [
        ("first", "finished"),
        ("again", "skipped"),
        ("wider", "finished"),
    ]
    assert runs[1]["duplicate_of"] == runs[0]["id"] and runs[1].get("epochs_done") == 0
