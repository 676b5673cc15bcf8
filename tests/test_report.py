"""HTML reports: real runs (finished, failed, skipped, killed), opened in headless Chromium."""

from __future__ import annotations

import copy
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import ROOT, cell_text, make_notebook, run_notebook
from sklearn.datasets import load_digits

import kepler
from kepler_nb.interception.inspector import ModelInspector
from kepler_nb.interception.options import RunOptions
from kepler_nb.journal.journal import Journal, UnknownExperimentError
from kepler_nb.presentation import cli
from kepler_nb.presentation.report import comparison_html, doc_html, experiment_html, export_html, fmt

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
CHROMIUM_ARGS.append("--disable-sync")

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_CELL = f"""%%kepler_fit --name "hostile"
# {SCRIPT}
label = "{IMG}"
model.fit(x, y, epochs=2, validation_split=0.2)"""

BASELINE_CELL = """%%kepler_fit --project digits --name "relu baseline" --hypothesis "..."
model = build(units=32)
model.fit(x / 16, y, epochs=3, validation_split=0.2, verbose=0)"""


# -- real runs ----------------------------------------------------------------------
def _digits():
    x, y = load_digits(return_X_y=True)
    return x.astype("float32"), y.astype("int64")


def _model(
    units=32, optimizer="adam", metrics=("accuracy",), activation="softmax", loss="sparse_categorical_crossentropy"
):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation=activation),
        ]
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def _fit(journal, model, x, y, name, callbacks=(), epochs=3, **options):
    options.setdefault("project", "digits")
    inspector = ModelInspector(model, name=name, options=RunOptions(**options), journal=journal, show=lambda _: None)
    inspector.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, callbacks=list(callbacks), verbose=0)
    return inspector.experiment_id


def _mean_output(y_true, y_pred):
    return keras.ops.mean(y_pred)


def _max_output(y_true, y_pred):
    return keras.ops.max(y_pred)


class _StopAt(keras.callbacks.Callback):
    """Raises when an epoch begins, after the earlier epochs were recorded."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("the data loader lost its connection (epoch 3)")


KILLED_RUN = """
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
from sklearn.datasets import load_digits
from kepler_nb.interception.inspector import ModelInspector
from kepler_nb.journal.journal import Journal

