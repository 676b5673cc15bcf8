"""Where a run came from: the cell, the kernel's input history, the saved notebook.

The order of trust follows what each source can get wrong: the cell body the
magic received is the truth for the cell; the kernel history (``In``) holds
every cell executed so far, even unsaved ones; the saved ``.ipynb`` (found
through ``__session__`` in JupyterLab or ``__vsc_ipynb_file__`` in VS Code)
can be older than both, since autosave runs every two minutes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

NBFORMAT, NBFORMAT_MINOR = 4, 5


def notebook_path(user_ns: dict[str, Any]) -> str | None:
    """The notebook file this kernel runs, when the front end told us."""
    for key in ("__vsc_ipynb_file__", "__session__"):
        value = user_ns.get(key)
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    value = os.environ.get("JPY_SESSION_NAME", "")
    return value if value.endswith(".ipynb") else None


def saved_notebook(path: str | None) -> dict[str, Any] | None:
    """The saved notebook's cells (sources only: outputs are large and re-derivable).

    Read as plain JSON: nbformat's reader validates against its schema, and
    importing the validator (jsonschema and its format grammars) costs
    seconds, which the first fit of a kernel would wait for.
    """
    if not path or not Path(path).is_file():
        return None
    try:
        with open(path, encoding="utf-8") as file:
            nb = json.load(file)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells in it (not a notebook of format 4)")
        cells = [_source_only(cell) for cell in nb["cells"] if isinstance(cell, dict)]
    except (OSError, ValueError) as error:  # a half-saved file must not break a fit
        return {"path": path, "error": f"could not read the notebook: {error}"}
    return {
        "nbformat": nb.get("nbformat", NBFORMAT),
        "nbformat_minor": nb.get("nbformat_minor", NBFORMAT_MINOR),
        "metadata": nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {},
        "cells": cells,
    }


def kernel_history(user_ns: dict[str, Any]) -> list[str]:
    """Every cell this kernel has executed, in order (IPython's ``In``)."""
    inputs = user_ns.get("In")
    return [s for s in inputs if s] if isinstance(inputs, list) else []


def history_notebook(inputs: list[str]) -> dict[str, Any]:
    """The kernel history as a notebook (format 4.5, valid for nbformat), for reading back in Jupyter."""
    cells = [
        {"id": f"in-{i}", "cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
        for i, source in enumerate(inputs, start=1)
    ]
    return {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR, "metadata": {}, "cells": cells}


def _source_only(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell as nbformat reads it (its source one string), without outputs."""
    cell = dict(cell)
    if isinstance(cell.get("source"), list):
        cell["source"] = "".join(str(line) for line in cell["source"])
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    return cell
