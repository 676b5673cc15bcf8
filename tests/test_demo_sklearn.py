"""The scikit-learn demo notebook, executed headless by a real kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import cell_text, run_notebook

from kepler_nb.journal.journal import Journal

ROOT = Path(__file__).resolve().parents[1]


def test_the_sklearn_demo_records_the_baseline_the_leak_the_search_and_the_network(tmp_path):
    demo = tmp_path / "02_sklearn.ipynb"
    shutil.copy(ROOT / "demo_notebooks" / "02_sklearn.ipynb", demo)
    home = tmp_path / "home"
    nb = run_notebook(demo, env={"KEPLER_HOME": str(home)})
    journal = Journal(home)
    runs = {e["name"]: e for e in journal.experiments("digits")}
    assert set(runs) == {"logistic baseline", "scaled before the split", "SVC search", "digits network"}
    assert all(e["status"] == "finished" for e in runs.values())
    assert "K704" in runs["scaled before the split"]["codes"]
    assert "K704" not in runs["logistic baseline"]["codes"] and "K701" not in runs["logistic baseline"]["codes"]
    search = journal.get(runs["SVC search"]["id"])
    assert len(search["cv_results"]) == 8 and search["final"]["val_accuracy"] > 0.95
    assert runs["digits network"]["model_class"] == "Sequential" and runs["SVC search"]["framework"] == "scikit-learn"
    outputs = [cell_text(c) for c in nb.cells if c.cell_type == "code"]
    assert any("K704 error" in text for text in outputs)
    report = (tmp_path / "sklearn-vs-network.html").read_text()
    assert "val_accuracy" in report and "SVC search" in report and "digits network" in report
    row = report[report.index(">val_accuracy<") :].split("</tr>")[0]
    network = journal.get(runs["digits network"]["id"])["history"]["val_accuracy"][-1]
    assert f"{search['final']['val_accuracy']:.4g}" in row and f"{network:.4g}" in row  # side by side
