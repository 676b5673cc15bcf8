"""Before training: the same experiment again, similar models, a model that may already exist.

Real fits on small data through ModelInspector, and the magics in a real kernel.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import cell_text, make_notebook, run_notebook

from kepler_nb import Journal, ModelInspector
from kepler_nb.interception.options import RunOptions
from kepler_nb.presentation.similar import curves_figure, in_words

RNG = np.random.default_rng(3)
X = RNG.normal(size=(160, 6)).astype("float32")
Y = (X[:, 0] - X[:, 2] > 0).astype("int64")
FIT = {"epochs": 2, "batch_size": 32, "validation_split": 0.25, "verbose": 0}


def build(units=8, lr=0.01, activation="relu"):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(units, activation=activation),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def inspect(model, x=X, y=Y, options=None, ask=None, **fit):
    lines: list[str] = []
    inspector = ModelInspector(model, project="dup", options=options, show=lines.append, ask=ask)
    history = inspector.fit(x, y, **{**FIT, **fit})
    return inspector, history, "\n".join(lines)


def test_an_identical_rerun_is_caught_and_skip_returns_the_earlier_history(kepler_home, monkeypatch):
    first, first_history, _ = inspect(build())
    monkeypatch.setenv("KEPLER_ANSWER", "skip")
    model = build()
    weights = [w.copy() for w in model.get_weights()]
    second, history, text = inspect(model)

    assert f"This exact experiment ran just now in project dup (experiment {first.experiment_id}): val_accuracy" in text
    assert "Run it again? -> Skip (reuse its result) (from KEPLER_ANSWER)" in text
    assert isinstance(history, keras.callbacks.History)
    assert history.history == first_history.history and history.epoch == [0, 1]
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))  # never touched
    assert int(model.optimizer.iterations.numpy()) == 0
    record = Journal().get(second.experiment_id)
    assert record["status"] == "skipped" and record["duplicate_of"] == first.experiment_id
    assert record["signature"] == Journal().get(first.experiment_id)["signature"]
    assert record["history"] == {}  # nothing trained, nothing recorded per epoch
    assert Journal().search("duplicate_of = 1 and status = skipped")[0]["id"] == second.experiment_id


def test_with_nobody_to_answer_a_duplicate_is_trained_again(kepler_home):
    inspect(build())
    again, history, text = inspect(build())
    assert "This exact experiment ran" in text and "-> Run again (" in text
    assert len(history.epoch) == 2
    assert Journal().get(again.experiment_id)["status"] == "finished"


def test_one_hyperparameter_changed_is_similar_not_a_duplicate(kepler_home):
    first, _, _ = inspect(build(lr=0.01))
    second, history, text = inspect(build(lr=0.001))
    assert "This exact experiment" not in text and len(history.epoch) == 2
    assert "1 similar model found" in text
    assert second.similar[0]["id"] == first.experiment_id
    assert in_words(second.similar[0])["relation"] == "same model, different hyperparameters"
    assert in_words(second.similar[0])["differences"] == ["learning rate 0.01 (this run: 0.001)"]
    assert "learning rate 0.01 (this run: 0.001)" in text and "%kepler tensorboard 1" in text


def test_one_data_value_changed_is_similar_not_a_duplicate(kepler_home):
    first, _, _ = inspect(build())
    changed = X.copy()
    changed[100, 3] += 0.5
    second, _, text = inspect(build(), x=changed)
    assert "This exact experiment" not in text
    assert second.similar[0]["id"] == first.experiment_id
    assert in_words(second.similar[0])["relation"] == "same model, different data"
    assert in_words(second.similar[0])["differences"] == ["other training data (same size, different content)"]


def test_a_nearby_architecture_is_named_and_cancel_trains_nothing(kepler_home, monkeypatch):
    first, _, _ = inspect(build(units=8))
    monkeypatch.setenv("KEPLER_ANSWER", "skip")
    model = build(units=16)
    second, history, text = inspect(model)
    assert in_words(second.similar[0])["relation"] == "nearby architecture, same data"
    assert in_words(second.similar[0])["differences"] == ["layer 1 Dense: 8 units (this run: 16)"]
    assert "Continue training? -> Cancel (from KEPLER_ANSWER)" in text
    assert history.history == {} and int(model.optimizer.iterations.numpy()) == 0
    record = Journal().get(second.experiment_id)
    assert record["status"] == "skipped" and "similar experiments 1" in record["reason"]


def test_journal_similar_ranks_with_differences(kepler_home):
    inspect(build(lr=0.01))
    inspect(build(units=16))
    inspect(build(lr=0.05, activation="tanh"))
    found = Journal().similar(1, k=5)
    assert [(r["id"], in_words(r)["relation"]) for r in found] == [
        (2, "nearby architecture, same data"),
        (3, "nearby architecture, same data"),
    ]
    assert in_words(found[1])["differences"] == [
        "layer 1 Dense: tanh activation (this run: relu)",
        "learning rate 0.05 (this run: 0.01)",
    ]
    by_model = Journal().similar(build(units=16), k=1)
    assert by_model[0]["id"] == 2 and in_words(by_model[0])["relation"] == "same model"


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_transfer_suggestion_points_at_the_saved_weights(kepler_home):
    first, _, text = inspect(build(units=8), options=RunOptions(save_weights=True))
    path = Journal().get(first.experiment_id)["weights"]
    assert path.endswith("model.weights.h5") and f"saved to {path}" in text
    other_x = RNG.normal(size=(100, 6)).astype("float32")
    other_y = (other_x[:, 1] > 0).astype("int64")
    wide = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    wide.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    _, _, text = inspect(wide, x=other_x, y=other_y)
    assert f"A trained model for this problem may already exist: experiment {first.experiment_id}" in text
    assert "inputs of shape (6) with 2 outputs on other data" in text and f"Its weights: {path}" in text
    restored = build(units=8)
    restored.load_weights(path)
    assert np.allclose(restored.get_weights()[0], first.model.get_weights()[0])


def test_the_curves_of_similar_runs_are_drawn_together():
    runs = [
        ("#1 a", {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}),
        ("#2 b", {"loss": [0.9, 0.4, 0.3]}),
    ]
    fig = curves_figure(runs)
    loss, accuracy = fig.axes
    assert loss.get_title(loc="left") == "loss" and accuracy.get_title(loc="left") == "accuracy"
    assert len(loss.get_lines()) == 3 and len(accuracy.get_lines()) == 1
    assert curves_figure([("#3", {})]) is None


@pytest.mark.kernel
def test_magics_in_a_real_kernel(kepler_home, tmp_path):
    setup = (
        "import numpy as np, keras\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.normal(size=(160, 6)).astype('float32'); y = (x[:, 0] + x[:, 1] > 0).astype('int64')\n"
        "def build(units=8, lr=0.01):\n"
        "    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation='relu'),\n"
        "                          keras.layers.Dense(2, activation='softmax')])\n"
        "    m.compile(keras.optimizers.Adam(lr), 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return m\n"
        "%load_ext kepler"
    )
    fit = "fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)"
    cells = [
        setup,
        f"%%kepler_fit --project dup --save-weights\nmodel = build()\nh1 = model.{fit}",
        "%%kepler_fit --project dup --answer skip\nmodel2 = build()\n"
        f"before = [w.copy() for w in model2.get_weights()]\nh2 = model2.{fit}\n"
        "print('SAME', h2.history == h1.history, 'UNTOUCHED', "
        "all((a == b).all() for a, b in zip(before, model2.get_weights())))",
        f"%%kepler_fit --project dup\nh3 = build().{fit}\nprint('EPOCHS', len(h3.epoch))",
        '%%kepler_fit --project g --grid "units=[4,8] lr=[0.01]"\nbuild(units=units, lr=lr).'
        + fit.replace("epochs=2", "epochs=1"),
        '%%kepler_fit --project g --grid "units=[4,8] lr=[0.01]"\nbuild(units=units, lr=lr).'
        + fit.replace("epochs=2", "epochs=1"),
        '%kepler search project = dup and status = skipped and "model2"',
        "%kepler tensorboard 1 2 --logdir tb",
        "try:\n    get_ipython().run_line_magic('kepler', 'search epochs >')\n"
        "except Exception as error:\n    print('RAISED', type(error).__name__, error)",
    ]
    nb = run_notebook(make_notebook(cells, tmp_path / "dup.ipynb"), timeout=300)
    out = [cell_text(c) for c in nb.cells]
    assert "saved to" in out[1]
    assert "This exact experiment ran" in out[2] and "SAME True UNTOUCHED True" in out[2]
    assert "-> Run again (" in out[3] and "EPOCHS 2" in out[3]
    assert "Kepler grid 2/2: units=8 lr=0.01" in out[4] and "(2 trained)" in out[4]
    assert "Kepler grid: 2 combinations" in out[5] and "(2 reused)" in out[5] and "Kepler grid: best" in out[5]
    assert "skipped" in out[6] and "dup" in out[6]
    assert "curves written to" in out[7] and (tmp_path / "tb" / "1-sequential" / "train").is_dir()
    assert "expected a value after '>'" in out[8] and "RAISED UsageError" in out[8]
    journal = Journal()
    statuses = [e["status"] for e in journal.experiments()]
    assert statuses == ["finished", "skipped", "finished", "finished", "finished"]
    assert journal.get(2)["duplicate_of"] == 1 and "model2" in journal.get(2)["cell"]


def test_a_person_can_see_the_curves_before_deciding(kepler_home):
    from kepler_nb.presentation.questions import Answer

    inspect(build(units=8))
    asked = []

    def person(question):  # clicks "show", then "continue"
        asked.append(question)
        return Answer("show" if len(asked) == 1 else "continue", "clicked", "click")

    second, history, text = inspect(build(units=16), ask=person)
    first_question, second_question = asked
    assert first_question.text == "1 similar model found. Continue training?"
    assert first_question.extra_choices == {"show": "Show their curves"}
    assert second_question.extra_choices == {}
    row = first_question.details[0]
    assert (row[0], row[2], row[3]) == (
        "1",
        "nearby architecture, same data",
        "layer 1 Dense: 8 units (this run: 16)",
    )
    assert "curves of experiment 1 " in text
    assert len(history.epoch) == 2
