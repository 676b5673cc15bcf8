"""The notebook snapshot: the saved file and the kernel history as format-4 notebooks, without nbformat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import nbformat

from kepler_nb.interception.notebook import history_notebook, saved_notebook


def test_the_kernel_history_is_a_valid_notebook():
    nb = history_notebook(["import numpy as np", "x = np.ones(3)\nx.sum()"])
    nbformat.validate(nbformat.from_dict(nb))
    assert [c["source"] for c in nb["cells"]] == ["import numpy as np", "x = np.ones(3)\nx.sum()"]
    assert len({c["id"] for c in nb["cells"]}) == 2


def test_the_saved_notebook_keeps_sources_and_drops_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(1)\nprint(2)", execution_count=3)
    code.outputs = [nbformat.v4.new_output("stream", text="1\n2\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\ntext"), code]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)  # writes multi-line sources as lists of lines
    assert isinstance(json.loads(path.read_text())["cells"][1]["source"], list)
    snapshot = saved_notebook(str(path))
    assert [c["source"] for c in snapshot["cells"]] == ["# Title\ntext", "print(1)\nprint(2)"]
    assert snapshot["cells"][1]["outputs"] == [] and snapshot["cells"][1]["execution_count"] is None
    nbformat.validate(nbformat.from_dict(snapshot))


def test_a_half_saved_notebook_is_reported_not_raised(tmp_path):
    path = tmp_path / "half.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "sou')
    snapshot = saved_notebook(str(path))
    assert snapshot["path"] == str(path) and snapshot["error"].startswith("could not read the notebook")
    path.write_text("[1, 2]")
    assert "not a notebook" in saved_notebook(str(path))["error"]


def test_an_inspected_fit_imports_no_notebook_validator(tmp_path):
    script = textwrap.dedent(
        """
        import sys, numpy as np, keras
        from kepler_nb.interception.inspector import ModelInspector
        from kepler_nb.interception.options import RunOptions
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
        options = RunOptions(user_ns={"In": ["", "import numpy as np", "model.fit(x, x[:, 0])"]})
        inspector = ModelInspector(model, options=options)
        inspector.fit(x, x[:, 0], epochs=1, verbose=0)
        record = inspector.journal.get(inspector.experiment_id)
        assert len(record["inputs"]["cells"]) == 2, record["inputs"]
        print(sorted(m for m in ("nbformat", "jsonschema") if m in sys.modules))
        """
    )
    env = {"KEPLER_HOME": str(tmp_path / "home"), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
