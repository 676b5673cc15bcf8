"""Kernels for the tests: this Python's ipykernel (7.x) and an ipykernel 6.x beside it.

The ipykernel 6 kernel runs in a virtual environment beside this Python's,
with only ipykernel pinned to 6.x from PyPI. A ``.pth`` file in it adds this
Python's own site-packages (``site.addsitedir``, so their ``.pth`` files,
editable installs included, apply too) after its own: it sees Kepler,
TensorFlow and the rest, whether this Python is a virtual environment
(``.venv``, whose packages ``--system-site-packages`` would not reach) or
not. It is made once and kept in pytest's cache folder (``.pytest_cache/d/``).

When it cannot be made (no network, no venv module), the tests that need it
fail, saying why: a run that silently tested one ipykernel would look green.
Set ``KEPLER_TEST_ALLOW_NO_IPYKERNEL6=1`` to skip them instead.
"""

from __future__ import annotations

import json
import os
import shutil
import site
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
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True, timeout=120
        )
        link_site_packages(python)
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


def link_site_packages(python: Path) -> Path:
    """Make the venv of ``python`` see this Python's packages after its own (a ``.pth`` file)."""
    where = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    ours = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
    pth = Path(where) / "zz-kepler-parent-site-packages.pth"  # after the venv's own .pth files
    pth.write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours), encoding="utf-8")
    return pth


ALLOW_MISSING_ENV = "KEPLER_TEST_ALLOW_NO_IPYKERNEL6"


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
        if why and os.environ.get(ALLOW_MISSING_ENV, "") not in ("", "0"):
            pytest.skip(f"ipykernel {IPYKERNEL6} is not available ({ALLOW_MISSING_ENV} is set): {why}")
        if why:
            pytest.fail(
                f"ipykernel {IPYKERNEL6} is not available: {why}. Set {ALLOW_MISSING_ENV}=1 to skip these tests.",
                pytrace=False,
            )
    return spec


_WHY = pytest.StashKey[str]()
