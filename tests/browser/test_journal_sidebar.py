"""``%kepler journal`` in JupyterLab: the right sidebar at its default width, the column picker,
relative times, skipped runs, sorting, filtering, what differs, the export notice (a link), updates, dark theme."""

from __future__ import annotations

import re

import pytest

from .theme import contrast, dark_theme

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


def fit(name: str, units: int, answer: str = "continue") -> str:
    return (
        f'%%kepler_fit --project journal --name "{name}" --answer {answer} --no-similar\n'
        f"model({units}).fit(x, labels, epochs=3, validation_split=0.25, verbose=0)"
    )


ESTIMATOR = """%%kepler_fit --project journal --name "svc" --answer continue --no-similar
from sklearn.svm import SVC
svc = SVC(C=10).fit(x[:192], labels[:192])
svc.score(x[192:], labels[192:])"""


ROWS = ".kepler-journal-table tbody tr"


def row_count(page) -> int:
    return page.locator(ROWS).count()


def wait_rows(page, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === {n}", timeout=60_000)


def headers(journal) -> list[str]:
    return [t.replace("\u200b", "").strip() for t in journal.locator("thead th").all_inner_texts()]


def column(page, key: str) -> list[str]:
    return page.locator(f"{ROWS} td.kepler-col-{key}").all_inner_texts()


def test_journal_fits_the_sidebar_picks_columns_compares_exports_and_follows_new_runs(notebook, artifacts, tmp_path):
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
        fit("alpha again", 4, answer="skip"),  # the same experiment as alpha: skipped
        ESTIMATOR,
        "%kepler journal",
        later,
        fit("delta", 32),
        "print('done')",
    ]
    nb, _ = notebook(cells)
    nb.run_all()
    page = nb.page
    journal = page.locator("#jp-right-stack .kepler-journal")
    journal.wait_for(timeout=180_000)
    wait_rows(page, 4)
    assert "Kepler journal — journal" in journal.inner_text()
    names = page.locator(f"{ROWS} td.kepler-col-name .kepler-name").all_inner_texts()
    assert names == ["svc", "<b>gamma</b>", "beta", "alpha"], "newest first, skipped hidden, user text shown as text"
    assert journal.locator("tbody b").count() == 0, "a name is never rendered as HTML"
    assert headers(journal) == ["name", "status", "val_accuracy", "findings"], (
        "name, status, the project's primary metric and findings first"
    )
    sizes = page.evaluate(
        """() => {
            const j = document.querySelector('#jp-right-stack .kepler-journal');
            const rows = j.querySelector('.kepler-journal-rows');
            const panel = j.closest('.lm-Widget.jp-SideBar, #jp-right-stack');
            return { panel: panel.getBoundingClientRect().width, rows: [rows.scrollWidth, rows.clientWidth],
                     journal: [j.scrollWidth, j.clientWidth],
                     table: j.querySelector('table').getBoundingClientRect().right,
                     right: j.getBoundingClientRect().right };
        }"""
    )
    assert sizes["panel"] < 420, f"the sidebar keeps JupyterLab's default width: {sizes}"
    assert sizes["rows"][0] <= sizes["rows"][1] and sizes["journal"][0] <= sizes["journal"][1], (
        f"no horizontal scrolling at the default width: {sizes}"
    )
    assert sizes["table"] <= sizes["right"] + 0.5, sizes
    when = page.locator(f"{ROWS} td.kepler-col-name .kepler-when").first
    assert re.fullmatch(r"just now|\d+ min ago", when.inner_text()), when.inner_text()
    assert re.search(r"\d{4}|\d{1,2}:\d{2}", when.get_attribute("title")), "the full time on hover"
    svc = page.locator(ROWS).first
    assert svc.locator("td.kepler-col-epochs").count() == 0
    assert "SVC" in svc.locator("td.kepler-col-name").get_attribute("title"), "an estimator names its class"
    assert re.fullmatch(r"0\.\d+", svc.locator("td.kepler-col-val_accuracy").inner_text()), "its held-out score"
    nb.screenshot(artifacts / "journal-sidebar-default-width.png", journal)

    # other columns on demand
    journal.locator(".kepler-journal-picker > summary").click()
    picker = journal.locator(".kepler-journal-picker-list")
    picker.locator("input[data-key=model]").check()
    page.wait_for_function("() => !!document.querySelector('.kepler-journal thead th.kepler-col-model')")
    assert column(page, "model")[0] == "SVC" and "Dense" in column(page, "model")[1]
    picker.locator("input[data-key=epochs]").check()
    page.wait_for_function("() => !!document.querySelector('.kepler-journal thead th.kepler-col-epochs')")
    assert column(page, "epochs")[:2] == ["—", "3/3"], "an estimator has no epochs"
    nb.screenshot(artifacts / "journal-column-picker.png", journal)
    picker.locator("input[data-key=model]").uncheck()
    picker.locator("input[data-key=epochs]").uncheck()
    page.wait_for_function("() => !document.querySelector('.kepler-journal thead th.kepler-col-epochs')")
    journal.locator(".kepler-journal-picker > summary").click()
    assert headers(journal) == ["name", "status", "val_accuracy", "findings"]

    # skipped runs on request
    skipped = journal.locator(".kepler-journal-skipped")
    assert skipped.is_visible() and "show 1 skipped" in skipped.inner_text()
    skipped.locator("input").check()
    wait_rows(page, 5)
    assert any("skipped" in status for status in column(page, "status"))
    skipped.locator("input").uncheck()
    wait_rows(page, 4)

    journal.locator("th.kepler-col-val_accuracy").click()  # numeric columns sort descending first
    page.wait_for_function(
        """() => {
            const v = [...document.querySelectorAll('.kepler-journal tbody td.kepler-col-val_accuracy')]
                .map((c) => +c.textContent);
            return v.length === 4 && v.every((x, i) => i === 0 || v[i - 1] >= x);
        }""",
        timeout=30_000,
    )
    assert journal.locator("th.kepler-col-val_accuracy").inner_text().endswith("▼")

    journal.locator(".kepler-journal-filter").fill("name = beta or units = 16")
    wait_rows(page, 2)
    assert sorted(page.locator(f"{ROWS} .kepler-name").all_inner_texts()) == ["<b>gamma</b>", "beta"]
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
    diff = comparison.locator("table.kepler-diff-table")
    fields = [t.strip() for t in diff.locator("tbody th").all_inner_texts()]
    assert "name" in fields and "layer 1" in fields, fields
    units = diff.locator("tbody tr", has=page.locator("th", has_text="layer 1"))
    assert units.locator("td.kepler-changed").count() == 1, "the second run's value differs from the first's"
    swatches = diff.locator("thead .kepler-swatch").evaluate_all(
        "(s) => s.map((e) => getComputedStyle(e).backgroundColor)"
    )
    strokes = (
        comparison.locator("svg.kepler-chart")
        .first.locator("polyline.kepler-line")
        .evaluate_all("(l) => [...new Set(l.map((e) => getComputedStyle(e).stroke))]")
    )
    assert swatches == strokes and len(set(swatches)) == 2, "a run has one colour, in the table and the charts"
    lines = comparison.locator("svg.kepler-chart").first.locator("polyline.kepler-line")
    assert lines.count() == 4, "training and validation curves of both runs"
    details = journal.locator(".kepler-journal-detail[data-id]")
    assert details.count() == 2
    detail_text = details.first.inner_text()
    assert "Dense" in detail_text and "256 samples" in detail_text and "adam" in detail_text.lower()
    assert page.locator(".kepler-journal tr.kepler-selected").count() == 2
    nb.screenshot(artifacts / "journal-selection-diff.png", comparison)

    with dark_theme(page):
        selected = page.locator(".kepler-journal tr.kepler-selected td.kepler-col-name")
        seen = contrast(selected)
        assert seen["ratio"] >= 4.5, f"a selected row reads in JupyterLab Dark: {seen}"
        assert sum(seen["background"]) < 3 * 128, f"on a dark background: {seen}"
        legend = contrast(comparison.locator(".kepler-legend span"))
        assert legend["ratio"] >= 4.5, f"the charts' legend reads in JupyterLab Dark: {legend}"
        tick = contrast(comparison.locator("svg.kepler-chart text.kepler-chart-title"), "fill")
        assert tick["ratio"] >= 4.5, f"chart titles read in JupyterLab Dark: {tick}"
        diff.scroll_into_view_if_needed()
        nb.screenshot(artifacts / "journal-selection-diff-dark.png", journal)
        journal.locator(".kepler-journal-filter").scroll_into_view_if_needed()
        nb.screenshot(artifacts / "journal-sidebar-dark.png", journal)
    seen = contrast(page.locator(".kepler-journal tr.kepler-selected td.kepler-col-name"))
    assert seen["ratio"] >= 4.5, f"and in the light theme: {seen}"

    journal.get_by_role("button", name="Export").click()
    notice = journal.locator("a.kepler-journal-notice.kepler-report-link")
    notice.wait_for(timeout=30_000)
    assert re.fullmatch(r"Report written to kepler-compare-.*\.html", notice.inner_text()), (
        "two selected runs: a comparison report, named as the file browser shows it"
    )
    assert page.locator("#jp-right-stack .kepler-journal-notice, #jp-right-stack .kepler-report-link").count() == 1, (
        "one element: the notice is the link"
    )
    page.wait_for_function(  # JupyterLab's link handling has taken it
        "(a) => a.getAttribute('href').includes('files/')", arg=notice.element_handle(), timeout=30_000
    )
    assert contrast(notice)["ratio"] >= 4.5, contrast(notice)
    nb.screenshot(artifacts / "journal-export-notice.png", journal)
    notice.click()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=re.compile(r"kepler-compare-.*\.html"))
    tab.wait_for(timeout=30_000)
    frame = page.frame_locator("#jp-main-dock-panel .jp-HTMLViewer iframe").first
    frame.locator("h2", has_text="What differs").wait_for(timeout=30_000)
    nb.screenshot(artifacts / "journal-report-tab.png")
    assert contrast(notice)["ratio"] >= 4.5 and notice.evaluate("(a) => getComputedStyle(a).textDecorationLine") == (
        "underline"
    ), "under the pointer, the notice still reads as a link"
    page.evaluate("() => window.jupyterapp.shell.currentWidget.close()")
    tab.wait_for(state="detached", timeout=30_000)

    journal.locator(".kepler-journal-filter").fill("")
    wait_rows(page, 4)
    flag.write_text("go")
    nb.wait_for_text(10, "done")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ROWS}')].some((r) => r.textContent.includes('delta')"
        " && r.textContent.includes('finished'))",
        timeout=60_000,
    )
    assert row_count(page) == 5, "a run recorded in this kernel appears without reopening the journal"
    nb.screenshot(artifacts / "journal-updated.png", journal)
