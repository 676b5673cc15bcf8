"""The journal widget's kernel half: rows, sorting, the search language, pages, details, updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from kepler_nb.journal.journal import Journal
from kepler_nb.presentation.chart_style import PALETTE
from kepler_nb.presentation.journal_widget import PAGE_SIZE, JournalWidget, open_journal, refresh_open_journals


def record(journal: Journal, name: str, project: str = "digits", losses=(0.9, 0.5), **summary) -> int:
    """An experiment recorded through the journal's own API, as the inspector records one."""
    experiment = journal.start(
        {"project": project, "name": name, "status": "running", "epochs": len(losses), **summary},
        {"compile": {"optimizer": "Adam", "learning_rate": 0.0010000000474974513, "loss": "mse"},
         "data": {"n_samples": 100, "n_features": 8, "fingerprint": "abcdef0123456789"},
         "findings": [{"code": "K303", "name": "data-not-normalized", "severity": "warning", "stage": "data",
                       "message": "61 of 64 features <b>not</b> normalised", "fix": "Scale them."}]},
    )  # fmt: skip
    for epoch, loss in enumerate(losses):
        journal.append_epoch(experiment, epoch, {"loss": loss, "val_loss": loss + 0.1})
    final = {"loss": losses[-1], "val_loss": losses[-1] + 0.1} if losses else {}
    journal.update(experiment, {"status": "finished", "epochs_done": len(losses), "final": final,
                                "findings": {"warning": 1}})  # fmt: skip
    return experiment


@pytest.fixture
def journal(kepler_home) -> Journal:
    journal = Journal()
    record(journal, "alpha", losses=(0.9, 0.7))
    record(journal, "<img src=x onerror=alert(1)>", losses=(0.8, 0.3))
    record(journal, "elsewhere", project="other")
    record(journal, "gamma", losses=(0.95, 0.5))
    return journal


def names(widget: JournalWidget) -> list[str]:
    return [row["cells"]["name"] for row in widget.rows]


def test_rows_are_the_projects_runs_newest_first_with_their_metrics(journal):
    widget = JournalWidget(journal, project="digits")
    assert names(widget) == ["gamma", "<img src=x onerror=alert(1)>", "alpha"], "user text is passed on untouched"
    assert [c["key"] for c in widget.columns] == ["name", "status", "val_loss", "findings", "created", "id", "model",
                                                  "epochs", "loss"]  # fmt: skip
    defaults = [c["key"] for c in widget.columns if c["default"]]
    assert defaults == ["name", "status", "val_loss", "findings"], "what fits the sidebar, primary metric first"
    first = widget.rows[0]["cells"]
    assert (first["status"], first["epochs"], first["loss"], first["val_loss"], first["findings"]) == (
        "finished",
        "2/2",
        "0.5",
        "0.6",
        "1W",
    )
    assert widget.rows[0]["titles"]["findings"] == "1 warning"
    assert first["created"].startswith("20"), "the full time; the front end shows it as '3 min ago'"
    assert widget.total == 3 and widget.title == "Kepler journal — digits"
    assert len(JournalWidget(journal).rows) == 4, "no project: every project"


def test_the_primary_metric_is_the_one_most_runs_are_judged_by_and_estimators_show_their_class(kepler_home):
    journal = Journal()
    record(journal, "net", losses=(0.9, 0.5))
    estimator = journal.start(
        {"project": "digits", "name": "SVC(C=10)", "status": "running", "framework": "sklearn",
         "model_class": "SVC", "estimator": "SVC(C=10)", "epochs": None},
        {"data": {"n_samples": 100, "n_features": 8}},
    )  # fmt: skip
    journal.update(estimator, {"status": "finished", "epochs_done": 0, "fit_seconds": 0.12,
                               "final": {"val_accuracy": 0.93, "cv_score": 0.91}})  # fmt: skip
    journal.update(record(journal, "net 2"), {"final": {"val_accuracy": 0.88, "loss": 0.4}})
    widget = JournalWidget(journal, project="digits")
    assert [c["key"] for c in widget.columns if c["default"]][2] == "val_accuracy", "2 of 3 runs have it"
    svc = next(r for r in widget.rows if r["id"] == estimator)
    assert (svc["cells"]["model"], svc["cells"]["epochs"], svc["cells"]["val_accuracy"]) == ("SVC", "—", "0.93")
    assert "SVC (sklearn)" in svc["titles"]["name"] and svc["titles"]["status"] == "fitted in 0.12 s"
    widget.selected = [estimator]
    facts = dict(widget.details[0]["facts"])
    assert facts["estimator"].startswith("SVC (sklearn") and "optimizer" not in facts


