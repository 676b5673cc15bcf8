"""Execute the demo notebooks with a real kernel and say where their runs were recorded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from kepler_nb.journal.journal import Journal

DEMOS = Path(__file__).resolve().parents[1] / "demo_notebooks"


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernel inherits it: no TensorFlow start-up chatter
    journal = Journal()
    before = {e["id"] for e in journal.experiments()}
    for path in sorted(DEMOS.glob("*.ipynb")):
        print(f"Running {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(DEMOS)}}).execute()
    new = [e for e in journal.experiments() if e["id"] not in before]
    for e in new:
        print(f"Recorded experiment {e['id']} ({e['project']} / {e['name']}): {e['status']}")
    print(f"Journal: {journal.path}  (see them with `kepler list`, `kepler show ID`)")
    return 0 if new else 1


if __name__ == "__main__":
    sys.exit(main())
