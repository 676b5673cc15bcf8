"""The environment a fit runs in: versions, devices, host, working directory, git state.

The versions and devices are read once per process (``static_environment``);
the git state is read per fit, on a background thread, so its ``git`` calls
overlap the checks.

``git`` is run by its full path (``shutil.which``): given a bare name,
``subprocess`` searches the PATH through ``os.get_exec_path``, which enters
``warnings.catch_warnings()``, and that resets every module's once-only
warning registry in the process (the user's "shuffle is ignored" would show
again after each fit).
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

_background: ThreadPoolExecutor | None = None


def describe_environment_soon() -> Future:
    """``describe_environment()`` on a background thread, so its git calls overlap the checks."""
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kepler-environment")
    return _background.submit(describe_environment)


def describe_environment() -> dict[str, Any]:
    """Versions, devices, host, working directory and git state."""
    env = dict(static_environment())
    env["cwd"] = os.getcwd()
    env.update(_git_state(env["cwd"]))
    return env


@functools.lru_cache(maxsize=1)
def kepler_version() -> str:
    """The installed Kepler's version, from its package metadata ("unknown" in a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kepler-nb")
    except PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def static_environment() -> dict[str, Any]:
    """Versions and devices: read once per process, no git call."""
    import keras
    import tensorflow as tf

    devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "devices": devices,
        "gpu": any(":GPU" in d for d in devices),
        "executable": sys.executable,
    }


def _git_state(cwd: str) -> dict[str, Any]:
    executable = shutil.which("git")
    if executable is None:
        return {"git_commit": None}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None}
    return {"git_commit": commit, "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
