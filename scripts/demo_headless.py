"""Execute the demo notebooks with a real kernel; say what each run found and where it was recorded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from kepler_nb.checks.finding import Finding
from kepler_nb.journal.journal import Journal
from kepler_nb.presentation.text import finding_counts, terminal_safe

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
        counts = finding_counts(e.get("findings") or {})
        print(terminal_safe(f"Recorded experiment {e['id']} ({e['project']} / {e['name']}): {e['status']}"))
        print(f"  {counts or 'no findings'}")
        for finding in caught(journal, e["id"]):
            print(terminal_safe(f"    {finding.line()}"))
    print(f"Journal: {journal.path}  (see them with `kepler list`, `kepler show ID`)")
    return 0 if new else 1


def caught(journal: Journal, experiment_id: int) -> list[Finding]:
    """The errors and warnings a run's checks found (infos and skipped checks are in `kepler show ID`)."""
    findings = [Finding.from_dict(f) for f in journal.get(experiment_id).get("findings") or []]
    return [f for f in findings if not f.skipped and f.severity in ("error", "warning")]


if __name__ == "__main__":
    sys.exit(main())