class Hang(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            open(sys.argv[2], "w").write("two epochs done")
            time.sleep(600)

x, y = load_digits(return_X_y=True)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
with ModelInspector(model, project="digits", name="killed mid-fit", journal=Journal(sys.argv[1])) as mi:
    mi.fit(x.astype("float32") / 16, y, epochs=6, batch_size=64, validation_split=0.2, callbacks=[Hang()], verbose=0)
"""


def _killed_run(home: Path, folder: Path) -> None:
    """A real fit in another process, killed (SIGKILL) after its second epoch."""
    script, marker = folder / "killed.py", folder / "two-epochs"
    script.write_text(KILLED_RUN)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, str(script), str(home), str(marker)], env=env)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert process.poll() is None, f"the training process ended early ({process.returncode})"
            assert time.monotonic() < deadline, "the training process never finished two epochs"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One journal with every kind of ending; returns (journal, {kind: id})."""
    folder = tmp_path_factory.mktemp("report")
    home = folder / "home"
    journal = Journal(home)
    x, y = _digits()
    ids = {}
    ids["baseline"] = _fit(
        journal,
        _model(32),
        x / 16,
        y,
        "relu baseline",
        hypothesis="A 32-unit hidden layer is enough to pass 90% validation accuracy on digits.",
        tags=["baseline", "relu"],
        cell=BASELINE_CELL,
    )
    # The same run again, answered "skip": recorded as a skipped repeat of the baseline.
    ids["repeat"] = _fit(journal, _model(32), x / 16, y, "relu baseline again", answer="skip")
    ids["wider"] = _fit(journal, _model(64), x / 16, y, "wider hidden layer", tags=["width"])
    ids["sgd"] = _fit(journal, _model(32, optimizer=keras.optimizers.SGD(0.05)), x / 16, y, "plain SGD")
    hostile_metrics = [
        keras.metrics.MeanMetricWrapper(_mean_output, name=SCRIPT),
        keras.metrics.MeanMetricWrapper(_max_output, name=IMG),
    ]
    ids["hostile"] = _fit(
        journal,
        _model(16, metrics=["accuracy", *hostile_metrics]),
        x,  # not normalised: K303 gives the report a finding to explain
        y,
        IMG,
        epochs=2,
        project=SCRIPT,
        tags=[SCRIPT, "<b>bold</b>"],
        hypothesis=f"{SCRIPT} and {IMG}",
        cell=HOSTILE_CELL,
    )
    with pytest.raises(RuntimeError, match="lost its connection"):
        _fit(journal, _model(32), x / 16, y, "flaky loader", callbacks=[_StopAt(2)], epochs=5)
    ids["failed"] = journal.experiments()[-1]["id"]
    one_hot = keras.utils.to_categorical(y, 10)
    sigmoid = _model(32, activation="sigmoid", loss="categorical_crossentropy")
    ids["skipped"] = _fit(journal, sigmoid, x / 16, one_hot, "sigmoid outputs", answer="skip")
    _killed_run(home, folder)
    ids["interrupted"] = journal.experiments()[-1]["id"]
    return journal, ids


# -- the browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_report(browser, path: Path, screenshot: Path, width: int = 1200, full_page: bool = True) -> dict:
    """Open a report from disk; record what it asked for and what ran; screenshot it."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    seen = {"requests": [], "console": [], "dialogs": [], "errors": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("console", lambda message: seen["console"].append(message.text))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    seen["title"] = page.title()
    seen["declared_title"] = unescape(re.search(r"<title>(.*?)</title>", path.read_text()).group(1))
    seen["text"] = page.inner_text("body")
    seen["overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    seen["curves"] = []
    for image in page.query_selector_all(".kp-curves img"):
        loaded = page.evaluate("img => img.complete && img.naturalWidth > 0", image)
        seen["curves"].append({"loaded": loaded, "ink": _ink(image.screenshot()), "alt": image.get_attribute("alt")})
    page.screenshot(path=str(screenshot), full_page=full_page)
    seen["page"] = page
    return seen


def _ink(png: bytes) -> dict:
    """How much of an image is drawn, and how much of it is in the curves' colours."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    drawn = (pixels.min(axis=2) < 235).mean()
    blue = (np.abs(pixels - (59, 91, 219)).sum(axis=2) < 90).mean()
    orange = (np.abs(pixels - (232, 89, 12)).sum(axis=2) < 90).mean()
    return {"drawn": drawn, "blue": blue, "orange": orange}


def assert_safe(seen: dict) -> None:
    """Nothing ran, nothing was fetched, nothing was blocked (so nothing tried)."""
    assert seen["title"] == seen["declared_title"] and seen["title"] != "pwned"
    assert not seen["dialogs"] and not seen["errors"]
    assert not seen["console"], seen["console"]  # a blocked script or image would be reported here
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    assert seen["page"].evaluate("document.scripts.length") == 0


def assert_curves(seen: dict, count: int) -> None:
    assert len(seen["curves"]) == count, seen["curves"]
    for curve in seen["curves"]:
        assert curve["loaded"], curve
        assert curve["ink"]["drawn"] > 0.02, curve  # axes, labels and lines, not a blank box
        assert curve["ink"]["blue"] > 0.002, curve  # the first run's line is there


def _export(journal, experiment_id, artifacts, name) -> Path:
    return export_html(experiment_id, artifacts / f"{name}.html", journal=journal)


# -- one experiment ---------------------------------------------------------------------
def test_a_finished_experiment_report_holds_the_whole_record(runs, browser, artifacts):
    journal, ids = runs
    journal.note(ids["baseline"], "Confirmed: 3 epochs reach the target; next, try dropout.")
    path = _export(journal, ids["baseline"], artifacts, "report-finished")
    seen = open_report(browser, path, artifacts / "report-finished.png")
    assert_safe(seen)
    assert_curves(seen, 2)  # loss and accuracy, each with its validation twin
    assert [c["alt"] for c in seen["curves"]] == ["loss per epoch", "accuracy per epoch"]
    text = seen["text"]
    record = journal.get(ids["baseline"])
    assert seen["title"] == f"#{ids['baseline']} relu baseline · Kepler"
    for expected in (
        "relu baseline",
        "Finished",
        "digits",
        "A 32-unit hidden layer is enough",
        "Confirmed: 3 epochs reach the target",
        "Dense(32, relu) > Dense(10, softmax)",
        "2,410",  # 64*32+32 + 32*10+10 parameters
        "sparse_categorical_crossentropy",
        "Adam",
        "validation_split",
        "1,797",  # digits samples
        record["data"]["fingerprint"],
        "model = build(units=32)",  # the cell source
        "tensorflow",
        record["environment"]["tensorflow"],
        "val_accuracy",
    ):
        assert expected in text, expected
    final = record["history"]["val_loss"][-1]
    assert fmt(final) in text
    # The cell source is highlighted (Pygments spans), not a plain block.
    assert seen["page"].locator(".kp-hl .n").count() > 3
    # Related: the SGD run has the same architecture in the same project.
    related = seen["page"].inner_text("section:has(h2:text('Related experiments'))")
    assert f"#{ids['sgd']}" in related and "plain SGD" in related


def test_a_failed_experiment_report_says_what_went_wrong_and_keeps_its_epochs(runs, browser, artifacts):
    journal, ids = runs
    path = _export(journal, ids["failed"], artifacts, "report-failed")
    seen = open_report(browser, path, artifacts / "report-failed.png")
    assert_safe(seen)
    assert_curves(seen, 2)
    assert "Failed" in seen["text"] and "The fit raised an exception" in seen["text"]
    assert "RuntimeError: the data loader lost its connection (epoch 3)" in seen["text"]
    assert "2 of 5" in seen["text"]  # epochs done of planned


def test_a_skipped_experiment_report_explains_the_finding_that_stopped_it(runs, browser, artifacts):
    journal, ids = runs
    path = _export(journal, ids["skipped"], artifacts, "report-skipped")
    seen = open_report(browser, path, artifacts / "report-skipped.png")
    assert_safe(seen)
    assert seen["curves"] == []
    text = seen["text"]
    assert "Not trained" in text and "stopped before training" in text
    assert "Not trained, so there are no curves." in text
    assert "K201" in text and "activation-loss-mismatch" in text
    # The check's documentation is there, headings and all, behind a disclosure.
    page = seen["page"]
    page.locator("summary", has_text="Why this matters").first.click()
    explanation = page.inner_text(".kp-doc")
    assert "Why is this bad?" in explanation and "Use instead" in explanation
    assert page.locator(".kp-doc .kp-hl").count() >= 2  # Example and Use instead, highlighted


def test_an_interrupted_experiment_report_shows_the_epochs_it_finished(runs, browser, artifacts):
    journal, ids = runs
    record = journal.get(ids["interrupted"])
    assert record["status"] == "interrupted" and len(record["history"]["loss"]) == 2
    path = _export(journal, ids["interrupted"], artifacts, "report-interrupted")
    seen = open_report(browser, path, artifacts / "report-interrupted.png")
    assert_safe(seen)
    assert_curves(seen, 2)
    assert "Interrupted after 2 epochs" in seen["text"] and "killed mid-fit" in seen["text"]


def test_a_repeated_run_and_the_original_link_to_each_other(runs, browser, artifacts):
    journal, ids = runs
    repeat = journal.get(ids["repeat"])
    assert repeat["status"] == "skipped" and repeat["duplicate_of"] == ids["baseline"]
    path = _export(journal, ids["repeat"], artifacts, "report-repeat")
    seen = open_report(browser, path, artifacts / "report-repeat.png")
    assert_safe(seen)
    assert f"a repeat of experiment #{ids['baseline']}" in seen["text"]
    repeats = seen["page"].text_content("section:has(h2:text('Related experiments'))")
    assert "Repeats" in repeats and f"#{ids['baseline']} relu baseline" in repeats
    original = experiment_html(ids["baseline"], journal)
    assert "<h3>Repeats</h3>" in original and f"<b>#{ids['repeat']}</b> relu baseline again" in original


# -- several experiments ------------------------------------------------------------------
def test_a_comparison_of_three_shows_only_what_differs(runs, browser, artifacts):
    journal, ids = runs
    chosen = [ids["baseline"], ids["wider"], ids["sgd"]]
    path = export_html(chosen, artifacts / "report-comparison.html", journal=journal)
    seen = open_report(browser, path, artifacts / "report-comparison.png")
    assert_safe(seen)
    assert_curves(seen, 2)
    for curve in seen["curves"]:
        assert curve["ink"]["orange"] > 0.001, curve  # the second run drawn on the same axes
    page = seen["page"]
    differing = page.locator("section:has(h2:text('What differs')) > .kp-scroll table")
    rows = differing.locator("tbody tr")
    fields = [rows.nth(i).locator("th").inner_text().split("\n")[-1] for i in range(rows.count())]
    for expected in ("name", "architecture", "parameters", "layer 1", "optimizer"):
        assert expected in fields, fields
    for same in ("python", "tensorflow", "fingerprint", "epochs", "validation_split", "loss"):
        assert same not in fields, same  # identical in all three: only in the collapsed list
    assert differing.locator("td.kp-changed").count() >= 4
    # A changed cell really differs from the first run's value.
    optimizer_row = rows.nth(fields.index("optimizer")).locator("td")
    assert [optimizer_row.nth(i).inner_text() for i in range(3)] == ["Adam", "Adam", "SGD"]
    assert "kp-changed" in optimizer_row.nth(2).get_attribute("class")
    assert "kp-changed" not in (optimizer_row.nth(1).get_attribute("class") or "")
    metrics = page.locator("section:has(h2:text('Metrics')) tbody tr")
    assert metrics.count() == 4  # loss, val_loss, accuracy, val_accuracy
    assert metrics.first.locator("td").count() == 4  # the metric and three runs
    assert page.locator("section:has(h2:text('Metrics')) td.kp-best").count() == 4


def test_the_project_summary_links_every_experiment_to_its_section(runs, browser, artifacts, capsys):
    journal, ids = runs
    path = artifacts / "report-project.html"
    assert cli.main(["--home", str(journal.home), "export", "--project", "digits", "-o", str(path)]) == 0
    assert "Wrote" in capsys.readouterr().out
    seen = open_report(browser, path, artifacts / "report-project.png", full_page=False)  # the summary table
    assert_safe(seen)
    page = seen["page"]
    members = [e for e in journal.experiments() if e["project"] == "digits"]
    links = page.locator("section:has(h2:text('Experiments')) tbody tr td:first-child a")
    assert links.count() == len(members) == 7
    for index, member in enumerate(members):
        href = links.nth(index).get_attribute("href")
        assert href == f"#exp-{member['id']}"
        assert page.locator(f"article{href}").count() == 1
    links.nth(1).click()
    assert page.evaluate("location.hash") == f"#exp-{members[1]['id']}"
    assert page.evaluate(f"document.getElementById('exp-{members[1]['id']}').getBoundingClientRect().top") < 50
    for word in ("Finished", "Failed", "Not trained", "Interrupted", "val_accuracy"):
        assert word in seen["text"]


# -- safety -----------------------------------------------------------------------------
def test_hostile_strings_show_as_text_in_the_browser(runs, browser, artifacts):
    journal, ids = runs
    path = _export(journal, ids["hostile"], artifacts, "report-hostile")
    seen = open_report(browser, path, artifacts / "report-hostile.png")
    assert_safe(seen)
    assert_curves(seen, 4)  # loss, accuracy and the two hostile metrics
    text = seen["text"]
    assert IMG in text  # the name, visible as text
    assert SCRIPT in text  # project, tags, hypothesis, cell source
    assert "<b>bold</b>" in text
    assert f'label = "{IMG}"' in text
    assert seen["page"].locator("img").count() == 4  # only the curves; no injected image


def test_every_user_string_is_escaped_in_the_html(runs):
    journal, ids = runs
    record = copy.deepcopy(journal.get(ids["hostile"]))
    hostile = f"{SCRIPT}{IMG}\"'><svg onload=alert(1)>"
    record.update(name=hostile, project=hostile, tags=[hostile], hypothesis=hostile, conclusion=hostile)
    record.update(notebook_path=hostile, error=hostile, status="failed", architecture=hostile)
    record["layers"][0].update(name=hostile, type=hostile, activation=hostile)
    record["compile"].update(loss=hostile, metrics=[hostile], optimizer=hostile)
    record["fit"][hostile] = hostile
    record["data"]["inputs"] = {hostile: {"shape": [3, 4], "dtype": hostile}}
    record["data"]["class_counts"] = {hostile: 3}
    record["environment"][hostile] = hostile
    record["findings"] = [{"code": "K303", "name": hostile, "severity": "warning", "message": hostile, "fix": hostile}]
    record["notebook"] = {
        "cells": [{"cell_type": "markdown", "source": hostile}, {"cell_type": "code", "source": hostile}]
    }
    record["history"] = {hostile: [1.0, 0.5], "val_" + hostile: [1.1, 0.7]}
    from kepler_nb.presentation.report import experiment_view, render

    html = render("experiment.html.j2", title=hostile, e=experiment_view(record, journal))
    tags = _tags(html)
    assert not [t for t in tags if t[0] in ("script", "svg", "iframe", "object", "embed")]
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.startswith("on")]
    images = [dict(attrs)["src"] for t, attrs in tags if t == "img"]
    assert images and all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert "&lt;script&gt;document.title=" in html
    # The comparison escapes too (the differing table shows names and layer fields).
    html = comparison_html([ids["baseline"], ids["hostile"]], journal)
    assert not [t for t in _tags(html) if t[0] == "script"] and "&lt;script&gt;" in html


