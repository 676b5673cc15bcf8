"""``%kepler journal`` in JupyterLab: the right sidebar, sorting, filtering, details, comparison, updates."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """
import numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
labels = (x[:, 0] + x[:, 1] > 0).astype("int64")
def model(units):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
"""


def fit(name: str, units: int) -> str:
    return (
        f'%%kepler_fit --project journal --name "{name}" --answer continue\n'
        f"model({units}).fit(x, labels, epochs=3, validation_split=0.25, verbose=0)"
    )


ROWS = ".kepler-journal tbody tr"


def row_count(page) -> int:
    return page.locator(ROWS).count()


def wait_rows(page, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === {n}", timeout=60_000)


def test_journal_opens_in_the_sidebar_filters_compares_and_follows_new_runs(notebook, artifacts, tmp_path):
    flag = tmp_path / "go"
    later = (
        "import os, time\n"
        f"while not os.path.exists({str(flag)!r}): time.sleep(0.05)\n"  # runs on once the test has looked
    )
    cells = [
        SETUP,
        fit("alpha", 4),
        fit("beta", 8),
        fit("<b>gamma</b>", 16),
        "%kepler journal",
        later,
        fit("delta", 32),
        "print('done')",
    ]
    nb, _ = notebook(cells)
    nb.run_all()
    page = nb.page
    journal = page.locator("#jp-right-stack .kepler-journal")
    journal.wait_for(timeout=120_000)
    wait_rows(page, 3)
    assert "Kepler journal — journal" in journal.inner_text()
    names = [page.locator(ROWS).nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    assert names == ["<b>gamma</b>", "beta", "alpha"], "newest first, user text shown as text"
    assert journal.locator("tbody b").count() == 0, "a name is never rendered as HTML"
    headers = [journal.locator("th").nth(i).inner_text() for i in range(journal.locator("th").count())]
    assert headers[:5] == ["id ▼", "name", "status", "time", "epochs"] and "findings" in headers[-1]
    assert {"loss", "val_loss"} <= set(headers)
    _widen_sidebar(page)
    nb.screenshot(artifacts / "journal-sidebar.png")

    column = headers.index("val_loss")
    journal.locator("th", has_text="val_loss").click()  # numeric columns sort descending first
    page.wait_for_function(
        """(c) => {
            const v = [...document.querySelectorAll('.kepler-journal tbody tr')].map((r) => +r.children[c].textContent);
            return v.length === 3 && v.every((x, i) => i === 0 || v[i - 1] >= x);
        }""",
        arg=column,
        timeout=30_000,
    )
    assert journal.locator("th[data-key=val_loss]").inner_text().endswith("▼")

    journal.locator(".kepler-journal-filter").fill("name = beta or units = 16")
    wait_rows(page, 2)
    shown = sorted(page.locator(ROWS).nth(i).locator("td").nth(1).inner_text() for i in range(2))
    assert shown == ["<b>gamma</b>", "beta"]
    journal.locator(".kepler-journal-filter").fill("name = ")
    journal.locator(".kepler-journal-error").filter(has_text="expected").wait_for(timeout=30_000)
    journal.locator(".kepler-journal-filter").fill("name = beta or units = 16")
    page.wait_for_function("() => document.querySelector('.kepler-journal-error').textContent === ''")
    wait_rows(page, 2)

    page.locator(ROWS).nth(0).click()
    page.locator(ROWS).nth(1).click()
    comparison = journal.locator(".kepler-journal-comparison")
    comparison.wait_for(timeout=30_000)
    assert "2 runs compared" in comparison.inner_text()
    lines = comparison.locator("svg.kepler-chart").first.locator("polyline.kepler-line")
    assert lines.count() == 4, "training and validation curves of both runs"
    details = journal.locator(".kepler-journal-detail[data-id]")
    assert details.count() == 2
    detail_text = details.first.inner_text()
    assert "Dense" in detail_text and "256 samples" in detail_text and "adam" in detail_text.lower()
    assert page.locator(".kepler-journal tr.kepler-selected").count() == 2
    comparison.scroll_into_view_if_needed()
    nb.screenshot(artifacts / "journal-comparison.png")

    journal.get_by_role("button", name="Export").click()
    notice = journal.locator(".kepler-journal-notice")
    page.wait_for_function(
        "() => document.querySelector('.kepler-journal-notice')?.textContent.includes('Report written to')",
        timeout=30_000,
    )
    assert "kepler-compare" in notice.inner_text(), "two selected runs: a comparison report"

    journal.locator(".kepler-journal-filter").fill("")
    wait_rows(page, 3)
    flag.write_text("go")
    nb.wait_for_text(8, "done")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ROWS}')].some((r) => r.textContent.includes('delta')"
        " && r.textContent.includes('finished'))",
        timeout=60_000,
    )
    assert row_count(page) == 4, "a run recorded in this kernel appears without reopening the journal"
    journal.scroll_into_view_if_needed()
    nb.screenshot(artifacts / "journal-updated.png")


def _widen_sidebar(page) -> None:
    """Drag the right sidebar's edge so the whole table shows (a person would do the same)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").last
    box = handle.bounding_box()
    if box:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] - 520, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
