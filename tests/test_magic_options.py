"""%%kepler_fit options that change what Kepler asks, in an in-process IPython shell."""

from __future__ import annotations

import keras
import numpy as np

import kepler


def shell():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()  # the shell is started once per process
    ip.run_line_magic("load_ext", "kepler")
    return ip


def build(learning_rate: float):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    return model


def test_no_similar_silences_the_similar_models_question(kepler_home, capsys):
    ip = shell()
    rng = np.random.default_rng(0)
    ip.user_ns.update(x=rng.normal(size=(64, 4)).astype("float32"), y=rng.integers(0, 2, 64), build=build)
    fit = "build({lr}).fit(x, y, epochs=1, validation_split=0.25, verbose=0)"
    ip.run_cell_magic("kepler_fit", "--project opts", fit.format(lr=1e-3))
    capsys.readouterr()
    ip.run_cell_magic("kepler_fit", "--project opts", fit.format(lr=3e-3))
    asked = capsys.readouterr().out
    assert "1 similar model found" in asked and "Continue training?" in asked
    ip.run_cell_magic("kepler_fit", "--project opts --no-similar", fit.format(lr=5e-3))
    quiet = capsys.readouterr().out
    assert "similar model" not in quiet and "Continue training?" not in quiet
    statuses = [e["status"] for e in kepler.Journal().experiments(project="opts")]
    assert statuses == ["finished"] * 3
