"""%%kepler_fit and %kepler in a real IPython kernel (nbclient), with real TensorFlow."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from conftest import ROOT, cell_text, make_notebook, run_notebook

from kepler_nb.journal.journal import Journal

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext kepler
import numpy as np, keras
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
def build():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
model = build()
"""

NESTED_FIT = (
    '%%kepler_fit --project magic --name "in a function" --tags a,b --hypothesis "fits inside functions are seen"\n'
    """def train(m):
    return m.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
history = train(model)
defined_in_cell = 42"""
)

FAILING_FIT = """%%kepler_fit --project magic --name broken
class Boom(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise ValueError("boom at the end of epoch %d" % epoch)
build().fit(x, y, epochs=3, callbacks=[Boom()], verbose=0)"""

CHANGED_DATA = """%%kepler_fit --project magic --name "one value changed"
x2 = x.copy()
x2[0, 0] += 1.0
build().fit(x2, y, epochs=2, validation_split=0.25, verbose=0)"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One kernel runs the cells of a test notebook; the tests read its outputs and journal."""
    folder = tmp_path_factory.mktemp("magic")
    home = folder / "home"
    path = make_notebook(
        [
            SETUP,
            NESTED_FIT,
            "print('after:', defined_in_cell, len(history.history['loss']))",
            FAILING_FIT,
            "%%kepler_fit\nnot_a_fit = 1",
            CHANGED_DATA,
            "%kepler list --project magic",
            "%kepler show 1",
        ],
        folder / "magic.ipynb",
    )
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].metadata["tags"] = ["raises-exception"]
    nbformat.write(nb, path)
    executed = run_notebook(path, env={"KEPLER_HOME": str(home), "JPY_SESSION_NAME": str(path)})
    return executed, Journal(home)


def test_variables_defined_in_the_cell_stay_defined(executed):
    nb, _ = executed
    assert "after: 42 2" in cell_text(nb.cells[2])


def test_a_fit_inside_a_function_is_recorded_with_the_cells_options(executed):
    _, journal = executed
    record = journal.get(1)
    assert (record["project"], record["name"], record["status"]) == ("magic", "in a function", "finished")
    assert record["tags"] == ["a", "b"]
    assert record["hypothesis"] == "fits inside functions are seen"
    assert [row["type"] for row in record["layers"]] == ["Dense", "Dense"]
    assert [row["units"] for row in record["layers"]] == [16, 2]
    assert record["epochs_done"] == 2 and len(record["history"]["loss"]) == 2
    assert len(record["history"]["val_loss"]) == 2
    assert "def train(m):" in record["cell"]
    assert record["compile"]["optimizer"] == "Adam" and record["compile"]["loss"] == "sparse_categorical_crossentropy"
    assert record["fit"]["validation_split"] == 0.25
    assert record["data"]["n_samples"] == 256 and record["data"]["n_features"] == 8
    assert sum(record["data"]["class_counts"].values()) == 256
    assert record["environment"]["tensorflow"] and record["environment"]["hostname"]


def test_the_snapshot_holds_the_notebook_and_the_kernel_history(executed):
    _, journal = executed
    record = journal.get(1)
    saved_sources = [c["source"] for c in record["notebook"]["cells"]]
    assert any("def build():" in s for s in saved_sources)
    assert record["notebook_path"].endswith("magic.ipynb")
    history_sources = [c["source"] for c in record["inputs"]["cells"]]
    assert any("rng = np.random.default_rng(0)" in s for s in history_sources)


def test_an_exception_reaches_the_user_and_the_record_says_failed(executed):
    nb, journal = executed
    assert "ValueError" in cell_text(nb.cells[3]) and "boom at the end of epoch 0" in cell_text(nb.cells[3])
    failed = [e for e in journal.experiments() if e["name"] == "broken"]
    assert len(failed) == 1 and failed[0]["status"] == "failed"
    assert "ValueError: boom at the end of epoch 0" in failed[0]["error"]


def test_a_cell_without_fit_says_so(executed):
    nb, journal = executed
    assert "no model.fit(...) ran in this cell" in cell_text(nb.cells[4])
    assert len(journal.experiments()) == 3


def test_the_fingerprint_changes_when_one_value_changes(executed):
    _, journal = executed
    by_name = {e["name"]: e for e in journal.experiments()}
    original = by_name["in a function"]["data_fingerprint"]
    changed = by_name["one value changed"]["data_fingerprint"]
    assert original and changed and original != changed


def test_kepler_list_and_show_print_the_journal(executed):
    nb, _ = executed
    listing = cell_text(nb.cells[6])
    assert "in a function" in listing and "broken" in listing and "failed" in listing
    shown = cell_text(nb.cells[7])
    assert "Experiment 1: in a function (magic)" in shown and "Dense(16, relu)" in shown


def test_the_demo_notebook_records_the_digits_run(tmp_path):
    demo = tmp_path / "01_digits.ipynb"
    shutil.copy(ROOT / "demo_notebooks" / "01_digits.ipynb", demo)
    home = tmp_path / "home"
    nb = run_notebook(demo, env={"KEPLER_HOME": str(home)})
    (experiment,) = Journal(home).experiments()
    assert (experiment["project"], experiment["name"], experiment["status"]) == (
        "digits",
        "sigmoid baseline",
        "finished",
    )
    record = Journal(home).get(experiment["id"])
    assert record["architecture"] == "Dense(32, sigmoid) > Dense(10, sigmoid)"
    assert len(record["history"]["loss"]) == 5 and len(record["history"]["val_accuracy"]) == 5
    assert "K201" in experiment["codes"]
    outputs = "".join(cell_text(c) for c in nb.cells if c.cell_type == "code")
    assert "K201 error" in outputs and "sigmoid baseline" in outputs
