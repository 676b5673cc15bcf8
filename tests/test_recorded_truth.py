"""What Kepler records and what the cell prints are true, in a real kernel.

A training check that could not judge after the first epochs but did later
is not recorded as skipped; Python's once-only warnings (Keras' "shuffle is
ignored") show once per kernel with Kepler as without it.
"""

from __future__ import annotations

import pytest
from conftest import cell_text, make_notebook, run_notebook

from kepler_nb.journal.journal import Journal

pytestmark = pytest.mark.kernel

SETUP = """
import numpy as np, keras, tensorflow as tf
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256, seed=0).batch(32)
def build():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
"""
SHUFFLE = "`shuffle=True` was passed, but will be ignored"


def shuffled_fit(kepler: bool, epochs: int = 2, name: str = "") -> str:
    magic = f"%%kepler_fit --project truth --name {name} --answer continue\n" if kepler else ""
    return f"{magic}build().fit(data, epochs={epochs}, shuffle=True, verbose=0)\nprint('fitted')"


def run(cells, tmp_path, kepler_home):
    nb = run_notebook(make_notebook(cells, tmp_path / "truth.ipynb"), timeout=300)
    return [cell_text(c) for c in nb.cells]


def test_once_only_warnings_show_once_with_kepler_as_without(kepler_home, tmp_path):
    without = run([SETUP, shuffled_fit(False), shuffled_fit(False), shuffled_fit(False)], tmp_path, kepler_home)
    assert [SHUFFLE in text for text in without[1:]] == [True, False, False]  # the control: Python shows it once

    cells = [SETUP + "%load_ext kepler", shuffled_fit(False), shuffled_fit(True, name="a"), shuffled_fit(False)]
    cells += [shuffled_fit(True, name="b"), shuffled_fit(False)]
    with_kepler = run(cells, tmp_path, kepler_home)
    assert all("fitted" in text for text in with_kepler[1:])
    assert [SHUFFLE in text for text in with_kepler[1:]] == [True, False, False, False, False]
    assert not any("Warning" in text for text in with_kepler[2:]), "Kepler's own probes warn nothing"


def test_a_training_check_that_judged_later_is_not_recorded_as_skipped(kepler_home, tmp_path):
    cells = [SETUP + "%load_ext kepler", shuffled_fit(True, epochs=2, name="two"), shuffled_fit(True, 30, "thirty")]
    run(cells, tmp_path, kepler_home)
    journal = Journal()
    (two,) = journal.search({"name": "two"})
    (thirty,) = journal.search({"name": "thirty"})

    def too_few_epochs(run):
        findings = journal.get(run["id"])["findings"]
        return {f["code"] for f in findings if f.get("skipped") and "epochs, has" in f["message"]}

    assert "K403" in too_few_epochs(two), "the control: after 2 epochs the loss trend can't be judged"
    assert thirty["epochs_done"] == 30 and too_few_epochs(thirty) == set()


SKLEARN = """
from sklearn.linear_model import LogisticRegression
features = rng.normal(size=(256, 5)) * [1, 10, 100, 1000, 1]
"""
UNCONVERGED = "LogisticRegression(max_iter=2).fit(features, y)\nprint('fitted')"
CONVERGENCE = "ConvergenceWarning"


def test_an_estimator_fit_under_kepler_warns_as_without_it_and_still_sees_convergence(kepler_home, tmp_path):
    def cells(kepler: bool) -> list[str]:
        magic = "%%kepler_fit --project truth --name lr --answer continue\n" if kepler else ""
        return [SETUP + SKLEARN + "%load_ext kepler", shuffled_fit(False), UNCONVERGED, magic + UNCONVERGED]

    def warned(texts: list[str]) -> list[tuple[bool, bool]]:
        return [(SHUFFLE in text, CONVERGENCE in text) for text in texts[1:]]

    plain = cells(False) + [shuffled_fit(False), UNCONVERGED, shuffled_fit(False)]
    with_kepler = cells(True) + [shuffled_fit(False), UNCONVERGED, shuffled_fit(False)]
    without = warned(run(plain, tmp_path, kepler_home))
    assert without[0] == (True, False) and without[1][1], "the control: both warnings show where Python shows them"
    assert warned(run(with_kepler, tmp_path, kepler_home)) == without
    (lr,) = Journal().search({"name": "lr"})
    assert "K703" in {f["code"] for f in Journal().get(lr["id"])["findings"]}, "the fit's warning was still seen"
