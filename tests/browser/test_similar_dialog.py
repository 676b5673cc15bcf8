"""The similar-models dialog in JupyterLab: its table draws, "Show their curves" answers, the kernel reads busy."""

from __future__ import annotations

import pytest
from ipykernels import CURRENT, OLD

from kepler_nb.journal.journal import Journal

from .lab import KERNEL_STATUS_JS, SOFTMAX_MODEL
from .theme import contrast, dark_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = (
    """
import os, time, numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
labels = (x[:, 0] > 0).astype("int64")
"""
    + SOFTMAX_MODEL
    + """
slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(0.25))
import ipykernel
print("ipykernel", ipykernel.__version__)
"""
)
FIRST = """%%kepler_fit --project similar --name first --answer continue
softmax_model(8).fit(x, labels, epochs=3, validation_split=0.25, verbose=0)"""
SECOND = """%%kepler_fit --project similar --name second
h = softmax_model(12).fit(x, labels, epochs=16, validation_split=0.25, verbose=0, callbacks=[slow])
print('epochs trained:', len(h.epoch))"""


@pytest.mark.parametrize("kernel", [CURRENT, OLD])
def test_similar_dialog_draws_its_table_shows_their_curves_and_keeps_the_kernel_busy(notebook, kernel, artifacts):
    nb, home = notebook([SETUP, FIRST, SECOND, "print('after the fit')"], kernel)
    page = nb.page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "kepler" in msg.text else None)
    nb.run_all()

    dialog = page.locator(".kepler-dialog")
    show = dialog.get_by_role("button", name="Show their curves")
    show.wait_for(timeout=180_000)
    assert f"ipykernel {kernel.removeprefix('ipykernel')}" in nb.cell_text(1)
    table = dialog.locator("table.kepler-dialog-details")
    assert table.locator("thead th").all_inner_texts() == ["id", "name", "how it relates", "what differs", "best"]
    (row,) = table.locator("tbody tr").all()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "first" and "units" in cells[3], cells
    assert "1 similar model found" in dialog.locator(".kepler-dialog-text").inner_text()
    assert "Kepler asks" in nb.cell_text(3) and "first" not in nb.cell_text(3).split("Kepler asks")[0], (
        "the similar table is shown once, in the dialog, not printed as text first"
    )
    page.wait_for_timeout(1500)  # the dialog's messages have been handled by now
    assert nb.kernel_status() == "busy", "the kernel reads busy while the dialog waits"
    assert "Busy" in nb.status_bar()
    assert nb.execution_count(4) is None, "the next cell ran before the answer"
    nb.screenshot(artifacts / f"dialog-similar-waiting-{kernel}.png", dialog)

    show.click()
    curves = nb.cell(3).locator(".jp-OutputArea-output .kepler-chart-static svg")
    curves.wait_for(timeout=60_000)
    again = page.locator(".kepler-dialog")
    again.get_by_role("button", name="Continue").wait_for(timeout=60_000)
    assert again.get_by_role("button", name="Show their curves").count() == 0
    focused = page.evaluate("() => document.activeElement && document.activeElement.textContent")
    assert focused == "Continue", "the dialog takes the keyboard focus on its default answer"
    nb.screenshot(artifacts / f"dialog-similar-curves-{kernel}.png", nb.cell(3))
    assert curves.locator("rect").count() == 0, "no white block: the notebook's background shows through"
    if kernel == CURRENT:  # the theme is the front end's: one kernel is enough
        with dark_theme(page):
            legend = contrast(curves.locator("text.kepler-legend-text"), "fill")
            assert legend["ratio"] >= 4.5 and sum(legend["background"]) < 3 * 128, legend
            nb.screenshot(artifacts / "dialog-similar-curves-dark.png", nb.cell(3))
        page.locator(".kepler-dialog").get_by_role("button", name="Continue").focus()
    page.keyboard.press("Enter")  # Enter answers the default

    live = nb.cell(3).locator(".kepler-live")
    live.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => /^epoch [2-9]/.test(document.querySelector('.kepler-live-progress')?.textContent || '')",
        timeout=60_000,
    )
    assert nb.kernel_status() == "busy", "the kernel reads busy while the cell trains"
    assert "Busy" in nb.status_bar()
    shown = nb.wait_for_text(3, "epochs trained: 16")
    assert "Show their curves (clicked)" in shown and "Continue training? -> Continue (clicked)" in shown
    nb.wait_for_text(4, "after the fit")
    page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'", timeout=30_000)
    assert not errors, errors

    runs = Journal(home).experiments(project="similar")
    assert [(r["name"], r["status"]) for r in runs] == [("first", "finished"), ("second", "finished")]
