"""How many questions a day's notebook asks: a cell fitting 20 similar variants, then that cell again.

Runs the notebook headless in a real kernel (nbclient): every question takes
its default at once and prints its answer line, so each "? -> ... (the
default" line is a question a person at JupyterLab would have answered. A
later fit of the same cell taking the cell's earlier answer says "as
answered for an earlier fit of this cell": no question. Also counts the lines
Kepler printed. Usage: ``python benchmarks/questions.py`` (KEPLER_HOME is a
fresh temporary folder).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import cell_text, make_notebook, run_notebook

SETUP = """
%load_ext kepler
import numpy as np, keras
x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
def build(units):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
"""
LOOP = """%%kepler_fit --project twenty
for units in range(4, 24):
    build(units).fit(x, y, epochs=2, validation_split=0.25, verbose=0)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = make_notebook([SETUP, LOOP, LOOP], Path(folder) / "twenty.ipynb")
        nb = run_notebook(path, timeout=900, env={"KEPLER_HOME": str(Path(folder) / "home"), "KEPLER_ANSWER": ""})
    for name, cell in (("20 variants", nb.cells[1]), ("the same cell again", nb.cells[2])):
        lines = cell_text(cell).splitlines()
        asked = [line for line in lines if "? -> " in line and "(the default" in line]
        kepler = [line for line in lines if line.strip() and "Warning" not in line]
        print(f"{name}: {len(asked)} questions; {len(kepler)} lines printed")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
