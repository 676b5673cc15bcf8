"""Kernels for the tests: this Python's ipykernel (7.x) and an ipykernel 6.x beside it.

The ipykernel 6 kernel runs in a virtual environment made over this Python
(``--system-site-packages``: it sees Kepler, TensorFlow and the rest) with
only ipykernel pinned to 6.x from PyPI. It is made once and kept in pytest's
cache folder (``.pytest_cache/d/``); tests that need it skip, saying why,
when it cannot be made (no network, no venv module).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ipykernel
import pytest

IPYKERNEL6 = "6.31.0"
IPYKERNEL6_KERNEL = "kepler-ipykernel6"
CURRENT = f"ipykernel{ipykernel.__version__}"  # this Python's kernel, kernelspec "python3"
OLD = f"ipykernel{IPYKERNEL6}"
KERNELS = {CURRENT: "python3", OLD: IPYKERNEL6_KERNEL}  # the names tests use -> kernelspec names


def write_kernelspec(jupyter_path: Path, name: str, python: str, display: str) -> Path:
    """A kernelspec ``name`` under ``jupyter_path/kernels`` that runs ``python -m ipykernel_launcher``."""
    folder = jupyter_path / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display,
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


def ipykernel6_python(cache: Path) -> tuple[str | None, str]:
    """A Python whose ipykernel is 6.x: ``(path, "")``, or ``(None, why not)``."""
    venv = cache / f"ipykernel-{IPYKERNEL6}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import ipykernel, kepler_nb, jupyter_ui_poll; print(ipykernel.__version__)"]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith("6."):
            return str(python), ""
        shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"ipykernel=={IPYKERNEL6}"],
            check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        done = subprocess.run(probe, capture_output=True, text=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as error:
        detail = (getattr(error, "stderr", "") or "")[-500:]
        return None, f"could not install ipykernel {IPYKERNEL6} into a venv ({error}): {detail}"
    if done.returncode != 0 or not done.stdout.startswith("6."):
        return None, f"the ipykernel {IPYKERNEL6} venv does not work: {done.stdout} {done.stderr[-500:]}"
    return str(python), ""


@pytest.fixture(scope="session")
def kernel_path(request, tmp_path_factory) -> Path:
    """A JUPYTER_PATH folder naming the ipykernel 6 kernel (when it can be made)."""
    folder = tmp_path_factory.mktemp("jupyter-path")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    store = cache.mkdir("kepler-ipykernel6") if cache else Path(tempfile.gettempdir()) / "kepler-ipykernel6"
    python, why = ipykernel6_python(store)
    if python:
        write_kernelspec(folder, IPYKERNEL6_KERNEL, python, f"Python 3 (ipykernel {IPYKERNEL6})")
    request.config.stash[_WHY] = why
    return folder


def require_kernel(request, kernel: str) -> str:
    """The kernelspec name for ``kernel``; skip the test when it could not be made."""
    spec = KERNELS[kernel]
    if spec == IPYKERNEL6_KERNEL:
        why = request.config.stash.get(_WHY, "")
        if why:
            pytest.skip(f"ipykernel {IPYKERNEL6} is not available: {why}")
    return spec


_WHY = pytest.StashKey[str]()
