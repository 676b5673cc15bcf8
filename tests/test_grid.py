"""kepler.grid: every combination through the inspector, resumable across processes, a table of results."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import kepler
from kepler_nb.interception.grid import GridSpecError, combinations, parse_grid
from kepler_nb.journal.journal import Journal

FIT = {"epochs": 2, "validation_split": 0.25, "verbose": 0}
rng = np.random.default_rng(0)
X = rng.normal(size=(160, 6)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")


def build(units=8, lr=0.01):
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def finished(journal: Journal) -> list[dict]:
    return [e for e in journal.experiments() if e["status"] == "finished"]


def test_grid_trains_every_combination_and_ranks_them(kepler_home):
    lines: list[str] = []
    table = kepler.grid(build, {"units": [4, 8], "lr": [0.01, 0.05]}, X, Y, project="g", show=lines.append, **FIT)
    assert len(table) == 4 and set(table["status"]) == {"trained"}
    assert set(map(tuple, table[["units", "lr"]].values.tolist())) == {(4, 0.01), (4, 0.05), (8, 0.01), (8, 0.05)}
    scores = table["val_accuracy"].tolist()
    assert scores == sorted(scores, reverse=True)
    best = table.iloc[0]
    assert table.attrs["metric"] == "val_accuracy"
    assert table.attrs["best"] == {"units": int(best["units"]), "lr": float(best["lr"])}
    assert table.attrs["best_experiment"] == int(best["experiment"])
    assert [line for line in lines if line.startswith("Kepler grid 4/4: units=8 lr=0.05")]
    assert any("left)" in line for line in lines)  # time left, once one combination has been timed
    assert any(line.startswith("Kepler grid: best units=") for line in lines)
    records = finished(Journal())
    assert len(records) == 4
    assert {(r["grid_params"]["units"], r["grid_params"]["lr"]) for r in records} == {
        (4, 0.01),
        (4, 0.05),
        (8, 0.01),
        (8, 0.05),
    }
    assert len({r["grid"] for r in records}) == 1


@pytest.mark.slow
def test_an_interrupted_grid_resumes_in_another_process(kepler_home, tmp_path):
    script = tmp_path / "first_half.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            sys.path.insert(0, TESTS)
            import kepler
            from test_grid import X, Y, build

            calls = []

            def build_until_interrupted(units=8, lr=0.01):
                calls.append(units)
                if len(calls) == 3:
                    raise KeyboardInterrupt  # the person stops the grid during the third combination
                return build(units, lr)

            kepler.grid(build_until_interrupted, {"units": [4, 8], "lr": [0.01, 0.05]}, X, Y, project="g",
                        epochs=2, validation_split=0.25, verbose=0)
            """
        ).replace("TESTS", repr(str(Path(__file__).parent)))
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert len(finished(Journal())) == 2

    table = kepler.grid(build, {"units": [4, 8], "lr": [0.01, 0.05]}, X, Y, project="g", show=lambda _: None, **FIT)
    assert sorted(table["status"]) == ["reused", "reused", "trained", "trained"]
    assert len(finished(Journal())) == 4  # only the missing two were trained
    again = kepler.grid(build, "units=[4,8] lr=[0.01,0.05]", X, Y, project="g", show=lambda _: None, **FIT)
    assert set(again["status"]) == {"reused"} and len(finished(Journal())) == 4
    assert sorted(again["experiment"]) == sorted(table["experiment"])


def test_random_search_draws_from_the_grid_with_its_own_random_state(kepler_home):
    grid_values = {"units": [4, 8, 16], "lr": [0.01, 0.05]}
    python_state, numpy_state = random.getstate(), np.random.get_state()
    drawn = combinations(grid_values, 2, seed=1)
    assert random.getstate() == python_state  # the draw uses a random.Random of its own
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert drawn == combinations(grid_values, 2, seed=1) and len(drawn) == 2
    assert all(d in combinations(grid_values) for d in drawn)
    assert len(combinations(grid_values, 10)) == 6  # a budget over the grid's size takes it all
    table = kepler.grid(build, grid_values, X, Y, n_random=2, seed=1, show=lambda _: None, **FIT)
    ran = [{"units": int(u), "lr": float(lr)} for u, lr in table[["units", "lr"]].values.tolist()]
    assert sorted(ran, key=str) == sorted(drawn, key=str)


def test_fit_parameters_in_the_grid_go_to_fit(kepler_home):
    table = kepler.grid(
        build, {"batch_size": [16, 64]}, X, Y, show=lambda _: None, epochs=1, validation_split=0.25, verbose=0
    )
    assert len(table) == 2
    assert sorted(r["batch_size"] for r in finished(Journal())) == [16, 64]
    with pytest.raises(TypeError, match="grid parameter 'width' is neither an argument of build"):
        kepler.grid(build, {"width": [4]}, X, Y, **FIT)
    assert len(Journal().experiments()) == 2  # nothing trained for the bad grid


def test_a_failing_combination_is_reported_and_the_grid_goes_on(kepler_home):
    def fragile(units=8):
        if units == 0:
            raise ValueError("units must be positive")
        return build(units)

    lines: list[str] = []
    table = kepler.grid(fragile, {"units": [0, 4]}, X, Y, show=lines.append, **FIT)
    assert dict(zip(table["units"], table["status"])) == {4: "trained", 0: "failed"}
    assert table.iloc[0]["units"] == 4  # the failed one sorts last
    assert "ValueError: units must be positive" in table.loc[table["units"] == 0, "error"].item()
    assert any("failed (ValueError: units must be positive); going on" in line for line in lines)


def test_parse_grid():
    assert parse_grid("lr=[1e-2,1e-3] units=[32, 64] act=relu") == {
        "lr": [0.01, 0.001],
        "units": [32, 64],
        "act": ["relu"],
    }
    assert parse_grid("layers=[(32,), (64, 32)] dropout=0.5") == {"layers": [(32,), (64, 32)], "dropout": [0.5]}
    for bad, message in [
        ("", "give at least one"),
        ("lr", "expected NAME=\\[values\\]"),
        ("lr=[1e-2, 1e-3", "is not closed"),
        ("lr=[]", "lr has no values"),
        ("2x=[1]", "expected NAME"),
    ]:
        with pytest.raises(GridSpecError, match=message):
            parse_grid(bad)


def test_unknown_metric_keeps_grid_order(kepler_home):
    lines: list[str] = []
    table = kepler.grid(build, {"units": [4]}, X, Y, metric="auc", show=lines.append, **FIT)
    assert table.attrs["best"] is None
    assert any("no run reported 'auc'" in line for line in lines)
