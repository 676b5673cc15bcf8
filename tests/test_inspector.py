"""ModelInspector in plain Python: every kind of data is trained on and recorded."""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import kepler
from kepler import Journal, KeplerWarning, ModelInspector
from kepler_nb.interception.inspector import RunOptions

N, FEATURES = 96, 6


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y


def build(inputs=None):
    keras.utils.set_random_seed(0)
    if inputs == "list of inputs":
        a, b = keras.Input((3,)), keras.Input((3,))
        h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
        model = keras.Model([a, b], keras.layers.Dense(2, activation="softmax")(h))
    elif inputs is None:
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
    else:
        a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
        h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
        model = keras.Model({"a": a, "b": b}, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch=32):
        super().__init__()
        self.x, self.y, self.batch = x, y, batch

    def __len__(self):
        return len(self.x) // self.batch

    def __getitem__(self, i):
        s = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[s], self.y[s]


def fit_inputs(kind, x, y):
    """``fit`` arguments for one kind of data, and the number of samples the record should show."""
    if kind == "numpy":
        return dict(x=x, y=y), N
    if kind == "list of inputs":
        return dict(x=[x[:, :3], x[:, 3:]], y=y), N
    if kind == "pandas":
        return dict(x=pd.DataFrame(x), y=pd.Series(y)), N
    if kind == "dict":
        return dict(x={"a": x[:, :3], "b": x[:, 3:]}, y=y), N
    if kind == "dataset":
        return dict(x=tf.data.Dataset.from_tensor_slices((x, y)).shuffle(N).batch(32)), N  # read from its source
    if kind == "pydataset":
        return dict(x=Batches(x, y)), None
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["numpy", "list of inputs", "pandas", "dict", "dataset", "pydataset"])
def test_every_kind_of_data_is_trained_and_recorded(kind, data, kepler_home):
    x, y = data
    arguments, n_samples = fit_inputs(kind, x, y)
    model = build(inputs=kind if kind in ("dict", "list of inputs") else None)
    with ModelInspector(model=model, project="kinds", name=kind) as mi:
        history = mi.fit(**arguments, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    record = Journal().get(mi.experiment_id)
    assert record["status"] == "finished" and record["epochs_done"] == 2
    assert record["history"]["loss"] == pytest.approx(history.history["loss"])
    assert record["data"]["kind"] in ("arrays", "dataset", "pydataset")
    assert record["data"]["n_samples"] == n_samples
    assert record["data"]["fingerprint"]
    if kind == "dict":
        assert set(record["data"]["inputs"]) == {"a", "b"}
    if kind == "list of inputs":
        assert set(record["data"]["inputs"]) == {"x0", "x1"}


def test_data_keras_rejects_fails_as_it_would_and_is_recorded_failed(data, kepler_home):
    x, y = data
    with pytest.raises(ValueError) as plain:
        build().fit(x.tolist(), y.tolist(), epochs=1, verbose=0)
    with pytest.raises(ValueError) as inspected, ModelInspector(model=build(), name="nested lists") as mi:
        mi.fit(x.tolist(), y.tolist(), epochs=1, verbose=0)
    assert str(inspected.value)[:40] == str(plain.value)[:40]
    (record,) = Journal().experiments()
    assert record["status"] == "failed" and "Unrecognized data type" in record["error"]


def test_a_generator_is_sampled_but_fit_still_sees_every_item(data, kepler_home):
    x, y = data
    served = []

    def batches():
        for i in range(0, N, 16):
            served.append(i)
            yield x[i : i + 16], y[i : i + 16]

    model = build()
    seen = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    with ModelInspector(model=model, project="kinds", name="generator") as mi:
        mi.fit(batches(), epochs=1, steps_per_epoch=N // 16, callbacks=[Count()], verbose=0)
    assert len(seen) == N // 16 and len(served) == N // 16
    record = Journal().get(mi.experiment_id)
    assert record["data"]["kind"] == "generator" and record["data"]["complete"] is False


def test_the_users_callbacks_list_is_not_changed(data, kepler_home):
    x, y = data
    callbacks = [keras.callbacks.History()]
    with ModelInspector(model=build()) as mi:
        mi.fit(x, y, epochs=1, callbacks=callbacks, verbose=0)
    assert len(callbacks) == 1


def test_check_returns_findings_and_emits_kepler_warnings(data):
    x, y = data
    model = build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        findings = kepler.check(model, x, y, epochs=1)
    codes = [f.code for f in findings if not f.skipped]
    assert "K104" in codes  # no validation data
    emitted = [w.message for w in caught if issubclass(w.category, KeplerWarning)]
    assert sorted(w.code for w in emitted) == sorted(f.code for f in findings if not f.skipped)


def test_warning_filters_silence_the_findings(data, kepler_home, capsys):
    x, y = data
    shown = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeplerWarning)
        with ModelInspector(model=build(), show=shown.append) as mi:
            mi.fit(x, y, epochs=1, verbose=0)
    assert not [s for s in shown if s.startswith("K104")]
    assert any(f.code == "K104" for f in mi.findings)  # still recorded


def test_an_empty_fit_argument_list_is_a_clear_error():
    with pytest.raises(ValueError, match="needs the model"):
        ModelInspector().fit([1], [1])


def test_an_unwritable_journal_never_stops_the_training(data, tmp_path, monkeypatch):
    x, y = data
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("KEPLER_HOME", str(not_a_folder))
    shown = []
    with ModelInspector(model=build(), show=shown.append) as mi:
        history = mi.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert mi.experiment_id is None
    assert any("can't be recorded" in s and "KEPLER_HOME" in s for s in shown)


# -- nothing Kepler does while recording raises into the fit ------------------------------------------
UNSAFE = ("\x1b", "\x07", "\r", "\x00", "\x9b", "\u202e", "\u2066")


def test_lone_surrogates_in_what_the_user_wrote_are_recorded_not_raised(data, kepler_home, monkeypatch):
    x, y = data
    odd = "caf\udce9 \ud800"
    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    options = RunOptions(tags=[odd], hypothesis=odd, cell=f"model.fit(x, y)  # {odd}")
    shown = []
    with ModelInspector(model=build(), project=odd, name=odd, options=options, show=shown.append) as mi:
        history = mi.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    record = Journal().get(mi.experiment_id)
    escaped = "caf\\udce9 \\ud800"
    assert (record["name"], record["project"], record["tags"], record["hypothesis"]) == (
        escaped,
        escaped,
        [escaped],
        escaped,
    )
    assert escaped in record["cell"]
    assert record["status"] == "finished"


def test_a_working_folder_whose_name_is_not_utf8_is_recorded(data, kepler_home, tmp_path, monkeypatch):
    x, y = data
    folder = os.path.join(os.fsencode(tmp_path), b"donn\xe9es")
    os.mkdir(folder)
    monkeypatch.chdir(folder)
    shown = []
    with ModelInspector(model=build(), show=shown.append) as mi:
        history = mi.fit(x, y, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    record = Journal().get(mi.experiment_id)
    assert record["environment"]["cwd"].endswith("donn\\udce9es")
    assert not [s for s in shown if "can't be recorded" in s]


def test_a_damaged_epoch_file_of_an_earlier_matching_run_does_not_break_the_next_fit(data, kepler_home, monkeypatch):
    x, y = data
    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    with ModelInspector(model=build(), show=lambda *a: None) as first:
        first.fit(x, y, epochs=2, verbose=0)
    epochs = kepler_home / "runs" / f"{first.experiment_id}.epochs.jsonl"
    with open(epochs, "a") as f:
        f.write('{"epoch": 2, "logs": [0.5]}\n"a string"\n[1, 2]\n{"epoch": 3, "logs": {"loss": "low"}}\n')
    shown = []
    with ModelInspector(model=build(), show=shown.append) as second:
        history = second.fit(x, y, epochs=2, verbose=0)  # the same run: the duplicate path reads those epochs
    assert len(history.history["loss"]) == 2
    assert second.experiment_id not in (None, first.experiment_id)
    assert any(f"experiment {first.experiment_id}" in s or "same" in s for s in shown)


def test_a_failure_in_kepler_before_training_trains_unrecorded_with_one_line(data, kepler_home):
    x, y = data
    kepler_home.mkdir(parents=True, exist_ok=True)
    (kepler_home / "config.toml").write_text("[checks\nignore = K1")  # not TOML
    shown = []
    with ModelInspector(model=build(), show=shown.append) as mi:
        history = mi.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert mi.experiment_id is None
    [line] = [s for s in shown if "can't be recorded" in s]
    assert "config.toml" in line and "trains unrecorded" in line


def test_messages_during_a_fit_show_control_characters_as_escapes(data, kepler_home, monkeypatch):
    x, y = data
    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    hostile = "run\x1b]0;owned\x07\x1b[2J\rspoof\x00\x9b\u202eevil\u2066"
    with ModelInspector(model=build(), project=hostile, name=hostile, show=lambda *a: None) as first:
        first.fit(x, y, epochs=1, verbose=0)
    shown = []
    with ModelInspector(model=build(), name="again", show=shown.append) as mi:
        mi.fit(x, y, epochs=1, verbose=0)  # says which earlier run it repeats, and in which project
    text = "\n".join(shown)
    assert "\\x1b]0;owned\\x07" in text and "\\u202e" in text  # the name is there, escaped
    assert not [c for c in UNSAFE if c in text]
