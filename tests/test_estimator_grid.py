"""kepler.grid with estimator factories: every combination a recorded fit, resumed from the journal."""

from __future__ import annotations

import warnings

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import kepler


def test_a_grid_of_estimators_is_scored_on_validation_data_and_resumed(kepler_home):
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, random_state=0)
    built = []

    def build(C, gamma):
        built.append((C, gamma))
        return make_pipeline(StandardScaler(), SVC(C=C, gamma=gamma))

    grid = {"C": [0.01, 10], "gamma": ["scale"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = kepler.grid(build, grid, x_train, y_train, project="g", validation_data=(x_val, y_val), show=str)
        again = kepler.grid(build, grid, x_train, y_train, project="g", validation_data=(x_val, y_val), show=str)
    assert list(first["status"]) == ["trained", "trained"]
    assert first.attrs["best"] == {"C": 10, "gamma": "scale"} and first["val_accuracy"].iloc[0] > 0.95
    assert list(again["status"]) == ["reused", "reused"]
    assert list(again["val_accuracy"]) == list(first["val_accuracy"])
    records = kepler.Journal().experiments("g")
    assert len(records) == 2 and all(r["framework"] == "scikit-learn" for r in records)
    assert {r["final"]["val_accuracy"] for r in records} == set(first["val_accuracy"])
