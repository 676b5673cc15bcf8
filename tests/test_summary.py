"""The per-fit summary and the line that ends every run: what a person reads, in plain Python.

Kernel-level tests (HTML in a notebook, the saved text, loops) are in test_output_kernel.py.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from kepler_nb import Journal, ModelInspector
from kepler_nb.checks.finding import Finding
from kepler_nb.journal.similarity import lookup
from kepler_nb.presentation import summary as summary_module
from kepler_nb.presentation.similar import in_words, show_curves, transfer_text
from kepler_nb.presentation.summary import FitSummary, SummaryOutput, end_line, epochs_done
from kepler_nb.presentation.text import finding_counts, format_record, format_table, number

RNG = np.random.default_rng(5)
X = RNG.normal(size=(128, 6)).astype("float32")
Y = (X[:, 0] > 0).astype("int64")

ERROR = Finding("K201", "activation-loss-mismatch", "error", "model", "sigmoid with <b>categorical</b>", "Use softmax.")
INFO = Finding("K501", "random-seeds-not-set", "info", "setup", "no random seed is set", "Call set_random_seed.")


@pytest.fixture(autouse=True)
def fresh_summaries():
    summary_module.reset_shown()
    yield
    summary_module.reset_shown()


def build(units=8):
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(0.001), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def inspect(model, **fit):
    lines: list[str] = []
    inspector = ModelInspector(model, project="out", show=lines.append)
    inspector.fit(X, Y, **{"epochs": 2, "validation_split": 0.25, "verbose": 0, **fit})
    return inspector, lines


def test_an_error_looks_different_from_an_info_and_user_text_is_escaped():
    html = FitSummary(findings=[ERROR, INFO]).html()
    error_item, info_item = html.split("<li")[1:3]
    assert 'class="kepler-sev-error kepler-error"' in error_item and ">error<" in error_item
    assert 'class="kepler-sev-info"' in info_item and ">info<" in info_item
    assert ".kepler-summary .kepler-sev-error{--kepler-sev:var(--jp-error-color1," in html, "JupyterLab's colours"
    assert "&lt;b&gt;categorical&lt;/b&gt;" in html and "<b>categorical</b>" not in html
    assert "<details><summary>" in html and "Use softmax." in html.split("</summary>", 1)[1]
    skipped = FitSummary(skipped=["K502"], notes=["`%kepler tensorboard 1` writes their curves"]).html()
    assert "<code>%kepler findings</code>" in skipped and "<code>%kepler tensorboard 1</code>" in skipped
    assert "`" not in skipped, "backticks are for the text form, not shown in the HTML"


def test_the_text_form_counts_findings_once_spelt_and_names_repeats_in_one_line():
    first = FitSummary(findings=[ERROR, INFO], skipped=["K502"])
    assert first.text().splitlines()[0] == (
        "Kepler: 1 error, 1 info before training; 1 check skipped (K502; `%kepler findings` says why)"
    )
    assert "    -> Use softmax." in first.text()
    first.mark_shown()
    again = FitSummary(findings=[ERROR, INFO]).text().splitlines()
    assert again[1:] == ["  again (shown in full above): K201 activation-loss-mismatch, K501 random-seeds-not-set"]


def test_outside_a_kernel_each_part_is_printed_once_as_it_comes():
    shown: list[str] = []
    summary = FitSummary(findings=[INFO])
    output = SummaryOutput(summary, shown.append)
    output.publish()
    summary.notes.append("A note about earlier runs.")
    output.publish()
    output.close()
    assert shown == [INFO.line() + "\n    -> Call set_random_seed.", "Kepler: A note about earlier runs."]


def test_numbers_and_counts_are_spelt_one_way():
    assert number(float(np.float32(0.001))) == "0.001" and number(12) == "12" and number(None) == ""
    assert finding_counts({"error": 2, "warning": 1, "info": 0}) == "2 errors, 1 warning"
    assert format_table([{"id": 1, "findings": {"error": 1, "info": 3}}]).splitlines()[1].endswith("1 error, 3 infos")
    assert end_line(12, "finished", epochs_done(30, 30), 3.24, {"val_accuracy": 0.95812, "loss": 0.1}) == (
        "Kepler: experiment 12 finished: 30/30 epochs in 3.2 s; val_accuracy 0.9581"
    )


def test_a_run_in_plain_python_ends_with_one_line_saying_what_was_recorded(kepler_home):
    inspector, lines = inspect(build())
    ends = [line for line in lines if "finished:" in line]
    assert ends == [lines[-1]], lines
    assert lines[-1].startswith(f"Kepler: experiment {inspector.experiment_id} finished: 2/2 epochs in ")
    assert "; val_accuracy " in lines[-1]


def test_a_model_fitted_again_is_named_as_continuing_its_earlier_run(kepler_home):
    model = build()
    first, _ = inspect(model)
    steps = int(model.optimizer.iterations.numpy())
    second, lines = inspect(model)
    text = "\n".join(lines)
    assert (
        f"continues training experiment {first.experiment_id}'s model: its optimizer has already taken {steps}" in text
    )
    similar = [in_words(m) for m in Journal().similar(second.experiment_id)]
    assert (
        f"a fresh model (this run continues training one: its optimizer has already taken {steps} steps)"
        in (similar[0]["differences"])
    ), similar
    assert all("other compile or fit settings" not in d for m in similar for d in m["differences"])


def test_show_records_the_conclusion_and_numbers_at_four_digits(kepler_home):
    inspector, _ = inspect(build())
    journal = Journal()
    journal.note(inspector.experiment_id, "8 units are enough")
    page = format_record(journal.get(inspector.experiment_id))
    assert "  conclusion: 8 units are enough" in page
    assert "(lr 0.001)" in page and "0.0010000000474974513" not in page


def test_a_dataset_is_never_none_samples_nor_none_outputs(kepler_home):
    import tensorflow as tf

    lines: list[str] = []
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(32)
    inspector = ModelInspector(build(), project="out", show=lines.append)
    inspector.fit(dataset, epochs=1, verbose=0)
    page = format_record(Journal().get(inspector.experiment_id))
    assert "None" not in page.split("data:", 1)[1].splitlines()[0]
    assert "None output" not in transfer_text({"id": 1, "name": "n", "input_shape": [6], "n_classes": None})


def test_the_transfer_hint_skips_runs_on_the_same_data_and_runs_with_errors():
    def run(id_, fingerprint, data, errors=0):
        return {
            "id": id_,
            "status": "finished",
            "arch_signature": f"a{id_}",
            "arch": [["Dense", id_, "relu", "d"]],
            "data_signature": data,
            "data_fingerprint": fingerprint,
            "input_shape": [6],
            "n_classes": 2,
            "findings": {"error": errors},
            "final": {"val_accuracy": 0.5 + id_ / 10},
        }

    target = {**run(0, "train-x", "x+val-a"), "arch_signature": "mine", "arch": [["Conv2D", 1, "relu", "c"]]}
    same_training_data = run(4, "train-x", "x+val-b")  # another validation set only
    with_errors = run(3, "train-y", "y", errors=1)
    good = run(1, "train-z", "z")
    assert lookup([same_training_data, with_errors, good], target).transfer["id"] == 1
    assert lookup([same_training_data, with_errors], target).transfer is None


def test_in_a_terminal_the_curves_are_text_and_a_saved_picture(kepler_home):
    inspector, _ = inspect(build())
    shown: list[str] = []
    journal = Journal()
    show_curves(journal, [journal.experiments()[0]], show=shown.append)
    (text,) = shown
    assert "<IPython.core.display.Image" not in text
    path = text.split("the picture: ", 1)[1].split(")", 1)[0]
    assert path.endswith(".png") and Path(path).read_bytes()[:4] == b"\x89PNG"
    assert "val_accuracy" in text and any(ch in text for ch in "▁▂▃▄▅▆▇█")


def test_the_headless_demo_lists_the_errors_and_warnings_each_run_caught(kepler_home):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("demo_headless", ROOT / "scripts" / "demo_headless.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="sigmoid")])
    model.compile("adam", "categorical_crossentropy")
    inspector = ModelInspector(model, project="out", show=lambda _: None)
    inspector.fit(X * 50, keras.utils.to_categorical(Y), epochs=1, verbose=0)
    caught = [f.code for f in demo.caught(Journal(), inspector.experiment_id)]
    assert "K201" in caught and "K303" in caught
    assert all(f.severity != "info" for f in demo.caught(Journal(), inspector.experiment_id))
