"""Where a run came from: the cell, the kernel's input history, the saved notebook.

The order of trust follows what each source can get wrong: the cell body the
magic received is the truth for the cell; the kernel history (``In``) holds
every cell executed so far, even unsaved ones; the saved ``.ipynb`` (found
through ``__session__`` in JupyterLab or ``__vsc_ipynb_file__`` in VS Code)
can be older than both, since autosave runs every two minutes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def notebook_path(user_ns: dict[str, Any]) -> str | None:
    """The notebook file this kernel runs, when the front end told us."""
    for key in ("__vsc_ipynb_file__", "__session__"):
        value = user_ns.get(key)
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    value = os.environ.get("JPY_SESSION_NAME", "")
    return value if value.endswith(".ipynb") else None


def saved_notebook(path: str | None) -> dict[str, Any] | None:
    """The saved notebook's cells (sources only: outputs are large and re-derivable)."""
    if not path or not Path(path).is_file():
        return None
    import nbformat  # 0.7 s to import (jsonschema): only when a notebook is read

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - a half-saved file must not break a fit
        return {"path": path, "error": f"could not read the notebook: {error}"}
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.from_dict(nb)  # plain dict-like, JSON-able


def kernel_history(user_ns: dict[str, Any]) -> list[str]:
    """Every cell this kernel has executed, in order (IPython's ``In``)."""
    inputs = user_ns.get("In")
    return [s for s in inputs if s] if isinstance(inputs, list) else []


def history_notebook(inputs: list[str]) -> dict[str, Any]:
    """The kernel history as an nbformat notebook, for reading back in Jupyter."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in inputs]
    return nb