def test_skipped_runs_are_hidden_unless_asked_for(journal):
    journal.update(record(journal, "again"), {"status": "skipped"})
    widget = JournalWidget(journal, project="digits")
    assert "again" not in names(widget) and widget.skipped == 1 and widget.total == 3
    widget.show_skipped = True
    assert names(widget)[0] == "again" and widget.total == 4
    widget.show_skipped = False
    widget.query = "status = skipped"
    assert names(widget) == ["again"], "a filter naming the status shows them"


def test_columns_sort_with_missing_values_last(journal):
    record(journal, "not trained", losses=())
    widget = JournalWidget(journal, project="digits")
    widget.sort, widget.descending = "loss", False
    assert names(widget) == ["<img src=x onerror=alert(1)>", "gamma", "alpha", "not trained"]
    widget.descending = True
    assert names(widget)[:3] == ["alpha", "gamma", "<img src=x onerror=alert(1)>"]
    widget.sort = "name"
    assert names(widget)[0] == "not trained"


def test_the_filter_speaks_the_search_language_and_reports_its_errors(journal):
    widget = JournalWidget(journal, project="digits")
    widget.query = "loss < 0.6"
    assert sorted(names(widget)) == ["<img src=x onerror=alert(1)>", "gamma"]
    widget.query = "loss < 0.6 and ("
    assert "query error" in widget.error and len(widget.rows) == 2, "a half-typed query keeps the last rows"
    widget.query = "gamma"
    assert names(widget) == ["gamma"] and widget.error == ""


def test_pages_of_rows(kepler_home):
    journal = Journal()
    for i in range(PAGE_SIZE + 7):
        journal.start({"project": "grid", "name": f"run {i}", "status": "finished"}, {})
    widget = JournalWidget(journal, project="grid")
    assert widget.total == PAGE_SIZE + 7 and len(widget.rows) == PAGE_SIZE
    assert widget.rows[0]["cells"]["name"] == f"run {PAGE_SIZE + 6}"
    widget.page = 1
    assert [r["cells"]["name"] for r in widget.rows] == [f"run {i}" for i in range(6, -1, -1)]
    widget.page = 9
    assert widget.page == 1, "a page past the end shows the last one"


def test_selecting_runs_shows_their_details_and_compares_their_curves(journal):
    widget = JournalWidget(journal, project="digits")
    ids = [row["id"] for row in widget.rows[:2]]
    widget.selected = ids[:1]
    (detail,) = widget.details
    facts = dict(detail["facts"])
    assert facts["optimizer"] == "Adam (learning rate 0.001)" and facts["data"].startswith("100 samples, 8 features")
    assert detail["findings"] == [
        {"severity": "warning", "text": "K303 warning data-not-normalized: 61 of 64 features <b>not</b> normalised"}
    ]
    assert [c["title"] for c in detail["charts"]] == ["loss"]
    assert widget.comparison == {}
    widget.selected = ids
    assert len(widget.details) == 2
    diff = widget.comparison["diff"]
    assert [run["color"] for run in diff["runs"]] == list(PALETTE[:2]), "each run in its chart colour"
    fields = {row["field"]: row["values"] for row in diff["rows"]}
    assert fields["name"] == [{"text": "gamma", "changed": False}, {"text": "<img src=x onerror=alert(1)>",
                                                                     "changed": True}]  # fmt: skip
    assert "optimizer" not in fields and diff["same"] > 0, "the report's table: what agrees is only counted"
    loss = widget.comparison["charts"][0]
    assert len(loss["lines"]) == 4, "training and validation of both runs"
    assert [item["label"] for item in widget.comparison["legend"]][:2] == [
        f"#{ids[0]} gamma",
        f"#{ids[1]} <img src=x onerror=alert(1)>",
    ]


def test_open_journals_follow_new_runs(journal, capsys):
    widget = open_journal(journal, project="digits")
    assert "Kepler journal — digits" in capsys.readouterr().out, "outside a notebook it is shown as text"
    record(journal, "delta")
    refresh_open_journals()
    assert names(widget)[0] == "delta" and widget.total == 4


def test_export_writes_the_selected_runs_report_or_the_projects(journal, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    widget = JournalWidget(journal, project="digits")
    widget.selected = [1]
    widget.export_requests += 1
    assert widget.notice == "Report written to kepler-1.html" and (tmp_path / "kepler-1.html").is_file()
    assert widget.report == "kepler-1.html", "the notice links to the report, relative to the notebook's folder"
    assert "alpha" in (tmp_path / "kepler-1.html").read_text()
    widget.selected = [1, 2]
    widget.export_requests += 1
    written = widget.notice.removeprefix("Report written to ")
    assert "compare" in written and "&lt;img src=x" in Path(written).read_text()
    widget.selected = []
    widget.export_requests += 1
    assert widget.notice.startswith("Report written to ") and "digits" in widget.notice
    everything = JournalWidget(journal)
    everything.export_requests += 1
    assert everything.notice.startswith("Select runs to export") and everything.report == "", "no link"
