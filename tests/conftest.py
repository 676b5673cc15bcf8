"""Shared fixtures: an isolated journal, quiet TensorFlow, notebooks run by a real kernel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def kepler_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty KEPLER_HOME for this test (and the kernels it starts)."""
    home = tmp_path / "kepler-home"
    monkeypatch.setenv("KEPLER_HOME", str(home))
    monkeypatch.delenv("KEPLER_ANSWER", raising=False)
    return home


@pytest.fixture
def artifacts() -> Path:
    """Where tests leave screenshots and reports for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def run_notebook(path: Path, cwd: Path | None = None, timeout: int = 300, env: dict | None = None):
    """Execute a notebook with a real ipykernel through nbclient; return the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def cell_text(cell) -> str:
    """All the text a code cell printed (stdout, stderr, results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "".join(parts)


def make_notebook(cells: list[str], path: Path) -> Path:
    """Write a notebook of code cells (with a kernelspec, as JupyterLab needs)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


sys.path.insert(0, str(Path(__file__).parent))
