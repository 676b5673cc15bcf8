"""The one question before a fit: errors and earlier runs merged, asked once per cell.

Real fits on small data through ModelInspector with scripted answers (the
``ask=`` port), and a looping cell in a real kernel through nbclient.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import cell_text, make_notebook, run_notebook

from kepler_nb import Journal, ModelInspector
from kepler_nb.interception.options import RunOptions
from kepler_nb.presentation.questions import Answer

RNG = np.random.default_rng(5)
X = RNG.normal(size=(128, 6)).astype("float32")
Y = (X[:, 0] > 0).astype("int64")
FIT = {"epochs": 2, "batch_size": 32, "validation_split": 0.25, "verbose": 0}


def build(units=8, output="softmax"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2, activation=output)]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Person:
    """Scripted answers, in order; every question asked is kept."""

    def __init__(self, *choices: str) -> None:
        self.choices = list(choices)
        self.asked = []

    def __call__(self, question):
        self.asked.append(question)
        return Answer(self.choices.pop(0) if self.choices else question.default, "clicked", "click")


def inspect(model, ask=None, options=None):
    lines: list[str] = []
    inspector = ModelInspector(model, project="one", options=options, show=lines.append, ask=ask)
    history = inspector.fit(X, Y, **FIT)
    return inspector, history, "\n".join(lines)


def test_errors_and_a_duplicate_are_one_question_and_reuse_returns_the_earlier_history(kepler_home):
    first, first_history, _ = inspect(build(output="sigmoid"), ask=Person("continue"))
    person = Person("skip")
    model = build(output="sigmoid")
    second, history, text = inspect(model, ask=person)

    (question,) = person.asked  # one question, not "errors?" and then "duplicate?"
    assert question.text.startswith("1 check failed with errors (K201) · This exact experiment ran just now")
    accuracy = first_history.history["val_accuracy"][-1]
    assert question.text.endswith(f"(experiment {first.experiment_id}): val_accuracy {accuracy:.4g}. Train anyway?")
    assert question.kind == "error" and question.wait == 300
    assert (question.continue_label, question.skip_label) == ("Train anyway", "Skip (reuse its result)")
    assert history.history == first_history.history and int(model.optimizer.iterations.numpy()) == 0
    record = Journal().get(second.experiment_id)
    assert record["status"] == "skipped" and record["duplicate_of"] == first.experiment_id
    assert "Run it again?" not in text


def test_errors_and_similar_models_are_one_question_with_their_curves_on_offer(kepler_home):
    inspect(build(units=8, output="sigmoid"), ask=Person("continue"))
    person = Person("show", "continue")
    _, history, text = inspect(build(units=16, output="sigmoid"), ask=person)

    first, again = person.asked  # "show their curves", then the same question without it
    assert first.text == "1 check failed with errors (K201) · 1 similar model found. Train anyway?"
    assert first.extra_choices == {"show": "Show their curves"} and again.extra_choices == {}
    assert (first.continue_label, first.skip_label, first.kind) == ("Train anyway", "Stop", "error")
    assert first.details[0][3] == "layer 1 Dense: 8 units (this run: 16)"
    assert "curves of experiment 1 " in text and len(history.epoch) == 2


def test_stop_on_the_merged_similar_question_records_why(kepler_home, monkeypatch):
    inspect(build(units=8, output="sigmoid"), ask=Person("continue"))
    monkeypatch.setenv("KEPLER_ANSWER", "skip")
    second, history, text = inspect(build(units=16, output="sigmoid"))
    assert (
        "1 check failed with errors (K201) · 1 similar model found. Train anyway? -> Stop (from KEPLER_ANSWER)" in text
    )
    assert history.history == {}
    reason = Journal().get(second.experiment_id)["reason"]
    assert reason == "stopped before training: 1 check failed with errors (K201); similar experiments 1"


def test_a_duplicate_without_errors_still_asks_to_run_again(kepler_home):
    inspect(build())
    person = Person("continue")
    _, history, _ = inspect(build(), ask=person)
    (question,) = person.asked
    assert question.text.endswith("Run it again?") and question.kind == "info" and question.wait == 60
    assert len(history.epoch) == 2


def test_a_cell_fitting_in_a_loop_asks_about_similar_models_once(kepler_home):
    inspect(build(units=4))  # an earlier cell
    cell = RunOptions()  # what one %%kepler_fit cell shares between the fits it makes
    person = Person("continue")
    texts = []
    for units in (8, 12, 16, 20, 24):
        options = RunOptions(answers=cell.answers)
        inspector, history, text = inspect(build(units=units), ask=person, options=options)
        assert len(history.epoch) == 2
        texts.append(text)

    (question,) = person.asked
    assert question.text == "1 similar model found. Continue training?" and question.wait == 30
    for text in texts[1:]:
        assert "Continue training? -> Continue (as answered for an earlier fit of this cell)" in text
        assert "%kepler tensorboard" not in text  # one line per later fit, not the table again
    assert [e["status"] for e in Journal().experiments(project="one")] == ["finished"] * 6


def test_a_loops_cancel_holds_for_the_rest_of_the_cell(kepler_home):
    inspect(build(units=4))
    cell = RunOptions()
    person = Person("skip")
    for units in (8, 12, 16):
        inspect(build(units=units), ask=person, options=RunOptions(answers=cell.answers))
    assert len(person.asked) == 1
    assert [e["status"] for e in Journal().experiments(project="one")] == ["finished"] + ["skipped"] * 3


def test_similar_runs_the_cell_itself_recorded_are_no_reason_to_ask(kepler_home):
    cell = RunOptions()
    person = Person()
    for units in (8, 12, 16):
        inspector, _, _ = inspect(build(units=units), ask=person, options=RunOptions(answers=cell.answers))
    assert person.asked == []
    assert [m["id"] for m in inspector.similar], "the live view still draws the cell's earlier runs"


@pytest.mark.kernel
def test_a_looping_cell_in_a_real_kernel_asks_once(kepler_home, tmp_path):
    setup = (
        "%load_ext kepler\n"
        "import numpy as np, keras\n"
        "x = np.random.default_rng(0).normal(size=(128, 6)).astype('float32'); y = (x[:, 0] > 0).astype('int64')\n"
        "def build(units):\n"
        "    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation='relu'),\n"
        "                          keras.layers.Dense(2, activation='softmax')])\n"
        "    m.compile('adam', 'sparse_categorical_crossentropy')\n"
        "    return m"
    )
    fit = "build(units).fit(x, y, epochs=1, validation_split=0.25, verbose=0)"
    cells = [
        setup,
        f"%%kepler_fit --project loop\nunits = 4\n{fit}",
        f"%%kepler_fit --project loop\nfor units in (8, 12, 16, 20, 24):\n    {fit}",
    ]
    nb = run_notebook(make_notebook(cells, tmp_path / "loop.ipynb"), timeout=300)
    text = cell_text(nb.cells[2])
    answered = [line for line in text.splitlines() if "Continue training? ->" in line]
    assert len(answered) == 5
    assert "(the default: this headless run allows no input" in answered[0]
    assert all("(as answered for an earlier fit of this cell)" in line for line in answered[1:])
