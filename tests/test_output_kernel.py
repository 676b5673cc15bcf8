"""What a notebook shows for each fit, in a real kernel (nbclient): one summary, one closing line, said once."""

from __future__ import annotations

import nbformat
import pytest
from conftest import cell_text, make_notebook, run_notebook

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext kepler
import numpy as np, keras
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = (rng.normal(size=(240, 8)) * 40 + 100).astype("float32")
y = (x[:, 0] > 100).astype("int64")
def build(units=8):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""
FIRST = "%%kepler_fit --project out\nmodel = build()\nhistory = model.fit(x, y, epochs=2, validation_split=0.25)"
AGAIN = "%%kepler_fit --project out\nmodel.fit(x, y, epochs=2, validation_split=0.25, verbose=0)"
LOOP = (
    "%%kepler_fit --project out\nfor units in (9, 10, 11):\n    build(units).fit(x, y, epochs=2, validation_split=0.25)"
)
ESTIMATOR = """%%kepler_fit --project out
from sklearn.linear_model import LogisticRegression
clf = LogisticRegression(max_iter=500).fit(x[:180] / 100, y[:180])
print("score", round(clf.score(x[180:] / 100, y[180:]), 2))"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("output")
    cells = [SETUP, FIRST, AGAIN, LOOP, "%kepler show 99", '%kepler search "project = out"', ESTIMATOR]
    path = make_notebook(cells, folder / "output.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells[4].metadata["tags"] = ["raises-exception"]  # a UsageError
    nbformat.write(nb, path)
    return run_notebook(path, env={"KEPLER_HOME": str(folder / "home"), "KEPLER_ANSWER": "continue"})


def text_of(cell) -> str:
    """The cell's text, each output on lines of its own (a display's text has no newline at its end)."""
    return "\n".join(cell_text({"outputs": [output]}).rstrip("\n") for output in cell.outputs)


def summaries(cell) -> list[dict]:
    return [o["data"] for o in cell.outputs if "kepler-summary" in o.get("data", {}).get("text/html", "")]


def test_each_fit_has_one_summary_in_html_with_a_plain_text_form(executed):
    (summary,) = summaries(executed.cells[1])
    html, text = summary["text/html"], summary["text/plain"]
    assert "K303" in html and 'class="kepler-summary-badge"' in html and "<details>" in html
    assert text.startswith("Kepler: ") and "warning" in text.splitlines()[0] and "K303 warning" in text
    assert "<" not in text, "the text form is for terminals and the saved notebook's text"


def test_nothing_is_said_twice_and_the_run_ends_with_one_line(executed):
    lines = text_of(executed.cells[1]).splitlines()
    finding_lines = [line.strip() for line in lines if line.strip()[:1] == "K" and line.strip()[1:4].isdigit()]
    assert finding_lines and len(finding_lines) == len(set(finding_lines)), lines
    ends = [line for line in lines if line.startswith("Kepler: experiment")]
    assert len(ends) == 1 and ends[0].startswith("Kepler: experiment 1 finished: 2/2 epochs in "), lines
    assert lines[-1] == ends[0] and "; val_accuracy " in ends[0]


def test_a_model_fitted_again_says_whose_training_it_continues(executed):
    text = text_of(executed.cells[2])
    steps = 2 * 6  # 2 epochs of 180 training rows in batches of 32
    assert f"continues training experiment 1's model: its optimizer has already taken {steps} steps" in text
    differs = " ".join(table_column(text, "what differs", "best").split())  # its cells wrap within the column
    assert f"this run continues training one: its optimizer has already taken {steps} steps" in differs
    assert "other compile or fit settings" not in text
    assert "Kepler: experiment 2 finished: 2/2 epochs in " in text


def table_column(text: str, name: str, next_name: str) -> str:
    """The text of one column of the similar-models table, every wrapped line of its cells."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if name in line and next_name in line)
    start, end = lines[head].index(name), lines[head].index(next_name)
    rows = []
    for line in lines[head + 1 :]:
        if not line.startswith("  "):  # the table's lines are indented; Kepler's next line is not
            break
        rows.append(line[start:end])
    return " ".join(rows)


def test_a_loop_names_repeated_findings_in_one_line_and_ends_each_run(executed):
    cell = executed.cells[3]
    lines = text_of(cell).splitlines()
    ends = [line for line in lines if line.startswith("Kepler: experiment")]
    assert [e.split(" finished")[0] for e in ends] == [f"Kepler: experiment {i}" for i in (3, 4, 5)], lines
    assert len(summaries(cell)) == 3
    assert sum("again (shown in full above): " in line and "K303" in line for line in lines) == 3
    assert not any("-> Scale to [0, 1]" in line for line in lines), "K303's fix was shown in the first cell"


def test_line_magic_errors_print_once_in_kepler_words(executed):
    text = text_of(executed.cells[4])
    assert text.count("No experiment with id '99'") == 1, text
    assert text.startswith("UsageError: %kepler: No experiment") and "`%kepler list` shows the ids" in text
    assert "see the message above" not in text


def test_a_quoted_search_searches(executed):
    text = text_of(executed.cells[5])
    assert "No experiment matches" not in text and len([line for line in text.splitlines() if " out " in line]) == 5


def test_an_estimator_ends_with_its_line_after_the_cells_score(executed):
    lines = text_of(executed.cells[6]).splitlines()
    ends = [line for line in lines if line.startswith("Kepler: experiment")]
    assert len(ends) == 1 and lines[-1] == ends[0], lines
    assert ends[0].startswith("Kepler: experiment 6 finished: LogisticRegression fitted in ")
    assert any(line.startswith("score ") for line in lines), lines
    score = next(line for line in lines if line.startswith("score ")).split()[1]
    assert f"; val_accuracy {float(score):.4g}"[:18] in ends[0]