def _tags(html: str) -> list[tuple[str, list]]:
    class Collector(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, attrs))

    collector = Collector()
    collector.feed(html)
    return collector.tags


def test_check_documentation_becomes_a_small_safe_subset_of_html():
    html = str(
        doc_html(
            textwrap.dedent(
                """\
                ## What it does
                Flags `x < 1` and <b>this</b>.

                - one `item`
                - two
                ```python
                model.fit(x, "<script>")
                ```
                """
            )
        )
    )
    assert '<h5 class="kp-doc-h">What it does</h5>' in html
    assert "<p>Flags <code>x &lt; 1</code> and &lt;b&gt;this&lt;/b&gt;.</p>" in html
    assert "<ul><li>one <code>item</code></li><li>two</li></ul>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html


# -- reading it on a phone and on paper ----------------------------------------------------
def test_a_narrow_screen_needs_no_sideways_scrolling(runs, browser, artifacts):
    journal, ids = runs
    path = _export(journal, ids["baseline"], artifacts, "report-narrow")
    seen = open_report(browser, path, artifacts / "report-narrow.png", width=390)
    assert seen["overflow"] <= 0
    assert_curves(seen, 2)
    widths = seen["page"].evaluate("[...document.querySelectorAll('.kp-curves img')].map(i => i.clientWidth)")
    assert all(300 <= w <= 390 for w in widths), widths  # one curve per row, full width


