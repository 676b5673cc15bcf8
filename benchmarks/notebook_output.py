"""How much a notebook shows: the lines Kepler prints for a cell that fits 20 similar models.

    python benchmarks/notebook_output.py            # prints the counts and the cell's text
    python benchmarks/notebook_output.py --quiet    # the counts only

A headless kernel (nbclient, ``KEPLER_ANSWER=continue``) runs a first fit,
then one cell that fits 20 small variants of it in a loop (16-35 units, 3
epochs, unscaled digits: each run has a finding and similar runs). Counted:
the text lines of that cell's output (streams and text/plain, as a saved
notebook keeps them), and among them the lines that say what was recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

SETUP = """
%load_ext kepler
import keras
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
x = x.astype("float32")
def build(units):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""
FIRST = "%%kepler_fit --project bench\nbuild(16).fit(x, y, epochs=3, validation_split=0.2)"
LOOP = """%%kepler_fit --project bench
for units in range(16, 36):
    build(units).fit(x, y, epochs=3, validation_split=0.2)"""


def text_lines(cell, stream: str = "stdout") -> list[str]:
    """The cell's text lines: ``stream`` (Kepler prints to stdout; Python warnings go to stderr) and displays."""
    lines: list[str] = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            lines += out.get("text", "").splitlines() if out.get("name") == stream else []
        elif "data" in out and stream == "stdout":
            lines += out["data"].get("text/plain", "").splitlines()
        elif out.get("output_type") == "error" and stream == "stdout":
            lines += out.get("traceback", [])
    return [line for line in lines if line.strip()]


def measure() -> tuple[list[str], list[str]]:
    with tempfile.TemporaryDirectory() as home:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, FIRST, LOOP)]
        env = dict(os.environ, KEPLER_HOME=home, KEPLER_ANSWER="continue", TF_CPP_MIN_LOG_LEVEL="3")
        old = dict(os.environ)
        os.environ.update(env)
        try:
            NotebookClient(nb, timeout=900, kernel_name="python3").execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        return text_lines(nb.cells[2]), text_lines(nb.cells[2], "stderr")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    lines, stderr = measure()
    recorded = [line for line in lines if " finished: " in line]
    if not args.quiet:
        print("\n".join(lines))
        print("-" * 40)
    print(
        f"20 fits in one cell: Kepler prints {len(lines)} lines, {len(recorded)} of them say what was recorded "
        f"(and {len(stderr)} lines of Python warnings on stderr)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