def test_a_report_prints_to_pdf(runs, browser, artifacts):
    journal, ids = runs
    path = export_html([ids["baseline"], ids["wider"], ids["sgd"]], artifacts / "report-print.html", journal=journal)
    page = browser.new_page()
    page.goto(path.resolve().as_uri())
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "report-print.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


# -- the ways in ------------------------------------------------------------------------------
def test_export_and_note_from_the_command_line(runs, tmp_path, capsys):
    journal, ids = runs
    home = ["--home", str(journal.home)]
    assert cli.main([*home, "note", str(ids["wider"]), "Wider helps: val_accuracy up, <b>same</b> loss."]) == 0
    assert journal.get(ids["wider"])["conclusion"] == "Wider helps: val_accuracy up, <b>same</b> loss."
    assert cli.main([*home, "note", str(ids["wider"])]) == 0
    assert "Conclusion of experiment" in capsys.readouterr().out
    out = tmp_path / "one.html"
    assert cli.main([*home, "export", str(ids["wider"]), "-o", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    assert "Wider helps: val_accuracy up, &lt;b&gt;same&lt;/b&gt; loss." in out.read_text()
    compared = tmp_path / "three.html"
    three = [str(ids["baseline"]), str(ids["wider"]), str(ids["sgd"])]
    assert cli.main([*home, "export", *three, "-o", str(compared)]) == 0
    assert "<title>Comparison of" in compared.read_text()
    # kepler.export_html, given a folder, names the file after the experiment.
    assert kepler.export_html(ids["sgd"], tmp_path, journal=journal) == tmp_path / f"kepler-{ids['sgd']}.html"


NOTEBOOK_CELLS = [
    """%load_ext kepler
import keras
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
x = x.astype("float32") / 16
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])""",
    """%%kepler_fit --project notebook --name "from a notebook" --hypothesis "16 units learn digits in 2 epochs"
model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)""",
    '%kepler note 1 "It learns: validation accuracy rises every epoch."',
    "%kepler export 1 -o report.html --with-notebook",
]


@pytest.mark.kernel
def test_kepler_note_and_export_in_a_notebook(tmp_path, browser, artifacts):
    path = make_notebook(NOTEBOOK_CELLS, tmp_path / "digits.ipynb")
    nb = run_notebook(path, env={"KEPLER_HOME": str(tmp_path / "home"), "JPY_SESSION_NAME": str(path)})
    assert "Wrote report.html" in cell_text(nb.cells[3])
    seen = open_report(browser, tmp_path / "report.html", artifacts / "report-notebook.png")
    assert_safe(seen)
    assert_curves(seen, 2)
    text = seen["text"]
    assert "It learns: validation accuracy rises every epoch." in text
    assert "16 units learn digits in 2 epochs" in text
    assert str(path) in text  # the notebook it ran in
    assert '%%kepler_fit --project notebook --name "from a notebook"' in text  # the cell, as it ran
    page = seen["page"]
    page.locator("summary", has_text="The notebook as saved").click()
    snapshot = page.inner_text("details:has(summary:text('The notebook as saved'))")
    assert "load_digits(return_X_y=True)" in snapshot and "%kepler export 1 -o report.html" in snapshot


def test_export_mistakes_get_clear_messages(runs, tmp_path, capsys):
    journal, ids = runs
    with pytest.raises(UnknownExperimentError, match="No experiment with id 999"):
        export_html(999, tmp_path / "x.html", journal=journal)
    with pytest.raises(ValueError, match=r"No experiments in project 'nope' \(projects: .*digits"):
        export_html(path=tmp_path / "x.html", project="nope", journal=journal)
    with pytest.raises(SystemExit):
        cli.main(["--home", str(journal.home), "export"])
    assert "Give experiment ids" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_the_templates_ship_inside_the_package():
    from importlib.resources import files

    templates = files("kepler_nb.presentation.report") / "templates"
    names = {p.name for p in templates.iterdir()}
    assert {"base.html.j2", "experiment.html.j2", "comparison.html.j2", "project.html.j2", "report.css"} <= names


def test_a_report_shows_the_runs_own_cell_and_the_other_cells_only_when_asked(tmp_path):
    journal = Journal(tmp_path / "home")
    own = "model.fit(x, y, epochs=2)"
    other = 'api_key = load_secret("team-vault")  # a cell that is nobody else\'s business'
    snapshot = {
        "cells": [{"cell_type": "code", "source": other}, {"cell_type": "code", "source": "%%kepler_fit\n" + own}]
    }
    eid = journal.start({"project": "shared", "name": "to share"}, {"cell": own, "notebook": snapshot})
    journal.update(eid, {"status": "finished", "epochs_done": 2})

    shared = kepler.export_html(eid, tmp_path / "shared.html", journal=journal).read_text()
    assert "kepler_fit" in shared and "epochs" in shared  # the run's own cell, as it ran
    assert "team-vault" not in shared and "--with-notebook" in shared  # the rest left out, and how to include it
    full = kepler.export_html(eid, tmp_path / "full.html", journal=journal, with_notebook=True).read_text()
    assert "team-vault" in full and "The notebook as saved" in full
